"""The rendered manifests: snapshots per stack, and valid against the operator's own CRD schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from spark_streams.cli import main

SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "sparkapplication-v1beta2.schema.json").read_text()
)


def render(stack: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["render", "--stack", stack]) == 0
    return capsys.readouterr().out


def apps(manifests: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifests) if d and d["kind"] == "SparkApplication"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rendered_manifests_match_the_snapshot(
    stack: str, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    assert render(stack, capsys) == snapshot


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_spark_applications_are_valid_v1beta2(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = apps(render(stack, capsys))
    assert rendered
    for app in rendered:
        jsonschema.validate(app, SCHEMA)
        spec = app["spec"]
        assert isinstance(spec["restartPolicy"], dict)
        assert isinstance(spec["driver"]["cores"], int)
        assert isinstance(spec["executor"]["cores"], int)
        conf = spec["sparkConf"]
        assert conf["spark.sql.streaming.checkpointLocation"].startswith("s3a://")
        assert conf["spark.eventLog.dir"].startswith("s3a://")
        assert "fs.s3a.aws.credentials.provider" in spec["hadoopConf"]


def test_the_schema_check_catches_the_old_string_restart_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = apps(render("dev", capsys))[0]
    app["spec"]["restartPolicy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(app, SCHEMA)
