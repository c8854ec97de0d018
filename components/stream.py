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

from components import STREAM
from components.irsa import WorkloadIdentityArgs, workload_identity
from spark_streams import iam, sparkapp
from spark_streams.config import MonitoringConfig
from spark_streams.resolve import EffectiveStream


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
        super().__init__(STREAM, name, None, opts)
        stream = args.stream
        labels = sparkapp.labels(stream)
        identity = workload_identity(
            name,
            WorkloadIdentityArgs(
                namespace=stream.namespace,
                service_account=stream.service_account,
                role_name=stream.role_name,
                policy=iam.access_policy(stream, args.kms_key_arn),
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                description=f"spark-streams: stream {stream.name} ({stream.stack})",
                tags={"spark-streams/stream": stream.name},
                labels=labels,
            ),
            parent=self,
        )
        self.role = identity.role
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
                depends_on=[identity.service_account, identity.policy, *args.requires],
                delete_before_replace=True,
            ),
        )
        self.register_outputs({"roleArn": self.role.arn, "checkpoint": stream.checkpoint.uri})
