"""What each stack's run must have shown (see tests/e2e_data/run.py): for every stream of it,
and for the lifecycle phases (change, rename, new generation) for the streams that went through
them, one per stack unless ``E2E_DATA_LIFECYCLE=all``.

Each test names every stream it failed for, with what was seen instead.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e_data.conftest import RUN_STACKS
from tests.e2e_data.probes import Probe
from tests.e2e_data.run import (
    ROCKSDB,
    ROWS_PER_BATCH,
    SHUFFLE_PARTITIONS,
    StackEvidence,
    StreamEvidence,
)

each_stack = pytest.mark.parametrize("stack", RUN_STACKS)


def streams(evidence: dict[str, StackEvidence], stack: str) -> list[StreamEvidence]:
    found = list(evidence[stack].streams.values())
    assert found, f"stack {stack}: no stream ran"
    return found


def lifecycle(evidence: dict[str, StackEvidence], stack: str) -> list[StreamEvidence]:
    """The streams taken through the change, the rename and the new generation."""
    found = [s for s in streams(evidence, stack) if s.lifecycle]
    assert found, f"stack {stack}: no stream went through the lifecycle phases"
    return found


def check(stack: str, failures: dict[str, str]) -> None:
    assert not failures, f"stack {stack}:\n" + "\n".join(
        f"  {name}: {why}" for name, why in failures.items()
    )


@each_stack
def test_every_stream_ran_every_phase(evidence: dict[str, StackEvidence], stack: str) -> None:
    failures = {s.name: "; ".join(s.errors)[:3000] for s in streams(evidence, stack) if s.errors}
    check(stack, failures)
    assert not evidence[stack].errors, evidence[stack].errors


@each_stack
def test_init_container_creates_the_event_log_directory(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {
        s.name: f"{s.init}"[:800]
        for s in streams(evidence, stack)
        if s.init.get("exit_code") != 0 or not s.init.get("marker")
    }
    check(stack, failures)


@each_stack
def test_query_commits_batches_with_checkpoint_and_event_log(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in streams(evidence, stack):
        killed = s.run("killed")
        state = s.checkpoints.get("after restart", {})
        if killed is None or len(killed.committed) < 3:
            failures[s.name] = f"first run committed {killed and killed.committed}"
        elif not state.get("offsets") or not state.get("commits"):
            failures[s.name] = f"checkpoint {state}"
        elif not any("/eventlog_v2_" in k for k in s.event_logs):
            failures[s.name] = f"no event log in {s.event_logs[:5]}"
    check(stack, failures)


@each_stack
def test_hard_kill_mid_batch_resumes_from_the_checkpoint(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in streams(evidence, stack):
        restarted = s.run("restarted")
        if not s.killed.get("uncommitted_files"):
            failures[s.name] = f"not killed mid-batch: {s.killed}"
        elif restarted is None or not restarted.committed:
            failures[s.name] = "no batch after the restart"
        elif restarted.committed[0][0] != s.killed["batch"]:
            failures[s.name] = (
                f"restart began at batch {restarted.committed[0][0]}, not at the killed "
                f"batch {s.killed['batch']}"
            )
    check(stack, failures)


@each_stack
def test_declared_inputs_are_read_with_spark(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """The restarted run reads every prefix the stream `reads` (another stream's sink included)
    with Spark's S3A, under the stream's own policy, and finds the files there."""
    failures = {}
    for s in streams(evidence, stack):
        said = {line.split()[2]: line.rpartition("files=")[2] for line in s.reads}
        wrong = [uri for uri in s.declared_reads if said.get(uri, "0") in ("0", "")]
        if wrong:
            failures[s.name] = f"not read (or empty): {wrong}; the job said {s.reads}"
    check(stack, failures)


def _generations(s: StreamEvidence) -> dict[str, Counter[int]]:
    by_checkpoint: dict[str, Counter[int]] = {}
    for rows in s.sinks.values():
        for checkpoint, value in rows:
            by_checkpoint.setdefault(checkpoint, Counter())[value] += 1
    return by_checkpoint


def _rows(batches: int) -> set[int]:
    return set(range(batches * ROWS_PER_BATCH))


def _next_batches(s: StreamEvidence, *states: str) -> set[int]:
    """Where a run after the latest of these states may go on: after the last batch of the
    commit log, or after the last of the offset log when a SIGTERM stop left that batch in the
    sink's log and not yet in the commit log (the next run re-runs it, the sink skips it and it
    reports no rows). What the job prints cannot tell: its last progress event may not be."""
    found = [s.checkpoints[state] for state in states if state in s.checkpoints]
    state = found[-1] if found else {}
    return {max(state.get(log) or [-1]) + 1 for log in ("commits", "offsets")}


@each_stack
def test_sinks_hold_each_source_row_exactly_once(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """Read back with Spark: the first generation's rows (a run killed mid-batch among them) in
    the first sink, a lifecycle stream's new generation's in its moved sink, each value once,
    none missing."""
    failures = {}
    for s in streams(evidence, stack):
        generations = _generations(s)
        expected = {"gen-0": _next_batches(s, "after restart", "after change", "after rename")}
        if s.lifecycle:
            expected["gen-1"] = _next_batches(s, "new generation")
        for generation, ends in expected.items():
            found = [c for c in generations if c.rstrip("/").endswith(generation)]
            counts = generations[found[0]] if found else Counter()
            # every row of the committed batches; those of a batch only in the sink's log too
            batches = next((n for n in sorted(ends) if set(counts) == _rows(n)), min(ends))
            values = _rows(batches)
            twice = sorted(v for v, n in counts.items() if n > 1)
            missing, extra = sorted(values - set(counts)), sorted(set(counts) - values)
            if not batches or twice or missing or extra:
                failures[f"{s.name} {generation}"] = (
                    f"{sum(counts.values())} rows for {batches} batches: twice {twice[:10]}, "
                    f"missing {missing[:10]}, unexpected {extra[:10]}"
                )
    check(stack, failures)


@each_stack
def test_every_stop_but_the_hard_kill_leaves_a_completed_event_log(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """SIGTERM and --max-batches stop the query and the session before Hadoop closes S3A: the
    event log is uploaded whole and marked complete. The run killed with SIGKILL stays in
    progress (the file it was writing is lost: S3 has an object only once it is closed)."""
    failures = {}
    for s in streams(evidence, stack):
        graceful = [r for r in s.runs if r.phase != "killed"]
        completed, running = s.completed_applications, s.in_progress_applications
        if len(completed) != len(graceful) or len(running) != len(s.runs) - len(graceful):
            failures[s.name] = (
                f"{len(graceful)} stopped, completed {completed}, in progress {running}"
            )
    check(stack, failures)


@each_stack
def test_resource_change_keeps_the_checkpoint(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in lifecycle(evidence, stack):
        changed, restarted = s.run("changed"), s.run("restarted")
        change = s.changes.get("changed", {})
        if changed is None or restarted is None or not changed.committed:
            failures[s.name] = "did not run after the change"
            continue
        memory, checkpoint = change["driver memory"], change["checkpoint"]
        continues = changed.committed[0][0] in _next_batches(s, "after restart")
        if memory[0] == memory[1] or checkpoint[0] != checkpoint[1] or not continues:
            failures[s.name] = f"{change}; batches {restarted.committed} then {changed.committed}"
    check(stack, failures)


@each_stack
def test_rename_keeps_checkpoint_and_progress(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in lifecycle(evidence, stack):
        renamed, moved = s.run("renamed"), s.run("changed")
        change = s.changes.get("renamed", {})
        if renamed is None or moved is None or not renamed.committed:
            failures[s.name] = "did not run after the rename"
            continue
        if (
            change["name"][0] == change["name"][1]
            or change["checkpoint"][0] != change["checkpoint"][1]
            or renamed.committed[0][0] not in _next_batches(s, "after change")
        ):
            failures[s.name] = f"{change}; batches {moved.committed} then {renamed.committed}"
    check(stack, failures)


@each_stack
def test_new_generation_starts_over_in_a_new_path_and_leaves_the_old(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in lifecycle(evidence, stack):
        run = s.run("new generation")
        change = s.changes.get("new generation", {})
        state = s.checkpoints.get("new generation", {})
        if run is None or not run.committed:
            failures[s.name] = "did not run on the new generation"
            continue
        old, new = change["checkpoint"]
        before, after = change["old checkpoint objects"]
        first = state.get("first_source_offset") or {}
        if (
            old == new
            or run.committed[0][0] != 0
            # batch 0 of the new checkpoint ends at the source's first rows: it read from 0
            or first.get("offset") != ROWS_PER_BATCH
            or before != after
            or before == 0
            or change["old checkpoint readable by the stream"]
        ):
            failures[s.name] = f"{change}; batches {run.committed}; {state}"
    check(stack, failures)


@each_stack
def test_settings_frozen_in_the_checkpoint_change_only_with_a_new_generation(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """spark.sql.shuffle.partitions changed with the sink: the checkpoint keeps its value (what
    spark_streams/frozen.py announces), and the new generation takes the new one."""
    failures = {}
    for s in lifecycle(evidence, stack):
        rendered = s.changes.get("changed", {}).get("shuffle partitions rendered", [None, None])
        kept = s.checkpoints.get("after change", {}).get("conf", {}).get(SHUFFLE_PARTITIONS)
        fresh = s.checkpoints.get("new generation", {}).get("conf", {}).get(SHUFFLE_PARTITIONS)
        old, new = rendered
        if old == new or kept != (old or "200") or fresh != new:
            failures[s.name] = f"rendered {rendered}, after the move {kept}, new generation {fresh}"
    check(stack, failures)


@each_stack
def test_a_new_checkpoint_keeps_state_in_rocksdb_with_a_changelog(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in lifecycle(evidence, stack):
        state = s.checkpoints.get("new generation", {})
        provider = state.get("conf", {}).get("spark.sql.streaming.stateStore.providerClass")
        if provider != ROCKSDB or "changelog" not in state.get("state_files", []):
            failures[s.name] = f"provider {provider}, state files {state.get('state_files')}"
    check(stack, failures)


@each_stack
def test_checkpoint_writes_leave_no_refused_marker_deletes(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """Hadoop 3.3 deletes parent directory markers after each write unless told to keep them:
    the parents above a stream's prefix are refused and each delete leaves a delete marker."""
    failures = {
        s.name: f"{[(r.phase, r.marker_deletes_refused) for r in s.runs]}"
        for s in streams(evidence, stack)
        if any(r.marker_deletes_refused for r in s.runs)
    }
    check(stack, failures)


