"""Reading what a timed engine run left behind, for `make bench-twin` (twin/bench_engine.py):
where the time of a `pulumi` command went (its ``--event-log``), the `--target` list a
stream-level diff implies, and the changes a `preview --json` reports. Pure functions on the
files' contents, so they are tested without a twin (tests/test_bench_twin.py).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from components import STREAM_READY
from spark_streams.deploy_report import UNCHANGED_OPS
from spark_streams.diff import DiffResult


@dataclass
class Step:
    """One resource's step as the engine logged it (event timestamps are whole seconds)."""

    urn: str
    type: str
    op: str
    started: int
    ended: int | None = None
    failed: bool = False

    @property
    def package(self) -> str:
        """Who performs it: the provider's package, ``readiness`` for the per-stream waits,
        ``component`` for the program's own components (no provider)."""
        if self.type == STREAM_READY:
            return "readiness"
        package = self.type.split(":", 1)[0]
        return "component" if package in ("spark-streams", "pulumi") else package


@dataclass
class Timeline:
    """The steps of one command and the span of its events."""

    steps: dict[str, Step] = field(default_factory=dict)
    first_event: int | None = None
    last_event: int | None = None


def read_timeline(lines: Iterable[str]) -> Timeline:
    """Steps from an event log: a ``resourcePreEvent`` starts one, its ``resOutputsEvent`` (or
    ``resOpFailedEvent``) ends it. Preview events (``planning``) of a `pulumi up` that ran its
    own preview are left out, so the steps are the update's. Unreadable lines are skipped."""
    timeline = Timeline()
    for line in lines:
        try:
            event: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue
        stamp = event.get("timestamp")
        if not isinstance(stamp, int):
            continue
        if timeline.first_event is None:
            timeline.first_event = stamp
        timeline.last_event = stamp
        if pre := event.get("resourcePreEvent"):
            meta = pre["metadata"]
            # The update's own step replaces its preview's.
            timeline.steps[meta["urn"]] = Step(meta["urn"], meta["type"], meta["op"], stamp)
        elif done := event.get("resOutputsEvent") or event.get("resOpFailedEvent"):
            step = timeline.steps.get(done["metadata"]["urn"])
            if step is not None:
                step.ended = stamp
                step.failed = "resOpFailedEvent" in event
    return timeline


def where_time_goes(timeline: Timeline, started: float, ended: float) -> dict[str, Any]:
    """The command's wall time split along its event log: before the first step (CLI start,
    plugins, the program until its first registration), the steps' span, after the last one;
    per package the steps that changed something: how many, their summed and longest seconds
    and the span from the first one's start to the last one's end (steps overlap, so sums are
    provider time, not wall time)."""
    changed = [s for s in timeline.steps.values() if s.op not in UNCHANGED_OPS]
    every = list(timeline.steps.values())
    result: dict[str, Any] = {"seconds": round(ended - started, 1), "steps": len(every)}
    if every:
        first = min(s.started for s in every)
        last = max(s.ended if s.ended is not None else s.started for s in every)
        result |= {
            "before_first_step": round(first - started, 1),
            "steps_span": last - first,
            "after_last_step": round(ended - last, 1),
        }
    packages: dict[str, Any] = {}
    for package in sorted({s.package for s in changed}):
        mine = [s for s in changed if s.package == package]
        durations = [s.ended - s.started for s in mine if s.ended is not None]
        packages[package] = {
            "steps": len(mine),
            "failed": sum(s.failed for s in mine),
            "step_seconds_sum": sum(durations),
            "step_seconds_max": max(durations, default=0),
            "step_seconds_median": statistics.median(durations) if durations else 0,
            "span": (
                max(s.ended for s in mine if s.ended is not None) - min(s.started for s in mine)
                if durations
                else 0
            ),
        }
    result["packages"] = packages
    return result


def targets(diff: DiffResult, plan_resources: list[dict[str, Any]]) -> list[str] | None:
    """The URNs a merge request's `pulumi preview --target` needs for what ``diff`` (`spark-streams
    diff --json`) says changed: every resource of each added or changed stream (``plan
    --json``'s ``stream`` is its identity) and each shared resource the diff names. A removed
    stream's resources are in the stack's state, not in the plan, and a diff whose base could
    not be planned says nothing: ``None`` for both, and the caller previews everything."""
    if diff.streams.removed or diff.base_error:
        return None
    identities = {s.identity for s in (*diff.streams.added, *diff.streams.changed)}
    shared = {c.urn for c in (*diff.other.added, *diff.other.changed, *diff.other.removed)}
    urns = [r["urn"] for r in plan_resources if r.get("stream") in identities or r["urn"] in shared]
    return sorted(set(urns) | shared)


def preview_changes(preview_json: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per URN a `pulumi preview --json` plans to change: its operation, and its detailed diff
    and new inputs as canonical JSON, so two previews compare as answers, not as counts."""
    steps: list[dict[str, Any]] = preview_json.get("steps") or []
    return {
        s["urn"]: (
            s["op"],
            json.dumps(
                {
                    "detailedDiff": s.get("detailedDiff"),
                    "inputs": (s.get("newState") or {}).get("inputs"),
                },
                sort_keys=True,
            ),
        )
        for s in steps
        if s.get("op") not in UNCHANGED_OPS
    }
