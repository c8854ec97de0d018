"""Day-2 operations, read from the offline plan and render as a user (or a reviewer) would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_streams.cli import main
from tests.conftest import StreamWriter

APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"


def plan(
    capsys: pytest.CaptureFixture[str], stack: str, streams_dir: Path | None = None
) -> list[dict[str, Any]]:
    argv = ["plan", "--json", "--stack", stack]
    if streams_dir:
        argv += ["--streams-dir", str(streams_dir)]
    assert main(argv) == 0
    resources: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["resources"]
    return resources


def apps(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["inputs"]["metadata"]["name"]: r["inputs"] for r in resources if r["type"] == APP}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_streams_restart_always_with_short_intervals_and_stop_gracefully(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for app in apps(plan(capsys, stack)).values():
        spec = app["spec"]
        policy = spec["restartPolicy"]
        assert policy["type"] == "Always"
        # the operator waits interval x submissions so far: keep the interval short
        assert 0 < policy["onFailureRetryInterval"] <= 10
        assert 0 < policy["onSubmissionFailureRetryInterval"] <= 30
        assert 0 < policy["onSubmissionFailureRetries"] <= 10  # used if one picks OnFailure
        assert spec["driver"]["terminationGracePeriodSeconds"] >= 60
        assert spec["sparkConf"]["spark.decommission.enabled"] == "true"
        assert spec["sparkConf"]["spark.sql.streaming.metricsEnabled"] == "true"
        assert spec["monitoring"]["exposeDriverMetrics"] is True


def test_rename_keeps_every_urn_and_the_checkpoint(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    before = plan(capsys, "dev", streams_dir)
    source = (streams_dir / "orders.py").read_text()
    (streams_dir / "orders.py").write_text(
        source.replace(
            'name="orders-ingest",', 'name="orders-raw",\n    renamed_from=("orders-ingest",),'
        )
    )
    after = plan(capsys, "dev", streams_dir)
    assert sorted(r["urn"] for r in before) == sorted(r["urn"] for r in after)
    old, new = apps(before)["orders-ingest"], apps(after)["orders-raw"]
    checkpoint = "spark.sql.streaming.checkpointLocation"
    assert old["spec"]["sparkConf"][checkpoint] == new["spec"]["sparkConf"][checkpoint]
    assert {r["stream"] for r in after} >= {"orders-raw"}


def test_a_new_checkpoint_generation_moves_only_the_checkpoint(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    source = (streams_dir / "orders.py").read_text()
    (streams_dir / "orders.py").write_text(
        source.replace("    sink=", "    checkpoint_generation=1,\n    sink=", 1)
    )
    conf = apps(plan(capsys, "dev", streams_dir))["orders-ingest"]["spec"]["sparkConf"]
    assert conf["spark.sql.streaming.checkpointLocation"].endswith("/orders-ingest/gen-1/")
    assert conf["spark.streams.sink"].endswith("/raw/orders-ingest/")


def test_removing_a_stream_removes_its_eight_resources_and_keeps_every_bucket(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    before = {r["urn"]: r for r in plan(capsys, "dev", streams_dir)}
    (streams_dir / "orders.py").unlink()
    after = {r["urn"]: r for r in plan(capsys, "dev", streams_dir)}
    removed = [before[u] for u in set(before) - set(after)]
    assert len(removed) == 8 and {r["stream"] for r in removed} == {"orders-ingest"}
    buckets = [u for u, r in before.items() if r["type"].startswith("aws:s3/")]
    assert all(after[u]["inputs"] == before[u]["inputs"] for u in buckets)


def test_suspend_per_stack_shows_in_the_rendered_application(
    capsys: pytest.CaptureFixture[str], streams_dir: Path, write_stream: StreamWriter
) -> None:
    write_stream(
        "paused.py",
        """
        from spark_streams.model import StackOverride, Stream
        stream = Stream(
            name="paused",
            owner="t",
            sink="s3://{lake}/paused/",
            stacks={"dev": StackOverride(suspend=True)},
        )
        """,
    )
    assert main(["render", "--stack", "dev", "--streams-dir", str(streams_dir)]) == 0
    rendered = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(capsys.readouterr().out)
        if d and d["kind"] == "SparkApplication"
    }
    assert rendered["paused"]["spec"]["suspend"] is True
    assert rendered["orders-ingest"]["spec"]["suspend"] is False
    resources = plan(capsys, "prod", streams_dir)
    assert apps(resources)["paused"]["spec"]["suspend"] is False
    # a paused stream is not alerted on as "not running" (prod has the Prometheus operator)
    write_stream(
        "paused_in_prod.py",
        """
        from spark_streams.model import StackOverride, Stream
        stream = Stream(
            name="paused-prod",
            owner="t",
            sink="s3://{lake}/pp/",
            stacks={"prod": StackOverride(suspend=True)},
        )
        """,
    )
    rule = next(
        r for r in plan(capsys, "prod", streams_dir) if r["type"].endswith(":PrometheusRule")
    )
    down = {a["labels"].get("stream") for a in rule["inputs"]["spec"]["groups"][0]["rules"]}
    assert "paused" in down  # running in prod
    assert "paused-prod" not in down


def test_monitoring_objects_appear_only_where_the_stack_enables_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def kinds(stack: str) -> set[str]:
        return {r["type"].split(":")[-1] for r in plan(capsys, stack)}

    assert {"PodMonitor", "PrometheusRule", "Deployment"} <= kinds("prod")
    assert not {"PodMonitor", "PrometheusRule", "Deployment"} & kinds("dev")


def test_operator_upgrades_keep_crds_in_step(capsys: pytest.CaptureFixture[str]) -> None:
    release = next(r for r in plan(capsys, "prod") if r["type"] == "kubernetes:helm.sh/v3:Release")
    assert release["inputs"]["values"]["hook"]["upgradeCrd"] is True
    assert release["inputs"]["values"]["prometheus"]["podMonitor"] == {
        "create": True,
        "labels": {"release": "kube-prometheus-stack"},  # what Prometheus selects by
    }


def test_the_history_server_reads_s3_with_its_own_hadoops_provider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # prod streams run Spark 3.5 (Hadoop 3.3, AWS SDK v1); its History Server Spark 4.2 (Hadoop 3.5)
    resources = plan(capsys, "prod")
    deployment = next(r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment")
    (container,) = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
    options = container["env"][0]["value"]
    assert (
        "software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider" in options
    )
    app = next(iter(apps(resources).values()))
    assert app["spec"]["hadoopConf"]["fs.s3a.aws.credentials.provider"].startswith("com.amazonaws")
