"""What the twin takes from the program itself, so it runs what the stacks would deploy.

``release STACK``: the spark-operator Helm release as ``spark-streams plan --json`` registers it
(name, namespace, chart version, values), as JSON: the twin checks that it built that chart.
``nodes STACK...``: kwok Node manifests (JSON list), a pool per placement the given stacks'
streams ask for (driver and executor each), labelled and tainted so that pods can be scheduled
only where the stacks say, and a pool with no label or taint of theirs for the cluster's own
workloads (the operator's and the History Server's pods).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NODES = 2  # per pool


def _run(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "spark_streams.cli", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _cli(*args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_run(*args))
    return result


def release(stack: str) -> dict[str, Any]:
    plan = _cli("plan", "--stack", stack, "--json")
    releases = [r for r in plan["resources"] if r["type"] == HELM_RELEASE]
    if len(releases) != 1:
        raise SystemExit(f"expected one Helm release in stack {stack}, found {len(releases)}")
    inputs = releases[0]["inputs"]
    return {
        "name": inputs["name"],
        "namespace": inputs["namespace"],
        "chart": inputs["chart"],
        "version": inputs["version"],
        "values": inputs["values"],
    }


# A node pool: its labels and its taints.
_Pool = tuple[dict[str, str], list[dict[str, str]]]


def nodes(stacks: list[str]) -> list[dict[str, Any]]:
    """A pool of nodes per placement the streams ask for: each role's node selector over the
    shared one, and a taint for each toleration that role has (a pod must tolerate them all)."""
    system: _Pool = ({"workload": "system"}, [])
    pools: dict[str, _Pool] = {"system": system}
    for stack in stacks:
        for stream in _cli("list", "--stack", stack, "--json")["streams"]:
            for role in ("driver", "executor"):
                settings = stream[role]
                labels = {**stream["node_selector"], **settings.get("node_selector", {})}
                taints = [
                    _taint(t) for t in [*stream["tolerations"], *settings.get("tolerations", [])]
                ]
                key = json.dumps([labels, taints], sort_keys=True)
                pools.setdefault(key, (labels, taints))
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"kwok-spark-{p}-{i}",
                # The annotation kwok is started to manage; the label is for humans.
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {
                    **labels,
                    "type": "kwok",
                    "kubernetes.io/hostname": f"kwok-spark-{p}-{i}",
                },
            },
            "spec": {"taints": taints},
            # Capacity for many streams: the twin tests scheduling rules, not bin packing.
            "status": {"capacity": {"cpu": "256", "memory": "1Ti", "pods": "1000"}},
        }
        for p, (labels, taints) in enumerate(pools.values())
        for i in range(NODES)
    ]


def _taint(toleration: dict[str, Any]) -> dict[str, str]:
    # Only Equal tolerations name a value a taint can carry; Exists tolerates any.
    return {
        "key": toleration["key"],
        "value": toleration.get("value") or "",
        "effect": toleration.get("effect") or "NoSchedule",
    }


def main(argv: list[str]) -> None:
    match argv:
        case ["release", stack]:
            print(json.dumps(release(stack)))
        case ["nodes", *stacks] if stacks:
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes(stacks)}))
        case _:
            raise SystemExit("usage: stackfacts.py release STACK | nodes STACK...")


if __name__ == "__main__":
    main(sys.argv[1:])
