"""HistoryServer under mocks: read-only on event logs, every stream's directory, non-root pod."""

from __future__ import annotations

import json
from typing import Any

from components.history_server import UI_PORT, HistoryServer, HistoryServerArgs
from spark_streams.resolve import S3Location
from tests.components.conftest import Registrations, register
from tests.conftest import one, stack_config

BUCKET = "acme-data-prod-event-logs"
# what compaction (writes .compact files, deletes what they replace) and the cleaner need
WRITE = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


def history_args(**more: Any) -> HistoryServerArgs:
    bucket = BUCKET
    return HistoryServerArgs(
        namespace="spark-streams",
        image="spark:test",
        hadoop_credentials_provider="provider",
        bucket_prefix="acme-data-prod",
        event_log_bucket=bucket,
        directories=[
            ("orders", S3Location(bucket=bucket, prefix="orders/")),
            ("clicks", S3Location(bucket=bucket, prefix="clicks/")),
        ],
        oidc_provider_arn="arn:aws:iam::111122223333:oidc-provider/oidc.example/id/X",
        oidc_issuer="https://oidc.example/id/X",
        kms_key_arn=None,
        **more,
    )


def registered(args: HistoryServerArgs) -> Registrations:
    return register(lambda: HistoryServer("history", args), stack_config("prod"), "prod")


def test_history_server_reads_compacts_and_cleans_event_logs_and_nothing_else() -> None:
    bucket = BUCKET
    plan = registered(history_args())
    policy = json.loads(
        one(plan, "aws:iam/rolePolicy:RolePolicy", "history-access").inputs["policy"]
    )
    granted = {(a, s["Resource"]) for s in policy["Statement"] for a in s["Action"]}
    assert granted == {
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
        *((a, f"arn:aws:s3:::{bucket}/*") for a in WRITE),
    }
    deployment = one(plan, "kubernetes:apps/v1:Deployment", "history-deployment")
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    options = container["env"][0]["value"]
    assert f"s3a://{bucket}/clicks/,s3a://{bucket}/orders/" in options
    # the only deleter of event logs, with the bucket's retention, and a disk store
    assert "-Dspark.history.fs.cleaner.enabled=true" in options
    assert "-Dspark.history.fs.cleaner.maxAge=30d" in options
    assert "-Dspark.history.fs.eventLog.rolling.maxFilesToRetain=2" in options
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert f"-Dspark.history.store.path={mounts['store']}" in options
    assert container["securityContext"]["runAsNonRoot"] is True
    assert (
        deployment.inputs["spec"]["template"]["spec"]["serviceAccountName"]
        == "spark-history-server"
    )
    # it never calls the Kubernetes API: no token to steal
    assert deployment.inputs["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_deployment_answers_each_manifest_scanner_finding() -> None:
    deployment = one(
        registered(history_args(stack="prod")),
        "kubernetes:apps/v1:Deployment",
        "history-deployment",
    )
    pod = deployment.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["cpu"]  # a CPU limit
    assert container["livenessProbe"]["httpGet"]["port"] == "http"  # a liveness probe
    assert container["imagePullPolicy"] == "Always"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    # ... with the places it writes (scratch, its disk store) on volumes of their own
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert {v["name"] for v in pod["volumes"]} == mounts == {"scratch", "store"}
    assert all(v["emptyDir"]["sizeLimit"] for v in pod["volumes"])
    assert security["runAsUser"] == 185  # the Spark image's user: see docs/security.md
    # the policy pack's digest rule finds the stack on it; the selector stays as it was
    assert deployment.inputs["metadata"]["labels"]["spark-streams/stack"] == "prod"
    assert "spark-streams/stack" not in deployment.inputs["spec"]["selector"]["matchLabels"]


def test_the_ui_takes_traffic_only_from_the_namespaces_the_stack_names() -> None:
    kind = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    closed = one(registered(history_args()), kind, "history-network").inputs["spec"]
    assert closed["ingress"] == [] and closed["policyTypes"] == ["Ingress"]
    opened = one(registered(history_args(ui_from=("ingress-nginx",))), kind, "history-network")
    (rule,) = opened.inputs["spec"]["ingress"]
    assert rule["ports"] == [{"port": UI_PORT, "protocol": "TCP"}]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
