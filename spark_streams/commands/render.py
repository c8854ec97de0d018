"""``spark-streams render``: every Kubernetes object the program registers, as multi-document
YAML in apply order (the Helm release is Helm's to expand)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components import HELM_RELEASE
from spark_streams.commands import UsageError
from spark_streams.commands.plan import offline_plan
from spark_streams.problems import did_you_mean

# kubectl-apply order: what others live in or refer to comes first.
_KIND_ORDER = ["Namespace", "PriorityClass", "Role", "RoleBinding", "Secret", "ServiceAccount"]


def run(project: Path, *, stack: str, streams_dir: Path | None, streams: Sequence[str]) -> str:
    plan = offline_plan(project, stack, streams_dir)
    chosen = set(streams)
    unknown = chosen - {r.stream for r in plan.resources}
    if unknown:
        known = sorted({r.stream for r in plan.resources if r.stream})
        raise UsageError(
            f"no stream {', '.join(sorted(unknown))} in stack {stack} (known: "
            f"{', '.join(known)}).{did_you_mean(sorted(unknown)[0], known)}"
        )
    documents = sorted(
        (
            r.inputs
            for r in plan.resources
            if r.type.startswith("kubernetes:")
            and r.type != HELM_RELEASE
            and (not chosen or r.stream in chosen)
        ),
        key=_apply_order,
    )
    header = (
        f"# Offline render of stack {stack} (Pulumi mocks, no cloud access).\n"
        "# The spark-operator Helm release is installed by Helm and not expanded here;\n"
        "# <unknown: ...> marks values only AWS knows, [secret] a secret value.\n"
    )
    return header + yaml.safe_dump_all(documents, sort_keys=True, explicit_start=True)


def _apply_order(document: dict[str, Any]) -> tuple[int, str]:
    kind = document.get("kind", "")
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return rank, f"{kind}/{document.get('metadata', {}).get('name', '')}"
