"""Stream under mocks: IRSA role bound to its service account, least privilege, the app wired up."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from components.irsa import ROLE_ARN_ANNOTATION
from components.stream import Stream, StreamArgs
from spark_streams.discovery import StreamFile
from spark_streams.metadata import APPLIED
from spark_streams.model import Stream as StreamModel
from spark_streams.resolve import resolve
from tests.components.conftest import Registrations, register
from tests.conftest import one, stack_config

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
OIDC_ARN = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"


def plan(model: StreamModel, stack: str = "prod") -> Registrations:
    config = stack_config(stack)
    effective = resolve(StreamFile(Path("streams/x.py"), model), config, stack)

    def program() -> None:
        requirement = pulumi.CustomResource("test:index:Operator", "operator")
        Stream(
            effective.identity,
            StreamArgs(
                effective,
                config.monitoring,
                OIDC_ARN,
                pulumi.Output.from_input(ISSUER),
                "arn:aws:kms:eu-west-1:111122223333:key/k",
                requires=[requirement],
                readiness=config.readiness,
                kubeconfig=pulumi.Output.from_input("{}"),
            ),
        )

    return register(program, config, stack)


@pytest.fixture(scope="module")
def orders() -> Registrations:
    return plan(StreamModel(name="orders", sink="s3://{lake}/raw/orders/"))


def test_trust_names_exactly_the_streams_driver_and_executor_accounts(
    orders: Registrations,
) -> None:
    trust = json.loads(one(orders, "aws:iam/role:Role", "orders-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": [
            "system:serviceaccount:spark-streams:orders",
            "system:serviceaccount:spark-streams:orders.executor",
        ],
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
    }


def test_service_account_carries_the_role_and_the_app_uses_it(orders: Registrations) -> None:
    account = one(orders, "kubernetes:core/v1:ServiceAccount", "orders-sa")
    role = one(orders, "aws:iam/role:Role", "orders-role")
    assert account.inputs["metadata"]["annotations"][ROLE_ARN_ANNOTATION] == role.inputs.get(
        "arn", "<unknown: arn of orders-role>"
    )
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    assert app.inputs["spec"]["driver"]["serviceAccount"] == "orders"
    assert app.inputs["spec"]["executor"]["serviceAccount"] == "orders.executor"


def test_executors_run_under_an_account_with_the_role_and_no_api_token(
    orders: Registrations,
) -> None:
    account = one(orders, "kubernetes:core/v1:ServiceAccount", "orders-executors")
    assert account.inputs["metadata"]["name"] == "orders.executor"
    assert account.inputs["automountServiceAccountToken"] is False
    # EKS still gives its pods the role's web identity token: that is how executors reach S3
    assert ROLE_ARN_ANNOTATION in account.inputs["metadata"]["annotations"]
    driver = one(orders, "kubernetes:core/v1:ServiceAccount", "orders-sa")
    assert "automountServiceAccountToken" not in driver.inputs  # the driver calls the API


def test_pods_take_traffic_from_their_own_stream_and_metrics_from_the_scraper(
    orders: Registrations,
) -> None:
    policy = one(orders, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "orders-network")
    own = {"matchLabels": {"spark-streams/identity": "orders"}}
    assert policy.inputs["spec"] == {
        "podSelector": own,
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"podSelector": own}]},
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                        }
                    }
                ],
                "ports": [{"port": 8090, "protocol": "TCP"}],
            },
        ],
    }
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    for role in ("driver", "executor"):
        assert app.inputs["spec"][role]["labels"]["spark-streams/identity"] == "orders"


def test_owner_and_labels_tag_the_role_and_label_the_application() -> None:
    owned = plan(
        StreamModel(
            name="owned",
            sink="s3://{lake}/raw/owned/",
            owner="commerce-data",
            labels={"cost-center": "cc-42"},
            annotations={"example.com/runbook": "https://runbooks/owned"},
        )
    )
    tags = one(owned, "aws:iam/role:Role", "owned-role").inputs["tags"]
    assert tags == {
        "spark-streams/stream": "owned",
        "spark-streams/owner": "commerce-data",
        "cost-center": "cc-42",
    }
    app = one(owned, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "owned-app")
    metadata = app.inputs["metadata"]
    assert metadata["labels"]["spark-streams/owner"] == "commerce-data"
    assert metadata["labels"]["cost-center"] == "cc-42"
    assert metadata["annotations"] == {
        "example.com/runbook": "https://runbooks/owned",
        **APPLIED,
    }


def test_policy_grants_only_the_streams_own_prefixes_and_the_kms_key(orders: Registrations) -> None:
    policy = json.loads(
        one(orders, "aws:iam/rolePolicy:RolePolicy", "orders-access").inputs["policy"]
    )
    resources = [
        r
        for s in policy["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert "arn:aws:s3:::acme-data-prod-lake/raw/orders/*" in resources
    assert "arn:aws:s3:::acme-data-prod-checkpoints/orders/gen-0/*" in resources
    assert "arn:aws:kms:eu-west-1:111122223333:key/k" in resources
    assert not any(r.endswith(":::*") or r == "*" for r in resources)


def test_the_driver_creates_its_event_log_directory_with_its_own_credentials(
    orders: Registrations,
) -> None:
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    (init,) = app.inputs["spec"]["driver"]["initContainers"]
    spec = app.inputs["spec"]
    assert init["image"] == spec["image"]
    assert init["command"][-3:] == ["-mkdir", "-p", spec["sparkConf"]["spark.eventLog.dir"]]
    # FsShell will not start without a core-site.xml, which Spark's images lack
    assert init["command"][:2] == ["/bin/sh", "-c"]
    assert 'HADOOP_CONF_DIR="$conf"' in init["command"][2]
    assert "core-site.xml" in init["command"][2]
    assert init["securityContext"]["runAsNonRoot"] is True
    assert "initContainers" not in spec["executor"]  # only the driver writes event logs
    # its own credentials, whatever order the cluster's webhooks run in
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["AWS_ROLE_ARN"] == "<unknown: arn of orders-role>"
    assert 2 <= len(env["AWS_ROLE_SESSION_NAME"]) <= 64  # what STS accepts
    assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"].startswith(init["volumeMounts"][0]["mountPath"])
    (volume,) = spec["volumes"]
    assert volume["name"] == init["volumeMounts"][0]["name"]
    assert volume["projected"]["sources"][0]["serviceAccountToken"]["audience"] == (
        "sts.amazonaws.com"
    )
    # the operator's webhook adds a volume to the pod only when the driver mounts it
    assert volume["name"] in {m["name"] for m in spec["driver"]["volumeMounts"]}
