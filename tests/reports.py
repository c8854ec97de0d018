"""What an end-to-end run proved, printed from the JSON it wrote: one file per stack in DIR.

``make e2e`` and ``make e2e-data`` each name their own summary of one stack's JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def print_reports(directory: str, summary: Callable[[dict[str, Any]], list[str]]) -> None:
    reports = sorted(Path(directory).glob("*.json"))
    if not reports:
        raise SystemExit(f"no reports in {directory}")
    for path in reports:
        print("\n".join(summary(json.loads(path.read_text()))))
    print(f"(JSON: {', '.join(str(p) for p in reports)})")