@each_stack
def test_with_spark_hadoop_cloud_checkpoints_are_written_without_a_rename(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """Where the line has spark-hadoop-cloud (3.5.5; Maven Central has none for 4.2), the new
    generation sets hadoop_cloud and runs with the jar, as an image holding it would: its
    checkpoint is written in place. Every other run writes a temporary file and renames it."""
    with_jar = evidence[stack].spark == "3.5.5"
    failures = {}
    for s in streams(evidence, stack):
        for run in s.runs:
            abortable = with_jar and run.phase == "new generation"
            if ("Abortable" in run.checkpoint_manager) != abortable:
                failures[f"{s.name} ({run.phase})"] = run.checkpoint_manager
    check(stack, failures)


def _failed(probes: list[Probe]) -> list[str]:
    return [f"{p.action} {p.bucket}/{p.key} ({p.whose}): {p.outcome}" for p in probes if not p.held]


@each_stack
def test_own_credentials_reach_only_the_streams_grant(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    failures = {}
    for s in streams(evidence, stack):
        probes = [Probe(**p) for p in s.probes]
        if not probes:
            failures[s.name] = "no probe ran"
        elif wrong := _failed(probes):
            failures[s.name] = "; ".join(wrong[:12])
    check(stack, failures)


def test_history_server_lists_every_application(evidence: dict[str, StackEvidence]) -> None:
    """On Spark 4.2, with the stack's rendered options and its own policy, over event logs
    written by Spark 3.5 (prod) and 4.2 (sdk-v2); dev renders none."""
    ran = {
        stack: e.history_server for stack, e in evidence.items() if e.history_server.get("rendered")
    }
    assert {"prod", "sdk-v2"} <= set(ran), f"History Server rendered in {sorted(ran)} only"
    failures = {}
    for stack, server in ran.items():
        expected = set(server["completed_applications_in_event_logs"])
        missing = expected - set(server["listed"])
        if not expected or missing:
            failures[stack] = (
                f"{len(expected)} completed applications, not listed: {sorted(missing)}"
            )
    assert not failures, failures


@each_stack
def test_the_jobs_ran_with_the_rendered_provider_or_it_loads_on_the_lines_classpath(
    evidence: dict[str, StackEvidence], stack: str
) -> None:
    """Where the line's AWS SDK reaches MinIO's STS, every JVM used the rendered provider;
    where it cannot (SDK 2.24.6, Hadoop 3.4.1), only the credentials were swapped, and each
    rendered provider class loads from the line's own SDK jar."""
    found = evidence[stack]
    if found.credentials == "rendered":
        return
    for provider in found.credentials_provider.split(","):
        assert f"{provider} from file:" in found.provider_loads, found.provider_loads
