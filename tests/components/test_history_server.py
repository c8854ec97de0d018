"""HistoryServer under mocks: read-only on event logs, every stream's directory, non-root pod."""

from __future__ import annotations

import json

from components.history_server import HistoryServer, HistoryServerArgs
from spark_streams.resolve import S3Location
from tests.components.conftest import register
from tests.conftest import one, stack_config


def test_history_server_reads_each_streams_event_logs_and_nothing_else() -> None:
    config = stack_config("prod")
    bucket = "acme-data-prod-event-logs"
    args = HistoryServerArgs(
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
    )
    plan = register(lambda: HistoryServer("history", args), config, "prod")
    policy = json.loads(
        one(plan, "aws:iam/rolePolicy:RolePolicy", "history-access").inputs["policy"]
    )
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject"}
    deployment = one(plan, "kubernetes:apps/v1:Deployment", "history-deployment")
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    options = container["env"][0]["value"]
    assert f"s3a://{bucket}/clicks/,s3a://{bucket}/orders/" in options
    assert container["securityContext"]["runAsNonRoot"] is True
    assert (
        deployment.inputs["spec"]["template"]["spec"]["serviceAccountName"]
        == "spark-history-server"
    )
    # the namespace's driver RBAC is bound to every service account: this pod holds no API token
    assert deployment.inputs["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
