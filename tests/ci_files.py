"""The two CI definitions, read as their runners read them: a GitLab job with what it `extends`
merged in, a GitHub Actions step by its id or name. The unit tests run their scripts with stub
tools (tests/test_ci.py), the twin with the real CLI (tests/e2e/ci_jobs.py)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import PROJECT

GITLAB = PROJECT / ".gitlab-ci.yml"
GITHUB = PROJECT / ".github" / "workflows" / "spark-streams.yml"


def gitlab_job(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with what it `extends` merged in (top-level keys, as GitLab merges them)."""
    job = pipeline[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged.update(gitlab_job(pipeline, parent))
    merged.update({k: v for k, v in job.items() if k != "extends"})
    return merged


def github_step(job: dict[str, Any], step_id: str) -> dict[str, Any]:
    """The one step of a workflow job whose id is `step_id` or whose name starts with it."""
    steps: list[dict[str, Any]] = job["steps"]
    (step,) = [s for s in steps if s.get("id") == step_id or s.get("name", "").startswith(step_id)]
    return step


def gitlab_script(job: str) -> str:
    """A job's `script`, its lines as one bash script (as a runner runs them)."""
    return "\n".join(gitlab_job(yaml.safe_load(GITLAB.read_text()), job)["script"])


def github_script(job: str, step: str) -> str:
    workflow = yaml.safe_load(GITHUB.read_text())
    run: str = github_step(workflow["jobs"][job], step)["run"]
    return run


def github_env(job: str, step: str) -> dict[str, str]:
    """The step's environment as the workflow declares it: the workflow's `env`, the job's, the
    step's, each later one winning (expressions left as written)."""
    workflow = yaml.safe_load(GITHUB.read_text())
    spec = workflow["jobs"][job]
    levels = (workflow, spec, github_step(spec, step))
    return {name: str(value) for level in levels for name, value in level.get("env", {}).items()}
