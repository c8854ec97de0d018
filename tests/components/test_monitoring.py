"""StreamMonitoring under mocks: one PodMonitor, alerts for down, restarting and stuck streams."""

from __future__ import annotations

import promql_parser

from components.monitoring import StreamMonitoring, StreamMonitoringArgs, alert_rules
from spark_streams.offline import record
from spark_streams.sparkapp import JMX_PORT_NAME
from tests.conftest import one, stack_config


def test_pods_are_scraped_by_label_and_every_running_stream_has_a_down_alert() -> None:
    config = stack_config("prod")
    plan = record(
        lambda: StreamMonitoring("monitoring", StreamMonitoringArgs("spark-streams", ["b", "a"])),
        config,
        "prod",
    )
    monitor = one(plan, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "monitoring-pods")
    spec = monitor.inputs["spec"]
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "spark-streams"}
    assert spec["podMetricsEndpoints"][0]["port"] == JMX_PORT_NAME
    rules = one(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "monitoring-alerts")
    alerts = rules.inputs["spec"]["groups"][0]["rules"]
    down = [r for r in alerts if r["alert"] == "SparkStreamNotRunning"]
    assert [r["labels"]["stream"] for r in down] == ["a", "b"]
    assert 'stream="a"' in down[0]["expr"]
    names = {r["alert"] for r in alerts}
    assert {
        "SparkStreamRestartingRepeatedly",
        "SparkStreamStalled",
        "SparkStreamFallingBehind",
    } <= names


def test_every_alert_is_valid_promql_on_both_exporter_namings() -> None:
    for rule in alert_rules("spark-streams", ["orders-ingest"]):
        promql_parser.parse(rule["expr"])  # raises on a syntax error
    stalled = next(r for r in alert_rules("ns", []) if r["alert"] == "SparkStreamStalled")
    assert "spark_structured_streaming_driver_inputrate(_total)?" in stalled["expr"]
    assert 'app_namespace="ns"' in stalled["expr"]


def test_objects_carry_the_labels_prometheus_selects_by() -> None:
    args = StreamMonitoringArgs("spark-streams", ["a"], {"release": "kube-prometheus-stack"})
    plan = record(lambda: StreamMonitoring("monitoring", args), stack_config("prod"), "prod")
    for r in plan.resources:
        if r.type.startswith("kubernetes:monitoring.coreos.com"):
            assert r.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
