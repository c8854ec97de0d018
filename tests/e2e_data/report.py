"""What a `make e2e-data` run proved, per stack and stream; the JSON is in .e2e-data-report/.

usage: python -m tests.e2e_data.report DIR   (prints the summary of the JSON a run wrote)
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

from tests.reports import print_reports


def _stream_lines(stream: dict[str, Any]) -> list[str]:
    runs = {r["phase"]: r for r in stream["runs"]}
    batches = {p: len(r["committed"]) for p, r in runs.items()}
    rows = {p: sum(n for _, n in r["committed"]) for p, r in runs.items()}
    read = sum(len(v) for v in stream["sinks"].values())
    probes = stream["probes"]
    denied = [p for p in probes if p["expect"] == "denied"]
    allowed = [p for p in probes if p["expect"] == "allowed"]
    held = Counter((p["expect"], p["expect"] == p["outcome"]) for p in probes)
    lines = [
        f"   {stream['name']} (identity {stream['identity']}):",
        f"     init container mkdir: exit {stream['init'].get('exit_code')}, "
        f"{stream['init'].get('seconds')} s",
        "     micro-batches committed per run: "
        + ", ".join(f"{p} {n} ({rows[p]} rows, {runs[p]['seconds']} s)" for p, n in batches.items())
        + ("" if stream["lifecycle"] else " (lifecycle phases: another stream of the stack)"),
        f"     killed at batch {stream['killed'].get('batch')} with "
        f"{len(stream['killed'].get('uncommitted_files', []))} uncommitted file(s) in the sink",
        f"     rows written {sum(rows.values())}, read back with Spark {read}",
        f"     declared inputs read with Spark: {'; '.join(stream['reads']) or 'none declared'}",
        f"     denials tried {len(denied)}, refused {held[('denied', True)]}; "
        f"grants tried {len(allowed)}, allowed {held[('allowed', True)]}",
    ]
    lines += [
        f"       {p['action']} {p['bucket']}/{p['key']} ({p['whose']}): {p['outcome']}"
        for p in denied
    ]
    lines += [f"     error: {e.splitlines()[0]}" for e in stream["errors"]]
    return lines


def lines_for(report: dict[str, Any]) -> list[str]:
    lines = [
        f"== stack {report['stack']}: Spark {report['spark']}, Hadoop {report['hadoop']}, "
        f"AWS SDK {report['sdk']}, credentials {report['credentials_provider']} "
        f"({report['seconds']} s)"
    ]
    if report["credentials"] != "rendered":
        lines.append(f"   credentials swapped: {report['credentials']}")
        lines.append(f"   the rendered provider loads: {report['provider_loads']}")
    for bucket in report["buckets"]:
        lines.append(f"   bucket {json.dumps(bucket, sort_keys=True)}")
    for stream in report["streams"].values():
        lines += _stream_lines(stream)
    server = report["history_server"]
    if server.get("rendered"):
        lines.append(
            f"   History Server (Spark {server['spark']}): "
            f"{len(server['listed'])} applications listed, "
            f"{len(server['completed_applications_in_event_logs'])} completed in the event logs"
        )
    else:
        lines.append("   History Server: not rendered in this stack")
    lines += [f"   error: {e.splitlines()[0]}" for e in report["errors"]]
    return lines


if __name__ == "__main__":
    print_reports(sys.argv[1], lines_for)
