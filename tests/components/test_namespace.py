"""StreamingNamespace under mocks: Pod Security labels, driver RBAC, secrets kept secret."""

from __future__ import annotations

import pulumi

from components.namespace import StreamingNamespace, StreamingNamespaceArgs
from spark_streams.config import SECRET_PLACEHOLDER
from spark_streams.offline import record
from tests.conftest import by_type, one, stack_config


def test_namespace_enforces_pod_security_and_grants_drivers_their_rbac() -> None:
    config = stack_config("dev")
    plan = record(
        lambda: StreamingNamespace(
            "streaming",
            StreamingNamespaceArgs(
                "spark-streams", "restricted", pulumi.Output.secret({"kafka": "hunter2"})
            ),
        ),
        config,
        "dev",
    )
    labels = one(plan, "kubernetes:core/v1:Namespace", "streaming").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    role = one(plan, "kubernetes:rbac.authorization.k8s.io/v1:Role", "streaming-driver")
    assert "pods" in role.inputs["rules"][0]["resources"]
    # No binding to the namespace's service accounts as a group: each stream binds its own.
    assert not by_type(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    secret = one(plan, "kubernetes:core/v1:Secret", "streaming-secrets")
    assert secret.inputs["stringData"] == {"kafka": SECRET_PLACEHOLDER}
    assert "hunter2" not in repr(plan)
