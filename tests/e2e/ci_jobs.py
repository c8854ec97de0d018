"""CI's own jobs on the twin: a job's script lines read from `.gitlab-ci.yml` and run as a GitLab
runner runs them (one bash, each line in order, stopping at the first failing one), with
`pulumi` the twin's CLI and only the variables the job itself names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.e2e.twin import PROJECT, PULUMI, STATE, Twin


def job_script(job: str) -> list[str]:
    """The `script` of a job in .gitlab-ci.yml, as written there (extends resolved only for
    `script`, which the jobs run here define themselves)."""
    jobs = yaml.safe_load((PROJECT / ".gitlab-ci.yml").read_text())
    script: list[str] = jobs[job]["script"]
    return script


def run_job(twin: Twin, job: str, workdir: Path) -> tuple[int, str]:
    """The job's script in one bash with errexit, as a GitLab runner does; its exit and output."""
    shims = STATE / "ci-bin"
    shims.mkdir(exist_ok=True)
    # A script, not a link: twin/pulumi finds the twin from where it lies.
    (shims / "pulumi").write_text(f'#!/bin/sh\nexec "{PULUMI}" "$@"\n')
    (shims / "pulumi").chmod(0o755)
    uv = os.environ.get("UV")
    assert uv, "run under `uv run` (make e2e): the jobs call uv"
    env = {
        "PATH": f"{shims}:{Path(uv).parent}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(workdir)),
        "STACK": twin.stack,
        "TMPDIR": str(workdir),
    }
    script = "\n".join(job_script(job))
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr
