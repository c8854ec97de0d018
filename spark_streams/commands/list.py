"""``spark-streams list``: every stream's effective settings, requests and monthly cost, and
the streams a stack leaves out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spark_streams import capacity
from spark_streams.commands import load, table

GROUPINGS = ("owner",)
# What `list --json` writes; bumped when its meaning changes.
LIST_VERSION = 1


def run(
    project: Path, *, stack: str, streams_dir: Path | None, json_out: bool, by: str | None
) -> str:
    loaded = load(project, stack, streams_dir)
    streams, pricing = loaded.streams, loaded.config.pricing
    costs = capacity.stream_costs(streams, pricing)
    total = capacity.total_cost(costs.values(), pricing.currency)
    groups = capacity.group_costs(streams, costs, by, pricing.currency) if by else None
    if json_out:
        payload: dict[str, Any] = {
            "stack": stack,
            "streams": [{**s.to_json(), "capacity": costs[s.identity].to_json()} for s in streams],
            "total": total.to_json(),
            "disabled": list(loaded.disabled),
            "version": LIST_VERSION,
        }
        if groups is not None:
            payload[f"by_{by}"] = [
                {by: g.key, "streams": list(g.streams), "capacity": g.cost.to_json()}
                for g in groups
            ]
        return json.dumps(payload, indent=2) + "\n"
    rows = [
        (
            "STREAM",
            "EXECUTORS",
            "CORES",
            "MEMORY",
            "RESTART",
            # what the stack asks for, not what runs now (only the cluster knows that)
            "DESIRED",
            "SINK",
            *_cost_header(pricing.currency),
        )
    ]
    for s in streams:
        rows.append(
            (
                s.name,
                str(s.executor.instances),
                str(s.executor.cores),
                s.executor.memory,
                s.restart_policy.type,
                "suspended" if s.suspend else "running",
                s.sink.uri,
                *_cost_cells(costs[s.identity]),
            )
        )
    rows += [(name, "-", "-", "-", "-", "disabled", "-", "-", "-", "-") for name in loaded.disabled]
    disabled = f", {len(loaded.disabled)} disabled" if loaded.disabled else ""
    return (
        table(rows)
        + f"{len(streams)} streams in stack {stack}{disabled}\n"
        + _summary(total, groups, by)
    )


def _cost_header(currency: str) -> tuple[str, str, str]:
    return ("CPU", "GiB", f"{currency}/MONTH")


def _cost_cells(cost: capacity.Cost) -> tuple[str, str, str]:
    return (f"{cost.cpu:g}", f"{cost.memory_gib:.1f}", f"{cost.monthly_cost:,.2f}")


def _summary(
    total: capacity.Cost, groups: list[capacity.CostGroup] | None, attribute: str | None
) -> str:
    lines = ""
    if groups is not None and attribute is not None:
        rows = [(attribute.upper(), "STREAMS", *_cost_header(total.currency))]
        rows += [(g.key, str(len(g.streams)), *_cost_cells(g.cost)) for g in groups]
        lines = "\n" + table(rows)
    return (
        f"{lines}Total requested: {total.cpu:g} CPU, {total.memory_gib:.1f} GiB, "
        f"{total.currency} {total.monthly_cost:,.2f} a month (requests at the stack's prices, "
        "not usage: see docs/cost.md)\n"
    )
