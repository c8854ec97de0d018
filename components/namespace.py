"""The streaming namespace: Pod Security level, the RBAC Spark drivers need, stream secrets.

Each stream brings its own service account (components/stream.py) because IRSA binds an IAM
role to one service account; the driver Role here is shared, and each stream binds it to its
own service account only (so the namespace's other accounts, e.g. `default`, get nothing), so
adding a stream never edits a shared object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import PACKAGE
from spark_streams.sparkapp import SECRET_NAME

DRIVER_ROLE = "spark-driver"


@dataclass(frozen=True)
class StreamingNamespaceArgs:
    name: str
    pod_security: str
    # Values are Pulumi secrets; only the keys are plain.
    secrets: pulumi.Input[dict[str, str]] | None = None
    labels: dict[str, str] = field(default_factory=dict)


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
    # Once these exist a stream's pods can start: driver Role, secrets in place.
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: StreamingNamespaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:kubernetes:StreamingNamespace", name, None, opts)
        level = args.pod_security
        self.namespace = k8s.core.v1.Namespace(
            name,
            metadata={
                "name": args.name,
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
            metadata={"name": DRIVER_ROLE, "namespace": args.name},
            rules=driver_rules(),
            opts=in_namespace,
        )
        self.ready = [role]
        if args.secrets is not None:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets",
                metadata={"name": SECRET_NAME, "namespace": args.name},
                type="Opaque",
                string_data=args.secrets,
                opts=in_namespace,
            )
            self.ready.append(secret)
        self.register_outputs({"name": self.namespace.metadata.name})
