"""The diff as markdown: a merge-request note section, streams first, in words."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from spark_streams.capacity import Cost
from spark_streams.diff.result import CapacityChange, DiffResult, StreamChange


def markdown(result: DiffResult, *, with_cost: bool = True) -> str:
    """The diff as a merge-request note section: streams first, in words; their cost in a table
    unless ``with_cost`` is false (the note shows it above)."""
    shared = {
        "added": result.other.added,
        "changed": result.other.changed,
        "removed": result.other.removed,
    }
    counts = [
        f"{len(entries)} stream{'s' if len(entries) != 1 else ''} {kind}"
        for kind, entries in result.streams_by_kind.items()
        if entries
    ]
    shared_count = sum(len(v) for v in shared.values())
    if shared_count:
        counts.append(f"{shared_count} shared resource{'s' if shared_count != 1 else ''} changed")
    lines = [
        f"{MARKDOWN_START}`{result.stack}` compared with `{result.base}` "
        f"({result.base_commit[:10]})",
        "",
    ]
    if result.base_error:
        lines.append(
            f"**The base could not be planned, so nothing was compared:** {result.base_error}"
        )
        sections: dict[str, tuple[StreamChange, ...]] = {"Not compared": result.not_comparable}
    else:
        lines.append(f"**{', '.join(counts)}.**" if counts else "**No change.**")
        sections = {
            title.capitalize(): entries for title, entries in result.streams_by_kind.items()
        }
        if with_cost:
            lines += cost_table(result)
    for title, entries in sections.items():
        if not entries:
            continue
        lines += ["", f"#### {title}"]
        for entry in entries:
            renamed = f" (was `{entry.renamed_from}`)" if entry.renamed_from else ""
            lines.append(f"- **`{entry.name}`**{renamed}")
            for change in entry.fields:
                lines.append(f"  - `{change.field}`: `{_show(change.old)}` → `{_show(change.new)}`")
            for consequence in entry.consequences:
                mark = "⚠️ " if consequence.kind in _ALERTING else ""
                lines.append(f"  - {mark}{consequence.text}")
    if shared_count:
        lines += [
            "",
            "#### Shared resources",
            "",
            "| change | type | name | what it does | fields |",
            "| --- | --- | --- | --- | --- |",
        ]
        for kind, resources in shared.items():
            for r in resources:
                fields = ", ".join(f"`{f}`" for f in (r.fields or ())[:8])
                lines.append(f"| {kind} | `{r.type}` | `{r.name}` | {r.meaning} | {fields} |")
    return "\n".join(lines) + "\n"


MARKDOWN_START = "### Streams in "
_ALERTING = {"checkpoint", "stop", "restart", "sink", "suspend"}


def _show(value: Any) -> str:
    if isinstance(value, list):
        text = f"[{', '.join(_show(v) for v in value)}]"
    elif isinstance(value, dict) and set(value) == {"bucket", "prefix"}:
        text = f"s3a://{value['bucket']}/{value['prefix']}"  # an S3 location, as the job sees it
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


_SHOWN = 240


def money(amount: float, currency: str, *, cents: bool = True) -> str:
    """``$1,234.56``; ``-$312`` without cents; codes without a symbol after: ``1,234.56 CHF``."""
    digits = f"{abs(amount):,.{2 if cents else 0}f}"
    sign = "-" if round(amount, 2 if cents else 0) < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def cost_table(result: DiffResult) -> list[str]:
    """Markdown lines: each added, removed and changed stream's requests and monthly cost
    before and after, and the stack's total; nothing when the diff was not priced."""
    cost = result.cost
    if cost is None:
        return []
    lines = [
        "",
        f"#### Monthly cost ({cost.currency}, requests at the stack's prices; see docs/cost.md)",
    ]
    if cost.unknown:
        lines += ["", f"_Before is unknown: {cost.unknown}._"]
    if not any(result.streams_by_kind.values()) and cost.new_monthly is not None:
        return [*lines, "", f"No stream changes: {money(cost.new_monthly, cost.currency)} a month."]
    lines += [
        "",
        "| stream | change | CPU | memory (GiB) | monthly cost |",
        "| --- | --- | --- | --- | --- |",
    ]

    def span(old: float | None, new: float | None, show: Callable[[float], str]) -> str:
        if old is not None and new is not None and round(old, 2) == round(new, 2):
            return show(new)
        return f"{'—' if old is None else show(old)} → {'—' if new is None else show(new)}"

    def amount(value: float) -> str:
        return money(value, cost.currency)

    columns: tuple[tuple[Callable[[Cost], float], Callable[[float], str]], ...] = (
        (lambda c: c.cpu, _number),
        (lambda c: c.memory_gib, _number),
        (lambda c: c.monthly_cost, amount),
    )
    for kind, entries in result.streams_by_kind.items():
        for entry in entries:
            change = entry.capacity or CapacityChange(None, None)
            old, new = change.old, change.new
            cells = [
                span(None if old is None else pick(old), None if new is None else pick(new), show)
                for pick, show in columns
            ]
            lines.append(f"| `{entry.name}` | {kind} | {' | '.join(cells)} |")
    delta = cost.delta_monthly
    change_text = (
        ""
        if delta is None or round(delta, 2) == 0
        else f" ({'+' if delta > 0 else ''}{amount(delta)})"
    )
    lines.append(
        f"| **total** | | | | **{span(cost.old_monthly, cost.new_monthly, amount)}**{change_text} |"
    )
    return lines


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
