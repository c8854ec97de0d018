"""`spark-streams diff`: the consequence rules on two streams directories, and on temporary git
repositories the scenarios that need git (the base's own code, refs, a base that cannot be
planned)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spark_streams.cli import main
from spark_streams.diff import DiffResult, markdown
from spark_streams.diff.base import BaseRun, export_ref, runs_this_code
from spark_streams.diff.compare import Side, compare
from spark_streams.diff.pricing import priced
from spark_streams.evaluation import Evaluation, StreamRecord, evaluate
from spark_streams.offline import PlannedResource
from spark_streams.pricing import HOURS_PER_MONTH, ON_DEMAND_DEFAULT, SPOT_DEFAULT, Rate
from spark_streams.problems import InvalidInputError
from tests.conftest import PROJECT, stack_config

TRACKED = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py", "pyproject.toml")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone-like scratch repository with one commit of the project."""
    target = tmp_path / "repo"
    target.mkdir()
    for name in TRACKED:
        shutil.copy(PROJECT / name, target / name)
    for name in ("components", "streams", "spark_streams"):
        shutil.copytree(PROJECT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "base")
    return target


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(repo: Path, *argv: str, own_code: bool = False, env: dict[str, str] | None = None) -> Ran:
    """The CLI run from ``repo``: in this process, or with ``own_code`` in a process of its own
    that imports the repository's code (a test that changes the program itself)."""
    if own_code:
        found = subprocess.run(
            [sys.executable, "-m", "spark_streams.cli", *argv],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
        )
        return Ran(found.returncode, found.stdout, found.stderr)
    out, err = io.StringIO(), io.StringIO()
    before, saved = Path.cwd(), dict(os.environ)
    os.chdir(repo)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        os.chdir(before)
        os.environ.clear()
        os.environ.update(saved)
    return Ran(code, out.getvalue(), err.getvalue())


def run_diff(
    repo: Path, *extra: str, stack: str = "dev", base: str = "HEAD", own_code: bool = False
) -> Ran:
    return cli(repo, "diff", "--stack", stack, "--base", base, *extra, own_code=own_code)


def diff_json(
    repo: Path, stack: str = "dev", base: str = "HEAD", own_code: bool = False
) -> dict[str, Any]:
    result = run_diff(repo, "--json", stack=stack, base=base, own_code=own_code)
    assert result.returncode == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout)
    return value


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@dataclass(frozen=True)
class Trees:
    """Two streams directories of the project, compared without git: the consequence rules."""

    base: Path
    head: Path

    def result(self, stack: str) -> DiffResult:
        old = Side.of(evaluate(PROJECT, stack, self.base))
        new = Side.of(evaluate(PROJECT, stack, self.head))
        result = compare(old, new, stack=stack, base="base", commit="0" * 40)
        return priced(result, old, new, stack_config(stack).pricing)

    def json(self, stack: str = "dev") -> dict[str, Any]:
        return self.result(stack).to_json()

    def markdown(self, stack: str = "dev") -> str:
        return markdown(self.result(stack))


@pytest.fixture
def trees(tmp_path: Path) -> Trees:
    for side in ("base", "head"):
        shutil.copytree(PROJECT / "streams", tmp_path / side)
    return Trees(tmp_path / "base", tmp_path / "head")


def resource(urn: str, type_: str, name: str, inputs: dict[str, Any]) -> PlannedResource:
    """A shared resource as a plan lists it."""
    return PlannedResource(
        urn=urn,
        type=type_,
        name=name,
        parent=None,
        stream=None,
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        dependencies=[],
        inputs=inputs,
    )


def kinds(entry: dict[str, Any]) -> set[str]:
    return {c["kind"] for c in entry["consequences"]}


