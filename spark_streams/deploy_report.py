"""Which streams a ``pulumi up`` (or drift ``pulumi preview``) left short of their state.

Reads Pulumi's engine event log (``--event-log``: one JSON event a line) and answers per stream,
for the job log (stdout) and a markdown summary (``--summary``: GitHub's
``$GITHUB_STEP_SUMMARY``, a GitLab artifact). A stream is the component
``spark-streams:streaming:Stream`` whose logical name is its identity; every other resource is
shared (buckets, namespace, operator, monitoring).

The report never decides whether the job fails: the job keeps Pulumi's own exit status. A log
that is missing, cut short or partly unreadable still gives a report, saying so, because that is
exactly when a deploy went wrong. Exit 0 once the report is written, 1 when it cannot be.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import STREAM as STREAM_TYPE

STACK_TYPE = "pulumi:pulumi:Stack"
# Steps that leave a resource as it is: the rest are changes, which a drift check must not find.
UNCHANGED_OPS = frozenset({"same", "read", "refresh"})
# Property names (never values) shown beside a change, so the summary holds no secret.
DIFF_KEYS_SHOWN = 8
# A message is a clue in a table cell, not the whole provider error (the job log has that).
MESSAGE_LIMIT = 400
# Colour directives (<{%reset%}>) and ANSI escapes that Pulumi may leave in messages.
_COLOUR = re.compile(r"<\{%[^%]*%\}>|\x1b\[[0-9;]*m")


@dataclass
class EventLog:
    """What the report needs from the events, whatever order they came in."""

    failed: dict[str, list[str]] = field(default_factory=dict)  # URN -> error messages
    changes: dict[str, list[str]] = field(default_factory=dict)  # URN -> planned steps
    # URN -> what a refresh found changed outside Pulumi. Not drift by itself: an output that
    # moves on its own (a SparkApplication's status) changes nothing the next deploy would do.
    refreshed: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    streams: set[str] = field(default_factory=set)  # identities of the Stream components seen
    errors: list[str] = field(default_factory=list)  # errors about no resource (program, backend)
    # Pulumi wrote the summary of its preview / of its update. `pulumi up` without
    # --skip-preview logs both, and only the update's means that the deploy's log is whole.
    previewed: bool = False
    updated: bool = False
    events: int = 0
    unreadable: int = 0


def read_events(lines: Iterable[str]) -> EventLog:
    log = EventLog()
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            log.unreadable += 1
            continue
        if not isinstance(event, dict):
            log.unreadable += 1
            continue
        log.events += 1
        _read_event(log, event)
    return log


def _read_event(log: EventLog, event: dict[str, Any]) -> None:
    for kind in ("resourcePreEvent", "resOutputsEvent", "resOpFailedEvent"):
        step = _dict(_dict(event.get(kind)).get("metadata"))
        urn = _str(step.get("urn"))
        if not urn:
            continue
        for state in (_dict(step.get("new")), _dict(step.get("old"))):
            if parent := _str(state.get("parent")):
                log.parents[urn] = parent
        if _type_chain(urn)[-1:] == [STREAM_TYPE]:
            log.streams.add(_name(urn))
        op = _str(step.get("op"))
        if kind == "resOpFailedEvent":
            log.failed.setdefault(urn, [])
        elif kind == "resourcePreEvent" and op == "refresh":
            if keys := _changed_keys(step):
                log.refreshed[urn] = f"changed outside Pulumi: {keys}"
        elif kind == "resourcePreEvent" and op not in UNCHANGED_OPS:
            steps = log.changes.setdefault(urn, [])
            text = f"{op}: {keys}" if (keys := _changed_keys(step)) else op
            if text not in steps:
                steps.append(text)
    diagnostic = _dict(event.get("diagnosticEvent"))
    if diagnostic.get("severity") == "error":
        _add_error(log, _str(diagnostic.get("urn")), _str(diagnostic.get("message")))
    policy = _dict(event.get("policyEvent"))
    if policy.get("enforcementLevel") == "mandatory":
        message = f"policy {_str(policy.get('policyName'))}: {_str(policy.get('message'))}"
        _add_error(log, _str(policy.get("resourceUrn")), message)
    if "summaryEvent" in event:
        is_preview = _dict(event["summaryEvent"]).get("isPreview")
        # An older Pulumi writes no isPreview: its summary counts as either.
        log.previewed |= is_preview is not False
        log.updated |= is_preview is not True


def _changed_keys(step: dict[str, Any]) -> str:
    """The names of the properties a step changes (``diffs``, else ``detailedDiff``)."""
    diffs = step.get("diffs")
    keys = [k for k in diffs if isinstance(k, str)] if isinstance(diffs, list) else []
    keys = keys or list(_dict(step.get("detailedDiff")))
    more = ", …" if len(keys) > DIFF_KEYS_SHOWN else ""
    return ", ".join(keys[:DIFF_KEYS_SHOWN]) + more


def _add_error(log: EventLog, urn: str, message: str) -> None:
    text = _clean(message)
    if not urn or _type_chain(urn)[-1:] == [STACK_TYPE]:
        if text and text not in log.errors:
            log.errors.append(text)
        return
    messages = log.failed.setdefault(urn, [])
    if text and text not in messages:
        messages.append(text)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _clean(message: str) -> str:
    text = " ".join(_COLOUR.sub("", message).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _type_chain(urn: str) -> list[str]:
    """``urn:pulumi:<stack>::<project>::<parent types $ type>::<name>`` -> the types."""
    parts = urn.split("::", 3)
    return parts[2].split("$") if len(parts) == 4 else []


def _name(urn: str) -> str:
    parts = urn.split("::", 3)
    return parts[3] if len(parts) == 4 else urn


def stream_of(urn: str, parents: dict[str, str]) -> str | None:
    """The identity of the stream a resource belongs to, None for a shared one."""
    chain = _type_chain(urn)
    if STREAM_TYPE not in chain:
        return None
    current: str | None = urn
    seen: set[str] = set()
    while current and current not in seen:
        if _type_chain(current)[-1:] == [STREAM_TYPE]:
            return _name(current)
        seen.add(current)
        current = parents.get(current)
    # The parent was not in the (cut short) log: the component names its children
    # "<identity>-<part>", and no part has a hyphen.
    return _name(urn).rsplit("-", 1)[0]


@dataclass(frozen=True)
class Row:
    stream: str | None  # None: a shared resource
    urn: str
    detail: str

    @property
    def resource(self) -> str:
        types = _type_chain(self.urn)
        return f"{types[-1] if types else '?'} {_name(self.urn)}"


@dataclass(frozen=True)
class Report:
    stack: str
    drift: bool  # the log is a drift check's preview, not a deploy
    exit_code: int | None
    log: EventLog | None  # None: no event log, or an empty one (the job may create the file)

    def _rows(self, details: dict[str, list[str]], empty: str) -> list[Row]:
        parents = self.log.parents if self.log else {}
        rows = [Row(stream_of(u, parents), u, "; ".join(d) or empty) for u, d in details.items()]
        return sorted(rows, key=lambda r: (r.stream is None, r.stream or "", r.urn))

    @property
    def failures(self) -> list[Row]:
        return self._rows(self.log.failed, "failed (see the job log)") if self.log else []

    @property
    def changes(self) -> list[Row]:
        if not (self.log and self.drift):
            return []
        refreshed = self.log.refreshed
        steps = {
            u: [refreshed[u], *d] if u in refreshed else d for u, d in self.log.changes.items()
        }
        return self._rows(steps, "")

    @property
    def failed_streams(self) -> list[str]:
        return sorted({r.stream for r in self.failures if r.stream})

    def headline(self) -> str:
        what = f"Drift check of `{self.stack}`" if self.drift else f"Deploy of `{self.stack}`"
        failures, changes = self.failures, self.changes
        if changes:
            streams = sorted({r.stream for r in changes if r.stream})
            return (
                f"{what}: drift in {len(changes)} resource(s)"
                + (f", streams {', '.join(streams)}" if streams else "")
                + ": the next deploy would set them back to what the program says."
            )
        if failures and self.drift:
            return f"{what}: failed on {len(failures)} resource(s), drift unknown."
        if failures:
            failed, shared = self.failed_streams, [r for r in failures if r.stream is None]
            parts: list[str] = []
            if failed:
                parts.append(
                    f"{len(failed)} stream(s) did not reach their state ({', '.join(failed)})"
                )
            if shared:
                parts.append(f"{len(shared)} shared resource(s) failed")
            return f"{what}: {'; '.join(parts)}."
        if self.log is None:
            exited = f" (pulumi exited {self.exit_code})" if self.exit_code is not None else ""
            return f"{what}: no event log to read{exited}."
        if self.exit_code:
            return (
                f"{what}: pulumi exited {self.exit_code} with no failed resource operation "
                "(a program, policy or backend error: see the job log)."
            )
        if self.drift:
            return f"{what}: no drift."
        return (
            f"{what}: every stream reached its state "
            f"({len(self.log.streams)} stream(s) in the update)."
        )

    def notes(self) -> list[str]:
        if self.log is None:
            return ["No event log: pulumi stopped before it started (see the job log)."]
        notes: list[str] = []
        if not self.drift and any(r.stream is None for r in self.failures):
            notes.append(
                "Resources that depend on a failed shared resource were not updated: streams "
                "wait for the operator, namespace and buckets, so streams not listed may be "
                "unchanged too."
            )
        if not (self.log.previewed if self.drift else self.log.updated):
            notes.append(
                "The event log ends before Pulumi's summary"
                + (f" ({self.log.unreadable} unreadable line(s))" if self.log.unreadable else "")
                + ": pulumi was stopped, and these lists may be incomplete."
            )
        elif self.log.unreadable:
            notes.append(f"{self.log.unreadable} unreadable line(s) in the event log, skipped.")
        return notes

    def text(self) -> str:
        lines = [self.headline()]
        for row in self.changes:
            lines.append(f"  drift  {row.stream or '(shared)'}: {row.resource}: {row.detail}")
        for row in self.failures:
            where = f"stream {row.stream}" if row.stream else "shared"
            lines.append(f"  failed {where}: {row.resource}: {row.detail}")
        lines.extend(f"  error: {error}" for error in (self.log.errors if self.log else []))
        lines.extend(f"  note: {note}" for note in self.notes())
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        parts = [f"### {self.headline()}\n"]
        if self.changes:
            parts.append(_table(("stream", "resource", "change"), self.changes))
        if self.failures:
            parts.append(_table(("stream", "resource", "what failed"), self.failures))
        if self.log and self.log.errors:
            parts.append("Errors:\n\n" + "".join(f"- {_cell(e)}\n" for e in self.log.errors))
        parts.extend(f"> {note}\n" for note in self.notes())
        return "\n".join(parts)


def _table(header: tuple[str, str, str], rows: list[Row]) -> str:
    lines = [f"| {' | '.join(header)} |", "| --- | --- | --- |"]
    for row in rows:
        stream = f"`{row.stream}`" if row.stream else "(shared)"
        lines.append(f"| {stream} | `{_cell(row.resource)}` | {_cell(row.detail)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spark_streams.deploy_report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--events", type=Path, required=True, help="pulumi's --event-log file")
    parser.add_argument("--stack", required=True, help="stack name, for the headline")
    parser.add_argument("--exit-code", type=int, help="pulumi's exit status, for the headline")
    parser.add_argument("--summary", type=Path, help="append the markdown report to this file")
    parser.add_argument(
        "--drift", action="store_true", help="the log is a drift check's preview: list changes"
    )
    parser.add_argument(
        "--github-output", type=Path, help="append drift=true|false (GitHub's $GITHUB_OUTPUT)"
    )
    args = parser.parse_args(argv)
    try:
        with args.events.open(encoding="utf-8", errors="replace") as events:
            log: EventLog | None = read_events(events)
    except OSError:
        log = None
    if log and not log.events and not log.unreadable:
        log = None
    report = Report(args.stack, args.drift, args.exit_code, log)
    sys.stdout.write(report.text())
    try:
        if args.summary:
            with args.summary.open("a", encoding="utf-8") as summary:
                summary.write(report.markdown())
        if args.github_output:
            with args.github_output.open("a", encoding="utf-8") as output:
                output.write(f"drift={'true' if report.changes else 'false'}\n")
    except OSError as error:
        print(f"deploy_report: cannot write the report: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
