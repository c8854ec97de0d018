"""CI's drift checks (the GitHub workflow's step, GitLab's job), the preview job's policy pack
and a destroy, on the twin (tests/e2e/ci_jobs.py runs a job as GitLab does, a step as GitHub
does). Runs after test_scenarios.py, on the stack as it left it; the last scenario here destroys
nothing: prod's protect refuses it, dev's is only previewed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci_files import gitlab_script
from tests.e2e.ci_jobs import run_job, run_step
from tests.e2e.twin import PROJECT, Obj, Twin
from twin.engine import stackcopy


@pytest.fixture
def summary(twin: Twin) -> Iterator[Path]:
    """Where the drift job writes its report (the project root, as its artifact path says)."""
    path = PROJECT / f"drift-{twin.stack}.md"
    yield path
    path.unlink(missing_ok=True)


def test_the_drift_check_finds_no_drift_after_the_operators_restarts(
    twin: Twin, deployed: list[Obj], summary: Path, tmp_path: Path
) -> None:
    # test_scenarios.py has made the operator resubmit and restart streams: its status writes
    # and the webhook's are no drift. Checked by the GitHub workflow's drift check step, as its
    # runner runs it (GitLab's drift job checks the out-of-band edit below): `drift=false` is
    # what its issue steps act on.
    status, out = run_step(twin, "drift", "check", tmp_path)
    assert status == 0, out
    assert "drift=false" in (tmp_path / "github-output").read_text().splitlines(), out
    for report in (summary, tmp_path / "step-summary.md"):
        assert f"Drift check of `{twin.stack}`: no drift." in report.read_text()
    twin.report.prove("drift check (GitHub step): no drift", exit=status)


def test_the_drift_job_names_the_stream_edited_behind_pulumis_back(
    twin: Twin, deployed: list[Obj], summary: Path, tmp_path: Path
) -> None:
    live = twin.items("sparkapplications.sparkoperator.k8s.io", "-n", twin.namespace)
    assert live, "test_scenarios.py left no application to edit"
    name = sorted(a["metadata"]["name"] for a in live)[0]
    app = twin.app(name)
    assert app is not None
    instances: int = app["spec"]["executor"]["instances"]

    def executors() -> int:
        found = twin.app(name)
        assert found is not None
        return int(found["spec"]["executor"]["instances"])

    def set_executors(count: int) -> None:
        patch = f'{{"spec": {{"executor": {{"instances": {count}}}}}}}'
        twin.kubectl(
            "patch", "sparkapplication", name, "-n", twin.namespace, "--type", "merge", "-p", patch
        )

    set_executors(instances + 3)
    try:
        status, out = run_job(twin, ".drift", tmp_path)
        report = summary.read_text()
        # Resolved as docs/ci.md says: a deploy that refreshes first puts the field back (the
        # program applies with force: the edit's manager owns the field now).
        resolved = twin.pulumi("up", "--yes", "--suppress-progress", "--refresh", "--skip-preview")
        restored = executors()
    finally:
        if executors() != instances:
            set_executors(instances)
    assert status != 0, out
    # The report names a stream by its identity (its first name: a renamed stream keeps it).
    identity = app["metadata"]["labels"]["spark-streams/identity"]
    assert "drift in" in report and f"`{identity}`" in report, report
    assert "executor" in report, report
    assert restored == instances, resolved.stdout[-2000:]
    twin.report.prove("drift job: out-of-band edit found", stream=identity, exit=status)


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
    preview = next(
        line for line in gitlab_script("preview").splitlines() if line.startswith("pulumi preview")
    )
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
