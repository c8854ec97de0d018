"""The offline plan of the real stacks: resource options and dependencies, as the engine gets them.

Component tests check what each component registers through Pulumi's public mocks; what only
the engine sees (URNs, protect, delete-before-replace, dependencies) is checked here, through
``spark_streams.sdk``'s recording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components import (
    IAM_ROLE_POLICY,
    SERVICE_ACCOUNT,
    SPARK_APPLICATION,
    STREAM,
    STREAM_READY,
)
from spark_streams import inputs, offline, stackfile
from spark_streams.offline import Plan
from tests.conftest import PROJECT, StreamWriter, by_type, one


def plan(stack: str, streams_dir: Path | None = None) -> Plan:
    return offline.plan(inputs.load(PROJECT, stackfile.read(PROJECT, stack), streams_dir))


@pytest.fixture(scope="module")
def prod() -> Plan:
    return plan("prod")


def test_each_stream_is_eight_resources_all_attributed_to_it(prod: Plan) -> None:
    streams = {r.stream for r in prod.resources if r.stream}
    assert streams == {"orders-ingest", "clickstream-ingest"}
    for name in streams:
        mine = [r for r in prod.resources if r.stream == name]
        assert sorted((r.type.split(":")[-1], r.name) for r in mine) == [
            ("NetworkPolicy", f"{name}-network"),
            ("Role", f"{name}-role"),
            ("RolePolicy", f"{name}-access"),
            ("ServiceAccount", f"{name}-executors"),
            ("ServiceAccount", f"{name}-sa"),
            ("SparkApplication", f"{name}-app"),
            ("Stream", name),
            ("StreamReady", f"{name}-ready"),
        ]


def test_the_driver_role_is_bound_to_the_driver_accounts_only(prod: Plan) -> None:
    binding = one(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "streaming-driver")
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": "spark-streams"}
        for name in ("clickstream-ingest", "orders-ingest")
    ]
    bindings = by_type(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert bindings == [binding]  # nothing grants `default`, executors or the History Server


def test_an_application_waits_for_its_account_policy_operator_namespace_buckets_and_class(
    prod: Plan,
) -> None:
    app = one(prod, SPARK_APPLICATION, "orders-ingest-app")
    needed = {
        one(prod, SERVICE_ACCOUNT, "orders-ingest-sa").urn,
        one(prod, SERVICE_ACCOUNT, "orders-ingest-executors").urn,
        one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "orders-ingest-network").urn,
        one(prod, IAM_ROLE_POLICY, "orders-ingest-access").urn,
        one(prod, "kubernetes:helm.sh/v3:Release", "spark-operator").urn,
        one(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "streaming-driver").urn,
        one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "streaming-deny-ingress").urn,
        # its driver names the PriorityClass: a pod may name only one that exists
        one(prod, "kubernetes:scheduling.k8s.io/v1:PriorityClass", "priority").urn,
    }
    assert needed <= set(app.dependencies)
    # no stream waits for another
    others = {r.urn for r in prod.resources if r.stream == "clickstream-ingest"}
    assert not others & set(app.dependencies)


def test_a_replaced_application_is_deleted_before_its_successor_starts(prod: Plan) -> None:
    # Two drivers on one checkpoint would corrupt it (e.g. during a rename).
    assert all(a.delete_before_replace for a in by_type(prod, SPARK_APPLICATION))


def test_prod_protects_lake_checkpoints_and_key_and_dev_nothing(prod: Plan) -> None:
    buckets = {
        r.name: (r.protect, r.retain_on_delete) for r in by_type(prod, "aws:s3/bucket:Bucket")
    }
    assert buckets == {
        "data-lake": (True, True),
        "data-checkpoints": (True, True),
        "data-event-logs": (False, False),
    }
    key = one(prod, "aws:kms/key:Key", "data-key")
    assert key.protect and key.retain_on_delete
    assert not any(r.protect for r in plan("dev").resources)


def test_prod_encryption_waits_for_its_key(prod: Plan) -> None:
    key = one(prod, "aws:kms/key:Key", "data-key")
    for config in by_type(
        prod,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ):
        assert key.urn in config.dependencies


def test_a_rename_keeps_every_urn(streams_dir: Path, write_stream: StreamWriter) -> None:
    before = plan("prod", streams_dir)
    path = streams_dir / "orders.py"
    path.write_text(
        path.read_text().replace(
            'name="orders-ingest",', 'name="orders-v2",\n    renamed_from=("orders-ingest",),'
        )
    )
    after = plan("prod", streams_dir)
    assert [r.urn for r in before.resources] == [r.urn for r in after.resources]
    app = one(after, SPARK_APPLICATION, "orders-ingest-app")
    assert app.inputs["metadata"]["name"] == "orders-v2"
    assert app.inputs["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"] == (
        "s3a://acme-data-prod-checkpoints/orders-ingest/gen-0/"
    )


def test_urns_follow_the_engine_format(prod: Plan) -> None:
    # The parent's whole type chain, no stack type (what `pulumi up` shows).
    app = one(prod, SPARK_APPLICATION, "orders-ingest-app")
    assert app.urn == (
        f"urn:pulumi:prod::spark-streams::{STREAM}${SPARK_APPLICATION}::orders-ingest-app"
    )


def test_each_stream_waits_on_its_own_application_with_the_stack_readiness(
    prod: Plan,
) -> None:
    for name in ("orders-ingest", "clickstream-ingest"):
        ready = one(prod, STREAM_READY, f"{name}-ready")
        app = one(prod, SPARK_APPLICATION, f"{name}-app")
        assert ready.dependencies == [app.urn]
        assert ready.parent == one(prod, STREAM, name).urn
        assert ready.inputs["kubeconfig"] == "[secret]"
        assert {k: ready.inputs[k] for k in ("stream", "namespace", "name", "expect")} == {
            "stream": name,
            "namespace": "spark-streams",
            "name": name,
            "expect": "RUNNING",
        }
        labels = [app.inputs["spec"][role]["labels"] for role in ("driver", "executor")]
        assert [r["spark-streams/spec-hash"] for r in labels] == [ready.inputs["specHash"]] * 2
    assert {
        k: one(prod, STREAM_READY, "orders-ingest-ready").inputs[k]
        for k in ("minReadySeconds", "timeoutSeconds", "secondsPerSubmission")
    } == {"minReadySeconds": 30, "timeoutSeconds": 300, "secondsPerSubmission": 15}


def test_the_spec_hash_follows_the_spec_but_not_suspend(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    def hash_and_expect(body: str) -> tuple[str, str]:
        write_stream("orders.py", body)
        ready = one(plan("dev", streams_dir), STREAM_READY, "orders-ingest-ready")
        return ready.inputs["specHash"], ready.inputs["expect"]

    base = (PROJECT / "streams" / "orders.py").read_text()
    before, expect = hash_and_expect(base)
    assert expect == "RUNNING"
    suspended, expect = hash_and_expect(base.replace("Stream(", "Stream(suspend=True, ", 1))
    assert (suspended, expect) == (before, "SUSPENDED")
    changed, _ = hash_and_expect(base.replace('"1 minute"', '"2 minutes"'))
    assert changed != before
