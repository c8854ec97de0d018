"""How the e2e scenarios read a merge request's preview and note (tests/e2e/ci_jobs.py): the
text of `pulumi preview --diff` as the twin's CLI prints it, and the note's stream sections; and
the environment they give a GitHub workflow's step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.ci_jobs import note_streams, preview_steps, preview_streams, step_env

PROJECT = Path(__file__).resolve().parent.parent
STACK = "urn:pulumi:dev::spark-streams::pulumi:pulumi:Stack::spark-streams-dev"
STREAM = "urn:pulumi:dev::spark-streams::spark-streams:streaming:Stream"
APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
BINDING = (
    "urn:pulumi:dev::spark-streams::spark-streams:kubernetes:StreamingNamespace"
    "$kubernetes:core/v1:Namespace$kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
    "::streaming-driver"
)
# Shaped as the twin's CLI (3.274.1) prints a stream added and one changed.
PREVIEW = f"""Previewing update (dev):
  pulumi:pulumi:Stack: (same)
    [urn={STACK}]
    + spark-streams:streaming:Stream: (create)
        [urn={STREAM}::inventory-ingest]
        + aws:iam/role:Role: (create)
            [urn={STREAM}$aws:iam/role:Role::inventory-ingest-role]
            assumeRolePolicy   : "{{}}"
    ~ kubernetes:rbac.authorization.k8s.io/v1:RoleBinding: (update)
        [id=spark-streams/spark-driver]
        [urn={BINDING}]
      ~ subjects: [
          + [3]: {{}}
        ]
        + {APP}: (create)
            [urn={STREAM}${APP}::inventory-ingest-app]
    ~ {APP}: (update)
        [id=spark-streams/orders-ingest]
        [urn={STREAM}${APP}::orders-ingest-app]
        [provider=urn:pulumi:dev::spark-streams::pulumi:providers:kubernetes::k8s]
    ~ spec: {{
        ~ arguments: [
            ~ [9]: "1 minute" => "2 minutes"
          ]
      }}
Resources:
    + 3 to create
    ~ 2 to update
"""


def test_the_preview_steps_are_read_per_resource() -> None:
    assert preview_steps(PREVIEW) == {
        f"{STREAM}::inventory-ingest": "create",
        f"{STREAM}$aws:iam/role:Role::inventory-ingest-role": "create",
        BINDING: "update",
        f"{STREAM}${APP}::inventory-ingest-app": "create",
        f"{STREAM}${APP}::orders-ingest-app": "update",
    }


def test_a_stream_is_added_when_its_component_is_created_and_changed_by_its_resources() -> None:
    steps = preview_steps(PREVIEW)
    parents = {urn: f"{STREAM}::inventory-ingest" for urn in steps if "inventory" in urn}
    parents[f"{STREAM}${APP}::orders-ingest-app"] = f"{STREAM}::orders-ingest"
    parents[f"{STREAM}::inventory-ingest"] = STACK
    assert preview_streams(steps, parents) == {
        "inventory-ingest": "added",
        "orders-ingest": "changed",
    }


def test_the_notes_stream_sections_are_read_as_a_reviewer_reads_them() -> None:
    example = (PROJECT / "docs" / "mr-note-example.md").read_text()
    assert note_streams(example) == {
        "inventory-ingest": "added",
        "orders-ingest": "changed",
        "clicks-raw": "changed",
        "payments-audit": "removed",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_github_step_gets_the_env_its_workflow_declares_without_secrets(
    stack: str, tmp_path: Path
) -> None:
    deploy = step_env(f"deploy-{stack}", "Deploy", stack, tmp_path)
    drift = step_env("drift", "check", stack, tmp_path)
    for env in (deploy, drift):
        assert env["STACK"] == stack  # the deploy step's literal, the drift job's matrix
        assert env["UV_VERSION"]  # the workflow's own env
        assert "PULUMI_ACCESS_TOKEN" not in env  # a secret: not on the twin
        assert env["GITHUB_STEP_SUMMARY"] == str(tmp_path / "step-summary.md")
        assert not any("${{" in value for value in env.values())
