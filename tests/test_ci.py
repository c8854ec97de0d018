"""The CI definitions validate against their published schemas (vendored by check-jsonschema)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

GITLAB = PROJECT / ".gitlab-ci.yml"
GITHUB = PROJECT / ".github" / "workflows" / "spark-streams.yml"


@pytest.mark.parametrize(
    ("schema", "path"), [("vendor.gitlab-ci", GITLAB), ("vendor.github-workflows", GITHUB)]
)
def test_ci_definitions_match_their_schema(schema: str, path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text("test:\n  script: 42\n  when: sometimes\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.gitlab-ci",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1


def test_gitlab_pipeline_shape() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert "make test" in pipeline["test"]["script"]
    preview = pipeline["preview"]
    assert {m["STACK"] for m in preview["parallel"]["matrix"]} == {"dev", "prod"}
    assert any("mr-note" in line for line in preview["script"])
    assert pipeline[".aws-oidc"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    dev, prod = pipeline["deploy-dev"], pipeline["deploy-prod"]
    assert dev["resource_group"] != prod["resource_group"]
    assert prod["rules"][0]["when"] == "manual" and prod["environment"]["name"] == "prod"
    assert "when" not in dev["rules"][0]
    image = pipeline["default"]["image"]
    assert ":" in image and not image.endswith(":latest")
