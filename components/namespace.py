"""The streaming namespace: Pod Security level, the RBAC Spark drivers need, stream secrets, and
the NetworkPolicy that closes every pod to ingress unless a policy of its own opens it.

Each stream brings its own service accounts (components/stream.py) because IRSA binds an IAM
role to named service accounts. The driver Role is bound here, by name, to the streams' driver
accounts only: not to the namespace's group, whose members include executors, the History
Server and the ``default`` account. One binding lists them all (adding a stream edits its
subjects in place) so that a stream stays within seven resources of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import STREAMING_NAMESPACE
from spark_streams.metadata import applied
from spark_streams.sparkapp import SECRET_NAME

DRIVER_ROLE = "spark-driver"
DENY_INGRESS = "default-deny-ingress"


@dataclass(frozen=True)
class StreamingNamespaceArgs:
    name: str
    pod_security: str
    # Values are Pulumi secrets; only the keys are plain.
    secrets: pulumi.Input[Mapping[str, str]] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # The streams' driver service accounts: the only subjects of the driver Role.
    driver_service_accounts: Sequence[str] = ()


def driver_rules() -> list[k8s.rbac.v1.PolicyRuleArgsDict]:
    """What a Spark driver does in its namespace: run executors and their services/config."""
    return [
        {
            "api_groups": [""],
            "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
            "verbs": [
                "create",
                "get",
                "list",
                "watch",
                "update",
                "patch",
                "delete",
                "deletecollection",
            ],
        },
    ]


class StreamingNamespace(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    # Once these exist a stream's pods can start: RBAC bound, secrets in place.
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: StreamingNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(STREAMING_NAMESPACE, name, None, opts)
        level = args.pod_security
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata={
                "name": args.name,
                "annotations": applied(),
                "labels": {
                    **args.labels,
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_namespace = pulumi.ResourceOptions(parent=self.namespace)
        role = k8s.rbac.v1.Role(
            f"{name}-driver",
            metadata={"name": DRIVER_ROLE, "namespace": args.name, "annotations": applied()},
            rules=driver_rules(),
            opts=in_namespace,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-driver",
            metadata={"name": DRIVER_ROLE, "namespace": args.name, "annotations": applied()},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": DRIVER_ROLE,
            },
            subjects=[
                {"kind": "ServiceAccount", "name": account, "namespace": args.name}
                for account in sorted(args.driver_service_accounts)
            ],
            opts=pulumi.ResourceOptions(parent=self.namespace, depends_on=[role]),
        )
        deny = k8s.networking.v1.NetworkPolicy(
            f"{name}-deny-ingress",
            metadata={"name": DENY_INGRESS, "namespace": args.name, "annotations": applied()},
            # Every pod, no ingress rule: closed unless another policy selects it and opens.
            spec={"pod_selector": {}, "policy_types": ["Ingress"]},
            opts=in_namespace,
        )
        self.ready = [binding, deny]
        if args.secrets is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets",
                metadata={"name": SECRET_NAME, "namespace": args.name, "annotations": applied()},
                type="Opaque",
                string_data=args.secrets,
                opts=in_namespace,
            )
            self.ready.append(secret)
        self.register_outputs({"name": self.namespace.metadata.name})
