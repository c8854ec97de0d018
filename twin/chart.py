"""Splits the spark-operator chart, as helm rendered it, into what the twin applies and runs.

usage: chart.py CHART_YAML OUT_DIR WEBHOOK_BASE_URL

Writes to OUT_DIR:
- chart-crds.yaml: the chart's CRDs;
- chart-objects.yaml: its service accounts, RBAC and webhook configurations, the latter pointed
  at WEBHOOK_BASE_URL (the local webhook process) instead of the chart's Service, which no
  host process can stand behind;
- operator.json: for the controller and the webhook, the args their Deployment passes and the
  service account it runs as, so the host processes run as the release configures them.

Left out: Deployments and Services (the processes run on the host), PodDisruptionBudgets
and Helm hooks (the CRD-upgrade Job; the twin
applies the CRDs itself).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

APPLIED = {
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    # Accepted by the twin's stand-in CRD (twin/crds/), as in a cluster with Prometheus.
    "PodMonitor",
}
WEBHOOK_CONFIGURATIONS = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
IGNORED = {"Deployment", "Service", "PodDisruptionBudget", "Job"}


def _process(deployment: dict[str, Any]) -> dict[str, Any]:
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"].startswith("spark-operator")]
    return {"serviceAccount": pod["serviceAccountName"], "args": container["args"]}


def _point_at(configuration: dict[str, Any], base_url: str) -> dict[str, Any]:
    for webhook in configuration["webhooks"]:
        service = webhook["clientConfig"].pop("service")
        webhook["clientConfig"]["url"] = base_url + service["path"]
    return configuration


def split(documents: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    crds: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    processes: dict[str, Any] = {}
    for doc in documents:
        kind = doc["kind"]
        if "helm.sh/hook" in doc["metadata"].get("annotations", {}):
            continue
        if kind == "CustomResourceDefinition":
            crds.append(doc)
        elif kind in APPLIED:
            if kind in WEBHOOK_CONFIGURATIONS:
                doc = _point_at(doc, base_url)
                processes.setdefault("webhook", {})["configuration"] = doc["metadata"]["name"]
            objects.append(doc)
        elif kind == "Deployment":
            role = doc["metadata"]["labels"]["app.kubernetes.io/component"]
            processes.setdefault(role, {}).update(_process(doc))
        elif kind not in IGNORED:
            raise SystemExit(f"chart renders a {kind} the twin does not know what to do with")
    missing = {"controller", "webhook"} - processes.keys()
    if missing:
        raise SystemExit(f"chart renders no {', '.join(sorted(missing))} Deployment")
    return {"crds": crds, "objects": objects, "processes": processes}


def main(argv: list[str]) -> None:
    chart, out, base_url = argv
    documents = [d for d in yaml.safe_load_all(Path(chart).read_text()) if d]
    parts = split(documents, base_url)
    out_dir = Path(out)
    (out_dir / "chart-crds.yaml").write_text(yaml.safe_dump_all(parts["crds"]))
    (out_dir / "chart-objects.yaml").write_text(yaml.safe_dump_all(parts["objects"]))
    (out_dir / "operator.json").write_text(json.dumps(parts["processes"], indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
