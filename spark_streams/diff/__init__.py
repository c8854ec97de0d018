"""Stream-level semantic diff between the program at a git ref and the working tree.

Along its seams: :mod:`.base` evaluates the base ref with its own code in a process of its own,
while this process evaluates the working tree (:mod:`spark_streams.evaluation`, the same typed
model on both sides); :mod:`.compare` says what changes and what that means; :mod:`.pricing`
prices it; :mod:`.markdown` and :mod:`.result`'s JSON show it. A base that cannot be planned
still gives a result: the working tree's streams, marked as not comparable, and why.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from spark_streams.diff.base import BaseRun, GitRefError, export_ref
from spark_streams.diff.compare import Side, compare, not_comparable
from spark_streams.diff.markdown import MARKDOWN_START, cost_table, markdown, money
from spark_streams.diff.pricing import priced
from spark_streams.diff.result import DiffResult
from spark_streams.evaluation import evaluate
from spark_streams.pricing import PricingConfig

__all__ = [
    "MARKDOWN_START",
    "DiffResult",
    "GitRefError",
    "cost_table",
    "diff",
    "markdown",
    "money",
]


def diff(project_dir: Path, stack: str, base: str, streams_dir: Path | None) -> DiffResult:
    """The working tree against ``base``; :class:`InvalidInputError` if the working tree is
    invalid, :class:`GitRefError` if ``base`` cannot be read."""
    with tempfile.TemporaryDirectory(prefix="spark-streams-base-") as tmp:
        commit = export_ref(project_dir, base, Path(tmp))
        base_run = BaseRun(Path(tmp), stack, streams_dir)
        try:
            here = evaluate(project_dir, stack, streams_dir)
        finally:
            there = base_run.result()
    after = Side.of(here)
    if there.error is not None:
        return not_comparable(after, stack=stack, base=base, commit=commit, reason=there.error)
    result = compare(Side.of(there), after, stack=stack, base=base, commit=commit)
    # The working tree's prices for both sides: what a change costs is then what it changes in
    # requests, not a change of prices. The defaults when the working tree has no such stack.
    return priced(result, Side.of(there), after, here.pricing or PricingConfig())
