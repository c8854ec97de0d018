"""What the twin takes from the program itself, so it runs what the stacks would deploy.

``release STACK``: the spark-operator Helm release as ``spark-streams plan --json`` registers it
(name, namespace, chart version, values), as JSON.
``namespace STACK``: the streaming Namespace exactly as ``spark-streams render`` prints it; the
program creates it before the operator's release (whose chart puts RBAC in it), so the twin
applies it first too.
``nodes STACK...``: kwok Node manifests (JSON list) carrying every node selector label and a
taint for every toleration the given stacks' streams use, so their drivers can be scheduled
only where the stacks say.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import yaml

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NODES = 3


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


def namespace(stack: str) -> dict[str, Any]:
    documents = yaml.safe_load_all(_run("render", "--stack", stack))
    (found,) = [d for d in documents if d and d["kind"] == "Namespace"]
    result: dict[str, Any] = found
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


def nodes(stacks: list[str]) -> list[dict[str, Any]]:
    labels: dict[str, str] = {}
    taints: dict[tuple[str, str, str], dict[str, str]] = {}
    for stack in stacks:
        for stream in _cli("list", "--stack", stack, "--json")["streams"]:
            labels.update(stream["node_selector"])
            for toleration in stream["tolerations"]:
                # Only Equal tolerations name a value a taint can carry; Exists tolerates any.
                taint = {
                    "key": toleration["key"],
                    "value": toleration.get("value") or "",
                    "effect": toleration.get("effect") or "NoSchedule",
                }
                taints[(taint["key"], taint["value"], taint["effect"])] = taint
    return [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": f"kwok-spark-{i}",
                # The annotation kwok is started to manage; the label is for humans.
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {**labels, "type": "kwok", "kubernetes.io/hostname": f"kwok-spark-{i}"},
            },
            "spec": {"taints": list(taints.values())},
            # Capacity for many streams: the twin tests scheduling rules, not bin packing.
            "status": {"capacity": {"cpu": "256", "memory": "1Ti", "pods": "1000"}},
        }
        for i in range(NODES)
    ]


def main(argv: list[str]) -> None:
    match argv:
        case ["release", stack]:
            print(json.dumps(release(stack)))
        case ["namespace", stack]:
            print(json.dumps(namespace(stack)))
        case ["nodes", *stacks] if stacks:
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes(stacks)}))
        case _:
            raise SystemExit(
                "usage: stackfacts.py release STACK | namespace STACK | nodes STACK..."
            )


if __name__ == "__main__":
    main(sys.argv[1:])
