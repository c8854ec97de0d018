"""``spark-streams plan``: every resource the program registers, run under Pulumi's mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from spark_streams.commands import load, table

if TYPE_CHECKING:
    from spark_streams.offline import Plan


def offline_plan(project: Path, stack: str, streams_dir: Path | None) -> Plan:
    """The stack's plan once its inputs pass the verdict."""
    loaded = load(project, stack, streams_dir)
    from spark_streams import offline  # Pulumi loads only for a valid input

    return offline.plan(loaded)


def run(project: Path, *, stack: str, streams_dir: Path | None, json_out: bool) -> str:
    plan = offline_plan(project, stack, streams_dir)
    if json_out:
        return json.dumps(plan.to_json()) + "\n"
    rows = [("TYPE", "NAME", "STREAM", "PROTECT")]
    for r in plan.resources:
        rows.append((r.type, r.name, r.stream or "-", "yes" if r.protect else ""))
    streams = {r.stream for r in plan.resources if r.stream}
    return (
        f"Offline plan of stack {stack}: the program run under Pulumi's mocks, no cloud "
        "access.\n<unknown: ...> values are known only after `pulumi up`.\n\n"
        + table(rows)
        + f"\n{len(plan.resources)} resources, {len(streams)} streams.\n"
    )