def test_no_change(repo: Path) -> None:
    result = diff_json(repo)
    assert result["changed"] is False
    assert result["streams"] == {"added": [], "removed": [], "changed": []}
    assert result["other"] == {"added": [], "removed": [], "changed": []}
    text = run_diff(repo).stdout
    assert "**No change.**" in text
    assert re.search(r"^No stream changes: \$[0-9,]+\.[0-9]{2} a month\.$", text, re.M), text
    assert "| stream |" not in text
    assert result["cost"]["delta_monthly"] == 0 and len(result["cost"]["unchanged"]) == 3


def test_more_executors_restart_the_stream_only(trees: Trees) -> None:
    edit(trees.head / "orders.py", "instances=6", "instances=9")
    result = trees.json("prod")
    (entry,) = result["streams"]["changed"]
    assert entry["name"] == "orders-ingest"
    assert entry["fields"] == [{"field": "executor.instances", "old": 6, "new": 9}]
    assert kinds(entry) == {"restart"}
    assert result["streams"]["added"] == result["streams"]["removed"] == []
    assert result["other"]["changed"] == []


def test_a_new_sink_changes_access_but_keeps_the_checkpoint(trees: Trees) -> None:
    edit(trees.head / "orders.py", "raw/{stream}/", "raw/orders-v2/")
    (entry,) = trees.json()["streams"]["changed"]
    assert {f["field"] for f in entry["fields"]} == {"sink.prefix"}
    assert kinds(entry) == {"restart", "iam", "sink"}
    assert "checkpoint_generation" in trees.markdown()


def test_a_new_sink_with_a_new_generation_is_a_fresh_start(trees: Trees) -> None:
    edit(trees.head / "orders.py", "raw/{stream}/", "raw/orders-v2/")
    edit(trees.head / "orders.py", "    sink=", "    checkpoint_generation=1,\n    sink=")
    (entry,) = trees.json()["streams"]["changed"]
    assert kinds(entry) == {"restart", "iam", "checkpoint"}


def test_a_new_checkpoint_generation_says_the_stream_starts_over(trees: Trees) -> None:
    edit(trees.head / "orders.py", "    sink=", "    checkpoint_generation=1,\n    sink=")
    (entry,) = trees.json()["streams"]["changed"]
    assert "checkpoint" in kinds(entry)
    text = " ".join(c["text"] for c in entry["consequences"])
    assert "starting offsets" in text and "gen-1" in text
    assert "starts again from its source's starting offsets" in trees.markdown()
    assert "from its checkpoint" not in text  # it does not resume: it starts over


def test_an_added_stream_alone_gets_no_rename_hint_and_new_reads_show_in_full(trees: Trees) -> None:
    (trees.head / "inventory.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='inventory-ingest', sink='s3://{lake}/raw/inventory/')\n"
    )
    edit(
        trees.head / "clickstream.py",
        '"s3://{lake}/reference/products/",',
        '"s3://{lake}/reference/products/", "s3://{lake}/reference/stores/"',
    )
    result = trees.json()
    (added,) = result["streams"]["added"]
    assert kinds(added) == {"start"}
    (changed,) = result["streams"]["changed"]
    assert kinds(changed) == {"iam"}  # reads change the role, not the application
    markdown = trees.markdown()
    assert "s3a://acme-data-dev-lake/reference/stores/]" in markdown


def test_added_and_removed_streams(trees: Trees) -> None:
    (trees.head / "payments_audit.py").unlink()
    (trees.head / "inventory.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='inventory-ingest', sink='s3://{lake}/raw/inventory/')\n"
    )
    result = trees.json()
    (added,) = result["streams"]["added"]
    (removed,) = result["streams"]["removed"]
    assert added["name"] == "inventory-ingest" and kinds(added) == {"start", "maybe-rename"}
    assert "renamed_from" in json.dumps(added) and "'payments-audit'" in json.dumps(added)
    assert removed["name"] == "payments-audit" and kinds(removed) == {"stop", "data-kept"}
    assert "s3a://acme-data-dev-lake/audit/payments-audit/" in json.dumps(removed)
    markdown = trees.markdown()
    assert "#### Added" in markdown and "#### Removed" in markdown and "kept" in markdown


