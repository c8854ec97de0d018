"""The merge-request note: what the change costs, the stream diff, then ``pulumi preview
--diff``, secrets masked.

Pure text building; posting it is :mod:`spark_streams.gitlab_notes`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from spark_streams.capacity import Cost
from spark_streams.diff import MARKDOWN_START, DiffResult, cost_table, markdown, money
from spark_streams.diff.result import CostChange
from spark_streams.pricing import MonthlyAmount, Percent
from spark_streams.stackfile import SECRET_PLACEHOLDER, leaves

# GitLab refuses notes longer than this many characters.
GITLAB_NOTE_LIMIT = 1_000_000
# Short values would mask ordinary words ("true", "dev"); real secrets are longer.
MIN_MASKED_LENGTH = 4


def marker(stack: str) -> str:
    """Hidden line identifying the note of one stack, so each run updates it in place."""
    return f"<!-- spark-streams:mr-note stack={stack} -->"


def read_diff(text: str) -> DiffResult | None:
    """``spark-streams diff --json`` output read back; ``None`` for its markdown output.

    :class:`ValueError` for anything else.
    """
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        if not text.startswith(MARKDOWN_START):
            raise ValueError(
                "neither `spark-streams diff --json` output nor its markdown (which starts "
                f"with {MARKDOWN_START!r})"
            ) from None
        return None
    try:
        return DiffResult.from_json(value)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise ValueError(
            f"JSON that is not `spark-streams diff --json` output ({where}: {first['msg']})"
        ) from None


_CONFIG_SHAPE = (
    'the output of `pulumi config --show-secrets --json`: {"<project>:<key>": {"value": ..., '
    '"secret": true|false}, ...}'
)


# --- what the change costs (issue #16; docs/cost.md) -----------------------------------------


def cost_section(result: DiffResult | None) -> list[str]:
    """The note's opening lines: the headline, a warning past ``pricing.warnAbove``, the table
    of the streams the change prices, and a chart of the stack's cost by stream."""
    cost = result.cost if result is not None else None
    if result is None or result.base_error or cost is None:
        return [headline(result)]
    lines = [headline(result)]
    if cost.warning and cost.warn_above is not None:
        lines += ["", warning(cost.warn_above, cost.currency)]
    lines += cost_table(result)
    # Unknown costs of the base would draw as nothing: no chart then.
    return lines if cost.delta_monthly is None else [*lines, "", *cost_chart(result, cost)]


def headline(result: DiffResult | None) -> str:
    """One line in the words reviewers know from cost tools, e.g. "Monthly cost will increase
    by $312 (+18%) to $2,045 (2 streams changed)"."""
    if result is None:
        return (
            "Monthly cost not estimated: that needs the stream diff as `spark-streams diff --json`."
        )
    if result.base_error:
        return "Monthly cost change unknown: the base could not be planned."
    cost = result.cost
    if cost is None:
        return "Monthly cost not estimated: the diff was written by a spark-streams without costs."
    old, new, delta = cost.old_monthly, cost.new_monthly, cost.delta_monthly
    if old is None or new is None or delta is None:
        now = "" if new is None else f" (now {money(new, cost.currency, cents=False)})"
        return f"Monthly cost change unknown{now}: {cost.unknown}."
    if round(delta, 2) == 0:
        return f"Monthly cost will not change ({money(new, cost.currency, cents=False)})."
    # Cents only where whole units would hide the change.
    by = money(abs(delta), cost.currency, cents=abs(delta) < 10)
    share = f" ({_percent(delta, old)})" if old else ""
    count = _streams_whose_cost_changes(result)
    streams = f"{count} stream{'s' if count != 1 else ''} changed"
    return (
        f"Monthly cost will {'increase' if delta > 0 else 'decrease'} by {by}{share} "
        f"to {money(new, cost.currency, cents=False)} ({streams})"
    )


def warning(threshold: Percent | MonthlyAmount, currency: str) -> str:
    """The line a rise past the stack's ``pricing.warnAbove`` adds."""
    limit = (
        f"{threshold} of the current cost"
        if isinstance(threshold, Percent)
        else f"{money(threshold.value, currency)} a month"
    )
    return (
        f"⚠️ **This change raises the stack's monthly cost by more than {limit}** "
        f"(`pricing.warnAbove: {threshold}`)."
    )


