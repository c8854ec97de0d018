"""StreamMonitoring under mocks: one PodMonitor, alerts for down, restarting and stuck streams."""

from __future__ import annotations

from components.monitoring import StreamMonitoring, StreamMonitoringArgs
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
    assert {"SparkStreamRestartingRepeatedly", "SparkStreamNoProgress"} <= names