def test_a_rename_keeps_role_and_checkpoint(trees: Trees) -> None:
    edit(
        trees.head / "orders.py",
        'name="orders-ingest",',
        'name="orders-raw",\n    renamed_from=("orders-ingest",),',
    )
    result = trees.json()
    assert result["streams"]["added"] == result["streams"]["removed"] == []
    (entry,) = result["streams"]["changed"]
    assert (entry["name"], entry["renamed_from"]) == ("orders-raw", "orders-ingest")
    assert "rename" in kinds(entry) and not kinds(entry) & {"checkpoint", "sink"}


def test_pausing_is_not_reported_as_a_restart(trees: Trees) -> None:
    edit(trees.head / "orders.py", '"dev": StackOverride(', '"dev": StackOverride(suspend=True, ')
    (entry,) = trees.json()["streams"]["changed"]
    assert kinds(entry) == {"suspend"}


def test_changes_outside_streams_are_listed(repo: Path) -> None:
    edit(
        repo / "Pulumi.dev.yaml",
        "noncurrentVersionRetentionDays: 7",
        "noncurrentVersionRetentionDays: 14",
    )
    result = diff_json(repo)
    assert result["streams"]["changed"] == []
    changed = result["other"]["changed"]
    assert {c["name"] for c in changed} == {
        f"data-{purpose}-lifecycle" for purpose in ("lake", "checkpoints", "event-logs")
    }
    assert all(any("rules" in f for f in c["fields"]) for c in changed)


def test_an_unknown_ref_is_a_usage_error(repo: Path) -> None:
    result = run_diff(repo, base="no-such-ref")
    assert result.returncode == 2 and "no-such-ref" in result.stderr


def test_invalid_working_tree_is_reported(repo: Path) -> None:
    edit(repo / "streams/orders.py", "instances=6", "instances=0")
    result = run_diff(repo)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "executor.instances" in result.stderr


