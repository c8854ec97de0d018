"""StreamMonitoring under mocks: one PodMonitor, alerts for down, restarting and stuck streams."""

from __future__ import annotations

import re

import promql_parser
import pytest

from components.monitoring import (
    STREAMING_METRIC,
    StreamMonitoring,
    StreamMonitoringArgs,
    alert_rules,
)
from spark_streams.sparkapp import JMX_PORT_NAME
from tests.components.conftest import register
from tests.conftest import one, stack_config


def test_pods_are_scraped_by_label_and_every_running_stream_has_a_down_alert() -> None:
    config = stack_config("prod")
    plan = register(
        lambda: StreamMonitoring(
            "monitoring", StreamMonitoringArgs("spark-streams", {"b": "team-b", "a": None})
        ),
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
    # routed by the owning team when the stream names one
    assert [r["labels"].get("team") for r in down] == [None, "team-b"]
    relabelled = {r["targetLabel"] for r in spec["podMetricsEndpoints"][0]["relabelings"]}
    assert "team" in relabelled
    names = {r["alert"] for r in alerts}
    assert {
        "SparkStreamRestartingRepeatedly",
        "SparkStreamStalled",
    } <= names


def test_every_alert_is_valid_promql() -> None:
    for rule in alert_rules("spark-streams", {"orders-ingest": "commerce-data"}):
        promql_parser.parse(rule["expr"])  # raises on a syntax error


def exported_name(bean: str, exporter_1x: bool) -> str:
    """The name the operator's default exporter rule gives a driver's streaming gauge: what
    follows the query name, lower-cased, each run of characters Prometheus does not allow
    made one `_`; exporter 1.x then drops a trailing `_total`."""
    match = re.fullmatch(
        r"metrics<name=\S+?\.\S+?\.driver\.spark\.streaming\.[^.]+\.(.*)><>Value", bean
    )
    assert match is not None
    name = re.sub(r"[^a-z0-9_:]+", "_", f"{STREAMING_METRIC}_{match.group(1)}".lower())
    return name.removesuffix("_total") if exporter_1x else name


@pytest.mark.parametrize("bean_type", ["", ", type=gauges"])  # Spark 2 and Spark 3 beans
@pytest.mark.parametrize("exporter_1x", [False, True])
def test_stall_alert_matches_the_gauges_whatever_they_are_called(
    bean_type: str, exporter_1x: bool
) -> None:
    (stalled,) = [r for r in alert_rules("ns", {}) if r["alert"] == "SparkStreamStalled"]
    patterns = re.findall(r'__name__=~"([^"]+)", app_namespace="ns"', stalled["expr"])
    assert len(patterns) == 2
    for gauge, pattern in zip(("latency", "inputRate-total"), patterns, strict=True):
        bean = f"metrics<name=ns.orders.driver.spark.streaming.q1.{gauge}{bean_type}><>Value"
        # Prometheus anchors =~ at both ends
        assert re.fullmatch(pattern, exported_name(bean, exporter_1x)), (gauge, pattern)


def test_objects_carry_the_labels_prometheus_selects_by() -> None:
    args = StreamMonitoringArgs("spark-streams", {"a": None}, {"release": "kube-prometheus-stack"})
    plan = register(lambda: StreamMonitoring("monitoring", args), stack_config("prod"), "prod")
    for r in plan.resources:
        if r.type.startswith("kubernetes:monitoring.coreos.com"):
            assert r.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
