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


def test_ci_jobs_that_reach_the_cluster_have_the_aws_cli() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    # the kubeconfig runs `aws eks get-token`, and the Pulumi image ships no aws
    assert any("awscli==" in line for line in pipeline[".aws-oidc"]["before_script"])
    assert pipeline["preview"]["extends"] == ".aws-oidc"
    assert pipeline[".deploy"]["extends"] == ".aws-oidc"


@pytest.mark.parametrize(("preview_exit", "job_exit"), [(3, 3), (0, 1)])
def test_a_failed_preview_still_updates_the_note_then_fails_the_job(
    preview_exit: int, job_exit: int, tmp_path: Path
) -> None:
    # GitLab runs the lines in one bash with errexit and pipefail; pulumi, uv, git are stubs here.
    # The preview fails, and so does reading the secrets (as when the backend is unreachable).
    # The job still posts its note, then fails with the preview's status.
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls"
    (stubs / "pulumi").write_text(
        f'#!/bin/sh\necho "pulumi $*" >> {calls}\n'
        f'case "$1" in preview) echo "error: policy violation"; exit {preview_exit};; '
        'config) echo "error: cannot decrypt" >&2; exit 255;; esac\n'
    )
    for tool in ("uv", "git"):
        (stubs / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
    # the stream diff fails too (an invalid stream file)
    (stubs / "uv").write_text(
        f'#!/bin/sh\necho "uv $*" >> {calls}\n'
        'case "$*" in *" diff "*) echo "1 problem: streams/x.py" >&2; exit 1;; esac\n'
    )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    script = yaml.safe_load(GITLAB.read_text())["preview"]["script"]
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(script)],
        cwd=tmp_path,
        env={
            "PATH": f"{stubs}:/usr/bin:/bin",
            "STACK": "dev",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": "HEAD",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == job_exit  # the preview's failure first, else the diff's
    assert "policy violation" in (tmp_path / "preview-dev.txt").read_text()
    assert "uv run --frozen spark-streams mr-note --stack dev" in calls.read_text()
    assert "1 problem: streams/x.py" in (tmp_path / "diff-dev.json").read_text()


def test_github_previews_never_borrow_another_stacks_role() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    preview = workflow["jobs"]["preview"]
    roles = {m["stack"]: m["role"] for m in preview["strategy"]["matrix"]["include"]}
    assert roles == {"dev": "AWS_PREVIEW_ROLE_ARN_DEV", "prod": "AWS_PREVIEW_ROLE_ARN_PROD"}
    (credentials,) = [
        s for s in preview["steps"] if "configure-aws-credentials" in s.get("uses", "")
    ]
    assert credentials["with"]["role-to-assume"] == "${{ vars[matrix.role] }}"