def test_mr_note_without_diff_uses_the_merge_requests_base(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").strip()
    edit(repo / "streams/orders.py", "instances=1,", "instances=2,")
    preview = repo / "preview.txt"
    preview.write_text("Previewing update (dev):\n")

    def note(base_sha: str, exit_code: int = 0) -> str:
        result = cli(
            repo,
            *("mr-note", "--stack", "dev", "--preview", str(preview)),
            *("--output", str(repo / "note.md"), "--dry-run"),
            env={"CI_MERGE_REQUEST_DIFF_BASE_SHA": base_sha},
        )
        assert result.returncode == exit_code, result.stderr
        return result.stdout

    assert "`executor.instances`: `1` → `2`" in note(base)
    # an unreadable base still gives the preview its note, saying why the diff is missing in
    # one line; then the command fails
    (why,) = [line for line in note("0000000", 1).splitlines() if "no stream diff" in line]
    assert why.startswith("_no stream diff against 0000000: ")


def test_shared_resources_are_matched_by_type_and_name_not_urn_spelling() -> None:
    def side(urn: str, retention: int) -> Side:
        bucket = resource(urn, "aws:s3/bucket:Bucket", "data-lake", {"days": retention})
        return Side({}, {urn: bucket})

    old = side("urn:pulumi:dev::p::pulumi:pulumi:Stack$aws:s3/bucket:Bucket::data-lake", 7)
    new = side(
        "urn:pulumi:dev::p::spark-streams:storage:DataBuckets$aws:s3/bucket:Bucket::data-lake", 7
    )
    result = compare(old, new, stack="dev", base="HEAD", commit="0" * 40)
    assert result.any_change is False
    changed = compare(
        old, side(next(iter(new.resources)), 14), stack="dev", base="HEAD", commit="0"
    )
    assert [r.name for r in changed.other.changed] == ["data-lake"]


def test_a_program_change_names_what_changes_in_each_streams_resources(repo: Path) -> None:
    edit(
        repo / "spark_streams/sparkapp.py",
        '"spark.eventLog.enabled": "true",',
        '"spark.eventLog.enabled": "true",\n        "spark.example.added": "1",',
    )
    changed = diff_json(repo, own_code=True)["streams"]["changed"]
    assert len(changed) == 3  # every stream in dev
    for entry in changed:
        assert {
            "field": "SparkApplication.spec.sparkConf.spark.example.added",
            "old": None,
            "new": "1",
        } in entry["fields"]
        assert kinds(entry) == {"restart"}


def test_a_base_with_this_code_is_evaluated_here_as_its_own_process_would(
    repo: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "base"
    export_ref(repo, "HEAD", tree)
    run = BaseRun(tree, "dev", None)
    assert run.here and not run.processes
    own = subprocess.run(
        [sys.executable, "-m", "spark_streams.evaluation", "--stack", "dev"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.result() == Evaluation.model_validate_json(own.stdout)
    # one byte of program code apart: the base gets its own process again
    with (tree / "components" / "__init__.py").open("a") as code:
        code.write("\n")
    assert not runs_this_code(tree)


def test_resuming_onto_a_new_checkpoint_does_not_claim_to_resume_from_the_old(trees: Trees) -> None:
    edit(trees.base / "orders.py", '"dev": StackOverride(', '"dev": StackOverride(suspend=True, ')
    edit(trees.head / "orders.py", "    sink=", "    checkpoint_generation=1,\n    sink=")
    (entry,) = trees.json()["streams"]["changed"]
    texts = [c["text"] for c in entry["consequences"]]
    assert "resumes on its new checkpoint" in texts
    assert not any("from its checkpoint" in t for t in texts)


def test_a_base_that_cannot_be_planned_still_gives_the_working_trees_streams(repo: Path) -> None:
    # A merge request that fixes a broken main: the base's stream file does not validate.
    edit(repo / "streams/orders.py", "instances=6", "instances=0")
    git(repo, "commit", "-qam", "broken main")
    edit(repo / "streams/orders.py", "instances=0", "instances=6")
    result = run_diff(repo, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["changed"] is True
    assert "executor.instances" in found["base_error"] and "\n" not in found["base_error"]
    assert [s["name"] for s in found["not_comparable"]] == [
        "clickstream-ingest",
        "orders-ingest",
        "payments-audit",
    ]
    assert found["streams"] == {"added": [], "removed": [], "changed": []}
    text = run_diff(repo).stdout
    assert "The base could not be planned" in text and "#### Not compared" in text


def test_the_json_result_reads_back_as_it_was(trees: Trees) -> None:
    (trees.head / "payments_audit.py").unlink()
    edit(trees.head / "orders.py", "instances=6", "instances=9")
    result = trees.result("dev")
    assert DiffResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_a_base_from_before_the_evaluation_model_is_asked_through_its_cli(repo: Path) -> None:
    # Bases written before spark_streams/evaluation.py answer `list --json` and `plan --json`.
    git(repo, "rm", "-q", "spark_streams/evaluation.py")
    git(repo, "commit", "-qm", "old code")
    git(repo, "checkout", "-q", "HEAD~1", "--", "spark_streams/evaluation.py")
    edit(repo / "streams/orders.py", "instances=1,", "instances=2,")
    result = diff_json(repo)
    (entry,) = result["streams"]["changed"]
    assert entry["fields"] == [{"field": "executor.instances", "old": 1, "new": 2}]
    assert result["other"]["changed"] == [] and result["base_error"] is None


def _renamed_twice(path: Path) -> None:
    edit(
        path,
        'name="orders-ingest",',
        'name="orders-c",\n    renamed_from=("orders-ingest", "orders-b"),',
    )


def test_the_rename_hint_is_the_whole_chain_to_paste(trees: Trees) -> None:
    _renamed_twice(trees.base / "orders.py")
    edit(trees.head / "orders.py", 'name="orders-ingest",', 'name="orders-d",')  # forgot the chain
    (added,) = trees.json()["streams"]["added"]
    (hint,) = [c["text"] for c in added["consequences"] if c["kind"] == "maybe-rename"]
    chain = "renamed_from=('orders-ingest', 'orders-b', 'orders-c')"
    assert chain in hint
    # the hint, followed literally, makes it a rename
    edit(trees.head / "orders.py", 'name="orders-d",', f'name="orders-d",\n    {chain},')
    result = trees.json()
    assert result["streams"]["added"] == result["streams"]["removed"] == []
    (changed,) = result["streams"]["changed"]
    assert changed["renamed_from"] == "orders-c" and "rename" in kinds(changed)


def test_a_rename_naming_only_a_later_name_is_refused_with_the_chain(trees: Trees) -> None:
    _renamed_twice(trees.base / "orders.py")
    edit(
        trees.head / "orders.py",
        'name="orders-ingest",',
        'name="orders-d",\n    renamed_from=("orders-c",),',
    )
    with pytest.raises(InvalidInputError) as error:
        trees.result("dev")
    (problem,) = error.value.problems
    assert problem.field == "renamed_from" and problem.stream == "orders-d"
    assert "renamed_from=('orders-ingest', 'orders-b', 'orders-c')" in problem.message


def test_removing_a_paused_stream_says_it_was_paused_and_what_keeps_its_checkpoint(
    trees: Trees,
) -> None:
    edit(trees.base / "orders.py", '"dev": StackOverride(', '"dev": StackOverride(suspend=True, ')
    (trees.head / "orders.py").unlink()
    (removed,) = trees.json()["streams"]["removed"]
    stop, kept = (c["text"] for c in removed["consequences"])
    assert stop.startswith("was paused") and "stops" not in stop
    assert "same identity" in kept and "checkpoint_generation=0" in kept


def test_each_shared_change_says_what_it_does() -> None:
    rule = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
    old = Side({}, {"u": resource("u", rule, "monitoring-alerts", {"spec": 1})})
    new = Side({}, {"u": resource("u", rule, "monitoring-alerts", {"spec": 2})})
    text = markdown(compare(old, new, stack="prod", base="b", commit="0" * 40))
    assert "alert rules are updated for the current streams" in text


# --- what it costs -------------------------------------------------------------------------------


def monthly(driver: tuple[float, float], executors: tuple[float, float]) -> float:
    """A month of these (cores, GiB) requests at the default prices (prod sets none of its
    own): prod places drivers on on-demand capacity and executors on spot."""

    def price(rate: Rate, cores: float, gib: float) -> float:
        return (cores * rate.vcpu_hour + gib * rate.gib_hour) * HOURS_PER_MONTH

    return price(ON_DEMAND_DEFAULT, *driver) + price(SPOT_DEFAULT, *executors)


# orders-ingest: driver 1 core, 2g + 512m; executors of 2 cores, 6g + 1g
def orders(executors: int) -> float:
    return monthly((1, 2.5), (2 * executors, 7 * executors))


# clickstream-ingest: driver 1 core, 2g + 512m; 8 executors of 2 cores, 4g + 1g
CLICKSTREAM = monthly((1, 2.5), (16, 40))


def test_the_cost_of_more_executors_and_a_removed_stream(trees: Trees) -> None:
    edit(trees.head / "orders.py", "instances=6", "instances=8")
    (trees.head / "clickstream.py").unlink()
    result = trees.json("prod")
    (changed,) = result["streams"]["changed"]
    (removed,) = result["streams"]["removed"]
    # orders-ingest: driver 1 core, 2g + 512m; executors 2 cores, 6g + 1g each
    assert changed["capacity"]["old"]["cpu"] == 1 + 6 * 2
    assert changed["capacity"]["new"] == {
        "cpu": 1 + 8 * 2,
        "memory_gib": 2.5 + 8 * 7,
        "monthly_cost": pytest.approx(orders(8)),
        "currency": "USD",
    }
    # clickstream-ingest: driver 1 core, 2g + 512m; 8 executors of 2 cores, 4g + 1g
    assert removed["capacity"]["new"] is None
    assert removed["capacity"]["old"]["monthly_cost"] == pytest.approx(CLICKSTREAM)
    cost = result["cost"]
    assert cost["delta_monthly"] == pytest.approx(orders(8) - orders(6) - CLICKSTREAM)
    assert cost["old_monthly"] == pytest.approx(orders(6) + CLICKSTREAM)
    assert cost["new_monthly"] == pytest.approx(orders(8))
    assert cost["currency"] == "USD" and cost["unchanged"] == []
    text = trees.markdown("prod")
    assert "| `orders-ingest` | changed | 13 → 17 | 44.5 → 58.5 |" in text
    assert "| `clickstream-ingest` | removed | 17 → — | 42.5 → — |" in text


def test_unchanged_streams_are_priced_for_the_whole_picture(trees: Trees) -> None:
    edit(trees.head / "orders.py", "instances=6", "instances=7")
    cost = trees.result("prod").cost
    assert cost is not None
    (unchanged,) = cost.unchanged
    assert unchanged.name == "clickstream-ingest"
    assert unchanged.cost.monthly_cost == pytest.approx(CLICKSTREAM)


def test_a_base_in_a_shape_this_code_cannot_read_leaves_the_cost_unknown(trees: Trees) -> None:
    edit(trees.head / "orders.py", "instances=6", "instances=8")
    old = Side.of(evaluate(PROJECT, "prod", trees.base))
    # e.g. a base from before the effective streams had a driver
    without_driver = {
        identity: StreamRecord.model_validate(
            {k: v for k, v in record.settings().items() if k != "driver"}
        )
        for identity, record in old.streams.items()
    }
    old = Side(without_driver, old.resources)
    new = Side.of(evaluate(PROJECT, "prod", trees.head))
    result = compare(old, new, stack="prod", base="b", commit="0" * 40)
    result = priced(result, old, new, stack_config("prod").pricing)
    assert result.cost is not None
    assert (result.cost.old_monthly, result.cost.delta_monthly) == (None, None)
    assert "does not read" in (result.cost.unknown or "")
    assert result.cost.new_monthly == pytest.approx(orders(8) + CLICKSTREAM)
    changed = {c.name: c.capacity for c in result.changed}["orders-ingest"]
    assert changed is not None and changed.old is None and changed.new is not None
    assert "Before is unknown" in markdown(result)
    assert DiffResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_a_priced_result_reads_back_and_an_older_one_reads_without_cost(trees: Trees) -> None:
    (trees.head / "clickstream.py").unlink()
    edit(trees.head / "orders.py", "instances=6", "instances=9")
    result = trees.result("prod")
    assert result.cost is not None and result.changed[0].capacity is not None
    written = json.loads(json.dumps(result.to_json()))
    assert DiffResult.from_json(written) == result
    # A --diff file written before issue #16 has neither key.
    del written["cost"]
    for entries in written["streams"].values():
        for entry in entries:
            del entry["capacity"]
    older = DiffResult.from_json(written)
    assert older.cost is None and older.changed[0].capacity is None
    assert "Monthly cost" not in markdown(older)


def test_a_setting_the_checkpoint_keeps_is_said_to_wait_for_a_new_generation(trees: Trees) -> None:
    edit(
        trees.head / "orders.py",
        'sink="s3://{lake}/raw/{stream}/",',
        'sink="s3://{lake}/raw/{stream}/",\n    spark_conf={"spark.sql.shuffle.partitions": "16"},',
    )
    (entry,) = trees.json()["streams"]["changed"]
    (frozen,) = [c["text"] for c in entry["consequences"] if c["kind"] == "frozen"]
    assert frozen.startswith("spark.sql.shuffle.partitions: 8 -> 16 takes effect only with a new")
    # with a new checkpoint the new value applies from the start: nothing to warn of
    edit(
        trees.head / "orders.py",
        'name="orders-ingest",',
        'name="orders-ingest",\n    checkpoint_generation=1,',
    )
    (entry,) = trees.json()["streams"]["changed"]
    assert "frozen" not in kinds(entry) and "checkpoint" in kinds(entry)
