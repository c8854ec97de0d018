"""Prints what a `make e2e` run proved, from the JSON each stack's run wrote.

usage: python -m tests.e2e.report DIR
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from tests.reports import print_reports


def summary(report: dict[str, Any]) -> list[str]:
    lines = [f"== stack {report['stack']}"]
    lines += [f"   {name}: {version}" for name, version in report["versions"].items()]
    lines.append("   engine commands (twin/pulumi):")
    lines += [
        f"     exit {d['exit']} {d['seconds']:6.1f}s  {d['command']}: {', '.join(d['resources'])}"
        for d in report["deploys"]
    ]
    applied = Counter(a.split("/")[0] for a in report["objects_applied"])
    lines.append(
        f"   objects applied behind Pulumi's back: {len(report['objects_applied'])} "
        f"({', '.join(f'{n} {k}' for k, n in sorted(applied.items()))}); "
        f"deleted: {len(report['objects_deleted'])}"
    )
    lines.append(
        f"   pods admitted: {len(report['pods_admitted'])}; "
        f"rejected: {len(report['pods_rejected'])} "
        f"({'; '.join(r['pod'] for r in report['pods_rejected'])})"
    )
    lines.append("   state transitions (seconds since the run started):")
    lines += [
        f"     {t['at_s']:7.2f}  {t['app']}: {t['from'] or '-'} -> {t['to']}"
        for t in report["state_transitions"]
    ]
    lines.append("   proven:")
    for proof in report["proofs"]:
        facts = {k: v for k, v in proof.items() if k not in {"scenario", "at_s"}}
        lines.append(f"     {proof['scenario']}: {json.dumps(facts, sort_keys=True)[:300]}")
    return lines


if __name__ == "__main__":
    print_reports(sys.argv[1], summary)
