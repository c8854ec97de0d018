"""One stream: its IAM role (IRSA), service account and SparkApplication.

Logical names come from the stream's identity (its first name), so a rename keeps every URN and
the checkpoint; only the Kubernetes objects, whose names are the display name, are replaced.
Nothing here depends on another stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import PACKAGE
from components.cluster import irsa_trust_policy
from components.namespace import DRIVER_ROLE
from spark_streams import iam, sparkapp
from spark_streams.config import MonitoringConfig
from spark_streams.resolve import EffectiveStream

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"


@dataclass(frozen=True)
class StreamArgs:
    stream: EffectiveStream
    monitoring: MonitoringConfig
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None
    # What must exist before the stream starts: operator, namespace, buckets.
    requires: Sequence[pulumi.Resource]


class Stream(pulumi.ComponentResource):
    role: aws.iam.Role
    application: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: StreamArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PACKAGE}:streaming:Stream", name, None, opts)
        stream = args.stream
        child = pulumi.ResourceOptions(parent=self)
        trust = irsa_trust_policy(
            args.oidc_provider_arn, args.oidc_issuer, stream.namespace, stream.service_account
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=stream.role_name,
            description=f"spark-streams: stream {stream.name} ({stream.stack})",
            assume_role_policy=trust,
            tags={"spark-streams/stream": stream.name},
            opts=child,
        )
        access = aws.iam.RolePolicy(
            f"{name}-access",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(iam.access_policy(stream, args.kms_key_arn)),
            opts=child,
        )
        labels = sparkapp.labels(stream)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": stream.service_account,
                "namespace": stream.namespace,
                "labels": labels,
                "annotations": {ROLE_ARN_ANNOTATION: self.role.arn},
            },
            opts=child,
        )
        # The shared driver Role, for this stream's service account only.
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-driver",
            metadata={"name": stream.name, "namespace": stream.namespace, "labels": labels},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": DRIVER_ROLE,
            },
            subjects=[
                {
                    "kind": "ServiceAccount",
                    "name": stream.service_account,
                    "namespace": stream.namespace,
                }
            ],
            opts=child,
        )
        self.application = k8s.apiextensions.CustomResource(
            f"{name}-app",
            api_version=sparkapp.API_VERSION,
            kind=sparkapp.KIND,
            metadata={"name": stream.name, "namespace": stream.namespace, "labels": labels},
            spec=sparkapp.spec(stream, args.monitoring, self.role.arn),
            # Submitted only once its role's policy exists (IAM may take seconds more to apply
            # it; the restart policy covers that). A replacement (e.g. a rename) stops the old
            # driver before the new one starts: two queries on one checkpoint corrupt it.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[account, binding, access, *args.requires],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({"roleArn": self.role.arn, "checkpoint": stream.checkpoint.uri})
