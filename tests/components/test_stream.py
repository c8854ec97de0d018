"""Stream under mocks: IRSA role bound to its service account, least privilege, the app wired up."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from components.stream import ROLE_ARN_ANNOTATION, Stream, StreamArgs
from spark_streams.discovery import StreamFile
from spark_streams.model import Stream as StreamModel
from spark_streams.offline import Plan, record
from spark_streams.resolve import resolve
from tests.conftest import by_type, one, stack_config

ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
OIDC_ARN = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"


def plan(model: StreamModel, stack: str = "prod") -> Plan:
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
            ),
        )

    return record(program, config, stack, [effective])


@pytest.fixture(scope="module")
def orders() -> Plan:
    return plan(StreamModel(name="orders", sink="s3://{lake}/raw/orders/"))


def test_a_stream_is_at_most_six_resources_all_tagged_with_it(orders: Plan) -> None:
    mine = [r for r in orders.resources if r.stream == "orders"]
    assert len(mine) == 6
    assert {r.type.split(":")[-1] for r in mine} == {
        "Stream",
        "Role",
        "RolePolicy",
        "ServiceAccount",
        "RoleBinding",
        "SparkApplication",
    }


def test_the_driver_role_is_bound_to_the_streams_service_account_only(orders: Plan) -> None:
    binding = one(orders, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "orders-driver")
    assert binding.inputs["metadata"]["name"] == "orders"
    assert binding.inputs["roleRef"]["name"] == "spark-driver"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "orders", "namespace": "spark-streams"}
    ]


def test_trust_is_bound_to_exactly_this_service_account(orders: Plan) -> None:
    trust = json.loads(one(orders, "aws:iam/role:Role", "orders-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:spark-streams:orders",
        "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
    }


def test_service_account_carries_the_role_and_the_app_uses_it(orders: Plan) -> None:
    account = one(orders, "kubernetes:core/v1:ServiceAccount", "orders-sa")
    role = one(orders, "aws:iam/role:Role", "orders-role")
    assert account.inputs["metadata"]["annotations"][ROLE_ARN_ANNOTATION] == role.inputs.get(
        "arn", "<unknown: arn of orders-role>"
    )
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    assert app.inputs["spec"]["driver"]["serviceAccount"] == "orders"
    assert app.inputs["spec"]["executor"]["serviceAccount"] == "orders"
    assert account.urn in app.dependencies
    assert one(orders, "test:index:Operator", "operator").urn in app.dependencies


def test_policy_grants_only_the_streams_own_prefixes_and_the_kms_key(orders: Plan) -> None:
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


def test_a_rename_keeps_every_urn() -> None:
    before = plan(StreamModel(name="orders", sink="s3://{lake}/raw/orders/"))
    after = plan(
        StreamModel(name="orders-v2", renamed_from=("orders",), sink="s3://{lake}/raw/orders/")
    )
    assert [r.urn for r in before.resources] == [r.urn for r in after.resources]
    apps = by_type(after, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication")
    assert apps[0].inputs["metadata"]["name"] == "orders-v2"
    conf = apps[0].inputs["spec"]["sparkConf"]
    assert (
        conf["spark.sql.streaming.checkpointLocation"]
        == "s3a://acme-data-prod-checkpoints/orders/gen-0/"
    )


def test_a_replaced_application_is_deleted_before_its_successor_starts(orders: Plan) -> None:
    # Two drivers on one checkpoint would corrupt it (e.g. during a rename).
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    assert app.delete_before_replace


def test_the_driver_waits_for_its_policy_and_creates_its_event_log_directory(
    orders: Plan,
) -> None:
    app = one(orders, "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication", "orders-app")
    assert one(orders, "aws:iam/rolePolicy:RolePolicy", "orders-access").urn in app.dependencies
    (init,) = app.inputs["spec"]["driver"]["initContainers"]
    spec = app.inputs["spec"]
    assert init["image"] == spec["image"]
    assert init["command"][-3:] == ["-mkdir", "-p", spec["sparkConf"]["spark.eventLog.dir"]]
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
