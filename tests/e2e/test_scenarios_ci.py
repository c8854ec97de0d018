"""CI's own jobs on the twin: their script lines read from `.gitlab-ci.yml` and run as GitLab runs
them (one bash, each line in order, stopping at the first failing one), with `pulumi` the twin's
CLI and only the variables the job itself names. Runs after test_scenarios.py, on the stack as it
left it; the last scenario here destroys nothing: prod's protect refuses it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.twin import PROJECT, PULUMI, STATE, Obj, Twin
from twin.engine import stackcopy


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


@pytest.fixture
def summary(twin: Twin) -> Iterator[Path]:
    """Where the drift job writes its report (the project root, as its artifact path says)."""
    path = PROJECT / f"drift-{twin.stack}.md"
    yield path
    path.unlink(missing_ok=True)


def test_the_drift_job_finds_no_drift_after_the_operators_restarts(
    twin: Twin, deployed: list[Obj], summary: Path, tmp_path: Path
) -> None:
    # test_scenarios.py has made the operator resubmit and restart streams: its status writes
    # and the webhook's are no drift.
    status, out = run_job(twin, ".drift", tmp_path)
    assert status == 0, out
    assert f"Drift check of `{twin.stack}`: no drift." in summary.read_text()
    twin.report.prove("drift job: no drift", exit=status)


def test_the_drift_job_names_the_stream_edited_behind_pulumis_back(
    twin: Twin, deployed: list[Obj], summary: Path, tmp_path: Path
) -> None:
    live = twin.items("sparkapplications.sparkoperator.k8s.io", "-n", twin.namespace)
    assert live, "test_scenarios.py left no application to edit"
    name = sorted(a["metadata"]["name"] for a in live)[0]
    app = twin.app(name)
    assert app is not None
    instances: int = app["spec"]["executor"]["instances"]
    patch = f'{{"spec": {{"executor": {{"instances": {instances + 3}}}}}}}'
    twin.kubectl(
        "patch", "sparkapplication", name, "-n", twin.namespace, "--type", "merge", "-p", patch
    )
    try:
        status, out = run_job(twin, ".drift", tmp_path)
        report = summary.read_text()
    finally:
        restore = f'{{"spec": {{"executor": {{"instances": {instances}}}}}}}'
        twin.kubectl(
            "patch",
            "sparkapplication",
            name,
            "-n",
            twin.namespace,
            "--type",
            "merge",
            "-p",
            restore,
        )
    assert status != 0, out
    assert "drift in" in report and f"`{name}`" in report, report
    assert "executor" in report, report
    twin.report.prove("drift job: out-of-band edit found", stream=name, exit=status)


def test_destroy_is_refused_where_the_stack_protects_its_data(
    twin: Twin, deployed: list[Obj]
) -> None:
    state = twin.state()
    before = {r["urn"] for r in state}
    protected = sorted(r["urn"] for r in state if r.get("protect"))
    if stackcopy.committed(twin.stack)["config"]["spark-streams:buckets"]["protect"]:
        assert protected, "the stack protects its buckets, the state protects nothing"
        # prod: the lake, the checkpoints and the key. `destroy` previews first and stops there.
        result = twin.pulumi("destroy", "--yes", "--suppress-progress", check=False)
        assert result.returncode != 0
        assert "protect" in result.stdout + result.stderr
    else:
        # dev keeps no data that must outlive it: a destroy would go through.
        assert protected == []
        result = twin.pulumi("destroy", "--preview-only", "--suppress-progress", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    assert {r["urn"] for r in twin.state()} == before
    twin.report.prove("destroy and protect", protected=len(protected), exit=result.returncode)


def test_the_policy_pack_blocks_an_image_by_tag_in_prod_as_ci_previews(
    twin: Twin, deployed: list[Obj], tmp_path: Path
) -> None:
    # A tag is a valid image for the program (dev runs tags); the pack pins prod's by digest.
    configured = twin.pulumi("config", "get", "spark-streams:streamsDir").stdout.strip()
    streams = tmp_path / "streams"
    shutil.copytree(PROJECT / configured, streams, ignore=shutil.ignore_patterns("__pycache__"))
    stream_file = streams / "orders.py"
    text = stream_file.read_text()
    tagged = 'image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/spark-streams:3.5.5-1.4.0"'
    stream_file.write_text(text.replace("Stream(\n", f"Stream(\n    {tagged},\n", 1))
    assert tagged in stream_file.read_text()
    (name,) = re.findall(r'^    name="([^"]+)"', text, re.MULTILINE)
    preview = next(line for line in job_script("preview") if line.startswith("pulumi preview"))
    command = preview.split(" 2>&1")[0].replace('"$STACK"', twin.stack).split()[1:]
    twin.pulumi("config", "set", "spark-streams:streamsDir", str(streams))
    try:
        result = twin.pulumi(*command, check=False)
    finally:
        twin.pulumi("config", "set", "spark-streams:streamsDir", configured)
    out = result.stdout + result.stderr
    if twin.stack == "prod":
        assert result.returncode != 0, out
        assert "images-pinned-by-digest" in out and name in out, out
    else:
        assert result.returncode == 0, out
    twin.report.prove("policy pack in the preview", exit=result.returncode, command=preview)