def cost_chart(result: DiffResult, cost: CostChange) -> list[str]:
    """A Mermaid bar chart of every stream's monthly cost, before and after, side by side.

    One bar per stream and side: xychart draws several bar series on top of each other, so the
    smaller would hide. GitLab and GitHub render ``mermaid`` code blocks in notes.
    """
    bars = {u.name: (u.cost.monthly_cost, u.cost.monthly_cost) for u in cost.unchanged}
    for entries in result.streams_by_kind.values():
        for entry in entries:
            change = entry.capacity
            old = change.old.monthly_cost if change and change.old else 0.0
            new = change.new.monthly_cost if change and change.new else 0.0
            bars[entry.name] = (old, new)
    labels, values = [], []
    for name, (old, new) in sorted(bars.items()):
        labels += [f'"{name} before"', f'"{name} after"']
        values += [round(old), round(new)]
    top = max([1, *values])
    return [
        "```mermaid",
        "xychart-beta horizontal",
        f'    title "Monthly cost by stream, before and after ({cost.currency})"',
        f"    x-axis [{', '.join(labels)}]",
        f'    y-axis "{cost.currency} a month" 0 --> {math.ceil(top * 1.1)}',
        f"    bar [{', '.join(map(str, values))}]",
        "```",
    ]


def _percent(delta: float, old: float) -> str:
    share = delta / old * 100
    return f"{share:+.0f}%" if abs(share) >= 1 else f"{share:+.1f}%"


def _streams_whose_cost_changes(result: DiffResult) -> int:
    def monthly(cost: Cost | None) -> float:
        return 0.0 if cost is None else cost.monthly_cost

    return sum(
        1
        for entries in result.streams_by_kind.values()
        for e in entries
        if e.capacity and round(monthly(e.capacity.old), 2) != round(monthly(e.capacity.new), 2)
    )


def secret_values_from_config(config_json: str) -> list[str]:
    """Secret values in ``pulumi config --show-secrets --json`` output; :class:`ValueError`
    saying what was expected when it is not that."""
    try:
        document: Any = json.loads(config_json)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"not JSON ({error.msg}, line {error.lineno}); expected {_CONFIG_SHAPE}"
        ) from None
    entries = document.values() if isinstance(document, dict) else None
    if entries is None or not all(isinstance(e, dict) and "secret" in e for e in entries):
        raise ValueError(f"not the expected shape; expected {_CONFIG_SHAPE}")
    values: list[str] = []
    for entry in entries:
        if entry["secret"]:
            values.extend(leaves(entry.get("objectValue", entry.get("value"))))
    return values


def mask(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_MASKED_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, SECRET_PLACEHOLDER)
    return text


def build(
    stack: str,
    preview: str,
    diff: DiffResult | str | None,
    secrets: Iterable[str],
    artifact_url: str | None,
    limit: int = GITLAB_NOTE_LIMIT,
) -> tuple[str, str]:
    """``(note, full_text)``: the note fits ``limit``; ``full_text`` is never truncated.

    ``diff`` is the stream diff (its cost opens the note), or a section of markdown already
    written (a diff's markdown output, or why there is none).
    """
    secrets = list(secrets)
    result = diff if isinstance(diff, DiffResult) else None
    if isinstance(diff, DiffResult):
        section = markdown(diff, with_cost=False)
    elif diff is not None:
        section = diff.strip() + "\n"
    else:
        section = "_No stream diff was given._\n"
    head = "\n".join(
        [
            marker(stack),
            *cost_section(result),
            "",
            f"## Pulumi preview of stack `{stack}`",
            "",
            section,
        ]
    )
    preview = mask(preview, secrets)
    lines = preview.count("\n") + (0 if preview.endswith("\n") else 1)

    def fold(body: str, note: str = "") -> str:
        return (
            f"{head}\n<details><summary><code>pulumi preview --diff</code> ({lines} lines)"
            f"</summary>\n\n```diff\n{body.rstrip()}\n```\n{note}</details>\n"
        )

    full = mask(fold(preview), secrets)
    if len(full) <= limit:
        return full, full
    where = f"the job artifact: {artifact_url}" if artifact_url else "the CI job's artifacts"
    note = f"\n**Truncated to fit GitLab's note limit; the full preview is in {where}.**\n"
    room = limit - len(fold("", note)) - 1
    cut = preview[: max(room, 0)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return mask(fold(cut, note), secrets), full
