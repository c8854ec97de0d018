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
from spark_streams.metadata import APPLIED

SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "sparkapplication-v1beta2.schema.json").read_text()
)
# Built once: jsonschema.validate() checks the (large) schema itself on every call.
CRD = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


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
        CRD.validate(app)
        spec = app["spec"]
        assert isinstance(spec["restartPolicy"], dict)
        assert isinstance(spec["driver"]["cores"], int)
        assert isinstance(spec["executor"]["cores"], int)
        conf = spec["sparkConf"]
        assert conf["spark.sql.streaming.checkpointLocation"].startswith("s3a://")
        assert conf["spark.eventLog.dir"].startswith("s3a://")
        assert "fs.s3a.aws.credentials.provider" in spec["hadoopConf"]


def undeclared(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the CRD does not declare: the API server would drop them without a word."""
    if isinstance(value, list):
        items = schema.get("items", {})
        return [f for i, v in enumerate(value) for f in undeclared(v, items, f"{path}[{i}]")]
    if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    properties = schema.get("properties")
    found: list[str] = []
    for key, item in value.items():
        if properties is not None and key in properties:
            found += undeclared(item, properties[key], f"{path}.{key}")
        elif isinstance(schema.get("additionalProperties"), dict):
            found += undeclared(item, schema["additionalProperties"], f"{path}.{key}")
        elif properties is not None:
            found.append(f"{path}.{key}")
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_spark_applications_use_only_fields_the_crd_declares(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for app in apps(render(stack, capsys)):
        assert undeclared(app, SCHEMA) == []
        app["spec"]["driver"]["memoryy"] = "1g"
        assert undeclared(app, SCHEMA) == [".spec.driver.memoryy"]


def test_the_schema_check_catches_the_old_string_restart_policy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = apps(render("dev", capsys))[0]
    app["spec"]["restartPolicy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        CRD.validate(app)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_node_selector_is_never_at_both_levels(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The operator's validating webhook (2.5) refuses the application otherwise.
    assert main(["render", "--stack", stack]) == 0
    for app in yaml.safe_load_all(capsys.readouterr().out):
        if app and app["kind"] == "SparkApplication":
            spec = app["spec"]
            at_role = [r for r in ("driver", "executor") if spec[r].get("nodeSelector")]
            assert not (spec.get("nodeSelector") and at_role), app["metadata"]["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_is_applied_as_one_field_manager_with_force(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without the manager pulumi-kubernetes applies each object as a random one kept in the
    # state only: the next `up` after a deploy cut off during a create conflicts with itself.
    # Without force a field edited by hand conflicts with the apply that would put it back.
    objects = [d for d in yaml.safe_load_all(render(stack, capsys)) if d]
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "ServiceAccount", "Role", "NetworkPolicy", "SparkApplication"} <= kinds
    for obj in objects:
        annotations = obj["metadata"].get("annotations", {})
        assert APPLIED.items() <= annotations.items(), (obj["kind"], obj["metadata"]["name"])
