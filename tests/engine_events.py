"""Hand-written Pulumi engine events (the ``--event-log`` format, one JSON object a line).

Only the fields the report reads, in the shape of Pulumi's ``apitype.EngineEvent``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

STACK_URN = "urn:pulumi:prod::spark-streams::pulumi:pulumi:Stack::spark-streams-prod"
STREAM = "spark-streams:streaming:Stream"


def stream_urn(identity: str) -> str:
    return f"urn:pulumi:prod::spark-streams::{STREAM}::{identity}"


def child_urn(identity: str, type_: str, part: str) -> str:
    return f"urn:pulumi:prod::spark-streams::{STREAM}${type_}::{identity}-{part}"


def shared_urn(type_: str, name: str, parent_type: str = "") -> str:
    chain = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:prod::spark-streams::{chain}::{name}"


def _metadata(
    urn: str, op: str, parent: str, diffs: list[str] | None, detailed: dict[str, Any] | None = None
) -> dict[str, Any]:
    type_ = urn.split("::")[2].split("$")[-1]
    state = {"type": type_, "urn": urn, "parent": parent, "id": ""}
    return {
        "op": op,
        "urn": urn,
        "type": type_,
        "old": None,
        "new": state,
        "diffs": diffs,
        "detailedDiff": detailed,
        "provider": "",
    }


def pre(urn: str, op: str = "same", parent: str = STACK_URN, **kw: Any) -> dict[str, Any]:
    meta = _metadata(urn, op, parent, kw.get("diffs"), kw.get("detailed"))
    return {"resourcePreEvent": {"metadata": meta, "planning": kw.get("planning", False)}}


def outputs(urn: str, op: str = "same", parent: str = STACK_URN) -> dict[str, Any]:
    return {"resOutputsEvent": {"metadata": _metadata(urn, op, parent, None)}}


def failed(urn: str, op: str = "update", parent: str = STACK_URN) -> dict[str, Any]:
    meta = _metadata(urn, op, parent, None)
    return {"resOpFailedEvent": {"metadata": meta, "status": 1, "steps": 1}}


def error(message: str, urn: str = "") -> dict[str, Any]:
    event: dict[str, Any] = {"message": message, "color": "never", "severity": "error"}
    if urn:
        event["urn"] = urn
    return {"diagnosticEvent": event}


def summary(is_preview: bool | None = None, **changes: int) -> dict[str, Any]:
    event: dict[str, Any] = {
        "maybeCorrupt": False,
        "durationSeconds": 42,
        "resourceChanges": changes,
        "PolicyPacks": {},
    }
    if is_preview is not None:
        event["isPreview"] = is_preview
    return {"summaryEvent": event}


def applied_stream(identity: str, op: str = "same") -> list[dict[str, Any]]:
    """A stream whose every resource reached its state."""
    parent = stream_urn(identity)
    children = [
        child_urn(identity, "aws:iam/role:Role", "role"),
        child_urn(identity, "kubernetes:apiextensions.k8s.io:CustomResource", "app"),
    ]
    events = [pre(parent)]
    for urn in children:
        events += [pre(urn, op, parent), outputs(urn, op, parent)]
    return [*events, outputs(parent)]


ORDERS_ROLE = child_urn("orders-ingest", "aws:iam/role:Role", "role")
DENIED = "AccessDenied: not authorized to perform iam:CreateRole on orders-ingest-role"


def one_stream_fails() -> list[dict[str, Any]]:
    """orders-ingest's role is refused; clicks and payments, independent of it, are applied."""
    parent = stream_urn("orders-ingest")
    return [
        *applied_stream("clicks", op="update"),
        pre(parent),
        pre(ORDERS_ROLE, "create", parent),
        error(f"<{{%reset%}}>creating IAM Role: {DENIED}<{{%reset%}}>\n", ORDERS_ROLE),
        failed(ORDERS_ROLE, "create", parent),
        outputs(parent),
        *applied_stream("payments", op="update"),
        error("update failed"),
        summary(update=4, same=6),
    ]


def lines(events: Iterable[dict[str, Any]]) -> str:
    """As Pulumi writes them: numbered, time-stamped, one a line."""
    return "".join(
        json.dumps({"sequence": i, "timestamp": 1_780_000_000, **event}) + "\n"
        for i, event in enumerate(events)
    )
