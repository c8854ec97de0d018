"""What `make bench-twin` reads from an engine run (twin/bench_times.py): the steps and their
times from an event log, the --target list from a stream-level diff, and a preview's changes."""

from __future__ import annotations

import json
from typing import Any

from components import STREAM_READY
from spark_streams.diff.result import (
    DiffResult,
    SharedChange,
    SharedChanges,
    StreamChange,
    StreamChanges,
)
from tests.engine_events import STACK_URN, child_urn, failed, outputs, pre, shared_urn, stream_urn
from twin.bench_times import preview_changes, read_timeline, targets, where_time_goes

APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
BUCKET = shared_urn("aws:s3/bucket:Bucket", "lake")


def at(stamp: int, event: dict[str, Any]) -> str:
    return json.dumps({"sequence": stamp, "timestamp": stamp, **event})


def test_a_step_runs_from_its_pre_event_to_its_outputs_and_the_update_replaces_its_preview() -> (
    None
):
    app = child_urn("orders", APP, "app")
    lines = [
        at(100, pre(app, "create", planning=True)),
        at(101, outputs(app, "create")),
        at(110, pre(app, "create")),
        "not json",
        at(130, outputs(app, "create")),
        at(131, pre(BUCKET, "update")),
        at(133, failed(BUCKET)),
    ]
    timeline = read_timeline(lines)
    assert (timeline.steps[app].started, timeline.steps[app].ended) == (110, 130)
    assert timeline.steps[BUCKET].failed
    assert (timeline.first_event, timeline.last_event) == (100, 133)


def test_where_time_goes_splits_wall_time_and_sums_steps_per_provider() -> None:
    first, second = child_urn("a", APP, "app"), child_urn("b", APP, "app")
    ready = child_urn("a", STREAM_READY, "ready")
    lines = [
        at(105, pre(STACK_URN, "same")),
        at(106, pre(first, "create")),
        at(107, pre(second, "create")),
        at(109, outputs(first, "create")),
        at(111, outputs(second, "create")),
        at(111, pre(ready, "create")),
        at(140, outputs(ready, "create")),
        at(141, outputs(STACK_URN, "same")),
    ]
    where = where_time_goes(read_timeline(lines), started=100.0, ended=143.5)
    assert where["seconds"] == 43.5
    assert (where["before_first_step"], where["steps_span"], where["after_last_step"]) == (
        5.0,
        36,
        2.5,
    )
    kubernetes = where["packages"]["kubernetes"]
    assert kubernetes["steps"] == 2
    # Overlapping steps: the sum (provider time) exceeds their span (wall time).
    assert (kubernetes["step_seconds_sum"], kubernetes["span"]) == (7, 5)
    assert where["packages"]["readiness"]["step_seconds_max"] == 29
    assert "component" not in where["packages"]  # the stack's step changed nothing


def _plan(*streams: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = [
        {"urn": STACK_URN, "stream": None},
        {"urn": BUCKET, "stream": None},
    ]
    for identity in streams:
        resources += [
            {"urn": stream_urn(identity), "stream": identity},
            {"urn": child_urn(identity, APP, "app"), "stream": identity},
            {"urn": child_urn(identity, STREAM_READY, "ready"), "stream": identity},
        ]
    return resources


def _change(identity: str) -> StreamChange:
    return StreamChange(name=identity, identity=identity, consequences=())


def _diff(**kw: Any) -> DiffResult:
    return DiffResult(stack="prod", base="main", base_commit="0" * 40, **kw)


def test_targets_are_the_changed_and_added_streams_resources_and_the_changed_shared_ones() -> None:
    diff = _diff(
        streams=StreamChanges(changed=(_change("orders"),), added=(_change("new"),)),
        other=SharedChanges(changed=(SharedChange(BUCKET, "aws:s3/bucket:Bucket", "lake"),)),
    )
    urns = targets(diff, _plan("orders", "new", "clicks"))
    assert urns is not None
    assert set(urns) == {
        BUCKET,
        *(r["urn"] for r in _plan("orders", "new") if r["stream"]),
    }
    assert not any("clicks" in urn for urn in urns)


def test_no_targets_when_a_stream_is_removed_or_the_base_was_not_planned() -> None:
    assert targets(_diff(streams=StreamChanges(removed=(_change("old"),))), _plan()) is None
    assert targets(_diff(base_error="no such ref"), _plan("orders")) is None


def test_preview_changes_compare_operations_and_diffs_not_counts() -> None:
    app = child_urn("orders", APP, "app")

    def preview(instances: int) -> dict[str, Any]:
        return {
            "steps": [
                {"op": "same", "urn": STACK_URN},
                {
                    "op": "update",
                    "urn": app,
                    "detailedDiff": {"spec.executor.instances": {"kind": "update"}},
                    "newState": {"inputs": {"spec": {"executor": {"instances": instances}}}},
                },
            ]
        }

    assert set(preview_changes(preview(2))) == {app}
    assert preview_changes(preview(2))[app][0] == "update"
    assert preview_changes(preview(2)) == preview_changes(preview(2))
    assert preview_changes(preview(2)) != preview_changes(preview(3))
