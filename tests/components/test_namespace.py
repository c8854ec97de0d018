"""StreamingNamespace under mocks: Pod Security labels, driver RBAC, secrets kept secret."""

from __future__ import annotations

import pulumi

from components.namespace import StreamingNamespace, StreamingNamespaceArgs
from spark_streams.stackfile import SECRET_PLACEHOLDER
from tests.components.conftest import register
from tests.conftest import one, stack_config


def test_namespace_enforces_pod_security_and_grants_drivers_their_rbac() -> None:
    config = stack_config("dev")
    plan = register(
        lambda: StreamingNamespace(
            "streaming",
            StreamingNamespaceArgs(
                "spark-streams",
                "restricted",
                pulumi.Output.secret({"kafka": "hunter2"}),
                driver_service_accounts=["b", "a"],
            ),
        ),
        config,
        "dev",
    )
    labels = one(plan, "kubernetes:core/v1:Namespace", "streaming").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    role = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:Role", "streaming-driver")
    assert "pods" in role.inputs["rules"][0]["resources"]
    binding = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "streaming-driver")
    # the drivers' accounts by name: no group, so not executors, the History Server or `default`
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": "spark-streams"} for name in "ab"
    ]
    deny = one(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "streaming-deny-ingress")
    assert deny.inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    secret = one(plan, "kubernetes:core/v1:Secret", "streaming-secrets")
    assert secret.inputs["stringData"] == {"kafka": SECRET_PLACEHOLDER}
    assert "hunter2" not in repr(plan)
