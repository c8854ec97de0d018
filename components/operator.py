"""The Kubeflow spark-operator, as a Helm release pinned to a 2.5.x chart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import SPARK_OPERATOR
from spark_streams.config import OperatorConfig

CHART = "spark-operator"
RELEASE = "spark-operator"


@dataclass(frozen=True)
class SparkOperatorArgs:
    config: OperatorConfig
    job_namespace: str
    # The cluster runs the Prometheus operator: let the chart add its own PodMonitor, with the
    # labels that Prometheus selects PodMonitors by.
    pod_monitor: bool = False
    pod_monitor_labels: Mapping[str, str] = field(default_factory=dict)


def chart_values(args: SparkOperatorArgs) -> dict[str, Any]:
    """Our values, with the stack's ``operator.values`` merged over them."""
    ours: dict[str, Any] = {
        "fullnameOverride": RELEASE,  # stable object names across upgrades
        "spark": {
            "jobNamespaces": [args.job_namespace],
            # Each stream brings its own service account and namespace RBAC (namespace.py).
            "serviceAccount": {"create": False},
            "rbac": {"create": False},
        },
        # Tolerations, env from secrets and security contexts need the mutating webhook.
        "webhook": {"enable": True},
        # Helm never upgrades chart CRDs; the chart's hook does it on every upgrade.
        "hook": {"upgradeCrd": True},
        "prometheus": {
            "metrics": {"enable": True},
            "podMonitor": {"create": args.pod_monitor, "labels": dict(args.pod_monitor_labels)},
        },
    }
    return _merge(ours, args.config.values)


def chart(source: str) -> dict[str, Any]:
    """The release's chart arguments for ``operator.chartSource``: the chart by name from a
    Helm repository, its reference in an OCI registry, or a local directory or archive."""
    if source.startswith("https://"):
        return {"chart": CHART, "repository_opts": {"repo": source}}
    if source.startswith("oci://"):
        return {"chart": f"{source.rstrip('/')}/{CHART}"}
    return {"chart": source}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        merged[key] = (
            _merge(current, value)
            if isinstance(current, dict) and isinstance(value, dict)
            else value
        )
    return merged


class SparkOperator(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: SparkOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SPARK_OPERATOR, name, None, opts)
        self.release = k8s.helm.v3.Release(
            name,
            name=RELEASE,
            version=args.config.chart_version,
            **chart(args.config.chart_source),
            namespace=args.config.namespace,
            create_namespace=True,
            values=chart_values(args),
            atomic=True,
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"status": self.release.status})
