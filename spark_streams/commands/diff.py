"""``spark-streams diff``: what changes, stream by stream, against a git ref (offline)."""

from __future__ import annotations

import json
from pathlib import Path

from spark_streams import diff
from spark_streams.commands import UsageError


def compute(project: Path, stack: str, base: str, streams_dir: Path | None) -> diff.DiffResult:
    """The working tree against ``base``; a ref git cannot read is a usage error."""
    try:
        return diff.diff(project, stack, base, streams_dir)
    except diff.GitRefError as error:
        raise UsageError(f"cannot read --base {base}: {error}") from None


def run(project: Path, *, stack: str, streams_dir: Path | None, base: str, json_out: bool) -> str:
    result = compute(project, stack, base, streams_dir)
    if json_out:
        return json.dumps(result.to_json(), indent=2) + "\n"
    return diff.markdown(result)
