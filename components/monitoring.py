"""Prometheus-operator objects for the streams: one PodMonitor and one PrometheusRule.

Only created when the stack says the cluster runs the Prometheus operator. They select the
streams' pods by label, so adding a stream never needs a new object here; the "not running"
alert lists the streams that should be up, so it changes when one is added, paused or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import STREAM_MONITORING
from spark_streams.metadata import applied
from spark_streams.sparkapp import JMX_PORT_NAME

PROMETHEUS_API = "monitoring.coreos.com/v1"
# The operator's default JMX exporter rules name Structured Streaming gauges like this.
STREAMING_METRIC = "spark_structured_streaming_driver"
RESTARTS_PER_HOUR = 3
TEAM_LABEL = "team"  # what Alertmanager routes stream alerts by


@dataclass(frozen=True)
class StreamMonitoringArgs:
    namespace: str
    # Streams that should be running (not suspended) in this stack, and their owners.
    running: Mapping[str, str | None]
    # What the Prometheus operator selects objects by (e.g. kube-prometheus-stack's `release`).
    labels: Mapping[str, str] = field(default_factory=dict)


def pod_monitor_spec() -> dict[str, Any]:
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/part-of": "spark-streams"}},
        "podMetricsEndpoints": [
            {
                "port": JMX_PORT_NAME,
                "path": "/metrics",
                "interval": "30s",
                "relabelings": [
                    _label("__meta_kubernetes_pod_label_app_kubernetes_io_name", "stream"),
                    _label("__meta_kubernetes_pod_label_spark_role", "spark_role"),
                    # Every series, and so every alert, carries the owning team to route by.
                    _label("__meta_kubernetes_pod_label_spark_streams_owner", TEAM_LABEL),
                    # A resubmitted driver keeps its pod name; its uid tells restarts apart.
                    _label("__meta_kubernetes_pod_uid", "pod_uid"),
                ],
            }
        ],
    }


def _label(source: str, target: str) -> dict[str, Any]:
    return {"sourceLabels": [source], "targetLabel": target, "action": "replace"}


def alert_rules(namespace: str, running: Mapping[str, str | None]) -> list[dict[str, Any]]:
    driver = f'namespace="{namespace}", spark_role="driver"'
    rules: list[dict[str, Any]] = [
        {
            "alert": "SparkStreamNotRunning",
            "expr": f'absent(up{{{driver}, stream="{name}"}} == 1)',
            "for": "10m",
            # `absent` has no series to take the team from: the rule names it.
            "labels": {
                "severity": "critical",
                "stream": name,
                **({TEAM_LABEL: running[name]} if running[name] else {}),
            },
            "annotations": {
                "summary": f"Stream {name} has no running driver",
                "description": "kubectl describe sparkapplication "
                f"{name} -n {namespace}; see docs/operating.md in the spark-streams repository.",
            },
        }
        for name in sorted(running)
    ]
    rules += [
        {
            "alert": "SparkStreamRestartingRepeatedly",
            "expr": f"count by (namespace, stream, {TEAM_LABEL}) "
            f"(count_over_time(up{{{driver}}}[1h])) "
            f"> {RESTARTS_PER_HOUR}",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Stream {{ $labels.stream }} started more than "
                f"{RESTARTS_PER_HOUR} drivers in an hour",
                "description": "The restart policy keeps resubmitting it; read the driver log.",
            },
        },
        {
            "alert": "SparkStreamStalled",
            # Spark's query gauges hold the last batch's figures: unchanged for 15 minutes
            # while that batch saw input means no batch has completed since (an idle query
            # reports zero input instead).
            "expr": f"changes({_gauge('latency', namespace)}[15m]) == 0 "
            f"and {_gauge('inputrate', namespace)} > 0",
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "Stream {{ $labels.app_id }} (query {{ $labels.query_name }}) has "
                "completed no batch for 20 minutes",
            },
        },
    ]
    return rules


def _gauge(name: str, namespace: str) -> str:
    """A Structured Streaming gauge of the namespace's drivers, under each name it goes by.

    The operator's exporter rules name ``inputRate-total`` ``..._inputrate_total``; Spark 3's
    JMX beans also carry ``type=gauges``, which those rules fold into the name, and exporter 1.x
    drops a trailing ``_total``.
    """
    pattern = f"{STREAMING_METRIC}_{name}(_total)?(_type_gauges)?"
    return f'{{__name__=~"{pattern}", app_namespace="{namespace}"}}'


class StreamMonitoring(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: StreamMonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(STREAM_MONITORING, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, "app.kubernetes.io/part-of": "spark-streams"}
        k8s.apiextensions.CustomResource(
            f"{name}-pods",
            api_version=PROMETHEUS_API,
            kind="PodMonitor",
            metadata={
                "name": "spark-streams",
                "namespace": args.namespace,
                "labels": labels,
                "annotations": applied(),
            },
            spec=pod_monitor_spec(),
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version=PROMETHEUS_API,
            kind="PrometheusRule",
            metadata={
                "name": "spark-streams",
                "namespace": args.namespace,
                "labels": labels,
                "annotations": applied(),
            },
            spec={
                "groups": [
                    {"name": "spark-streams", "rules": alert_rules(args.namespace, args.running)}
                ]
            },
            opts=child,
        )
        self.register_outputs({})
