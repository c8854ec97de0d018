"""One stream: its IAM role (IRSA), driver and executor service accounts, NetworkPolicy,
SparkApplication and the deploy's wait for it to run: eight resources with the component itself.

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
from components.ready import StreamReady, StreamReadyArgs
from spark_streams import iam, metadata, sparkapp
from spark_streams.config import MonitoringConfig, ReadinessConfig
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
    readiness: ReadinessConfig
    # The cluster's kubeconfig, as the Kubernetes provider has it (for the stream's wait).
    kubeconfig: pulumi.Input[str]


def network_policy_spec(
    stream: EffectiveStream, monitoring: MonitoringConfig
) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    """The stream's pods take traffic from one another, and on the metrics port from Prometheus.

    Driver and executors talk both ways (RPC, block transfers), so every port is open between
    them; nothing else in the namespace may reach them (the namespace denies by default).
    """
    own_pods: k8s.meta.v1.LabelSelectorArgsDict = {
        "match_labels": {metadata.IDENTITY_LABEL: stream.identity}
    }
    scraper: k8s.meta.v1.LabelSelectorArgsDict = {
        "match_labels": {"kubernetes.io/metadata.name": monitoring.scraper_namespace}
    }
    return {
        "pod_selector": own_pods,
        "policy_types": ["Ingress"],
        "ingress": [
            {"from_": [{"pod_selector": own_pods}]},
            {
                "from_": [{"namespace_selector": scraper}],
                "ports": [{"port": monitoring.metrics_port, "protocol": "TCP"}],
            },
        ],
    }


def role_tags(stream: EffectiveStream) -> dict[str, str]:
    """The role's tags: the stream, its owner and its labels (annotations stay in Kubernetes:
    their values need not fit an IAM tag)."""
    owner = {metadata.OWNER_LABEL: stream.owner} if stream.owner else {}
    return {**stream.labels, **owner, "spark-streams/stream": stream.name}


class Stream(pulumi.ComponentResource):
    role: aws.iam.Role
    application: k8s.apiextensions.CustomResource
    ready: StreamReady

    def __init__(
        self, name: str, args: StreamArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(STREAM, name, None, opts)
        stream = args.stream
        labels = metadata.labels(stream)
        identity = workload_identity(
            name,
            WorkloadIdentityArgs(
                namespace=stream.namespace,
                service_account=stream.service_account,
                executor_service_account=stream.executor_service_account,
                role_name=stream.role_name,
                policy=iam.access_policy(stream, args.kms_key_arn),
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
                description=f"spark-streams: stream {stream.name} ({stream.stack})",
                tags=role_tags(stream),
                labels=labels,
            ),
            parent=self,
        )
        self.role = identity.role
        network = k8s.networking.v1.NetworkPolicy(
            f"{name}-network",
            metadata={
                "name": stream.name,
                "namespace": stream.namespace,
                "labels": labels,
                "annotations": metadata.applied(),
            },
            spec=network_policy_spec(stream, args.monitoring),
            opts=pulumi.ResourceOptions(parent=self),
        )
        spec = sparkapp.spec(stream, args.monitoring, self.role.arn)
        self.application = k8s.apiextensions.CustomResource(
            f"{name}-app",
            api_version=sparkapp.API_VERSION,
            kind=sparkapp.KIND,
            metadata={
                "name": stream.name,
                "namespace": stream.namespace,
                "labels": labels,
                "annotations": metadata.applied(stream.annotations),
            },
            spec=spec,
            # Submitted only once its role's policy exists (IAM may take seconds more to apply
            # it; the restart policy covers that). A replacement (e.g. a rename) stops the old
            # driver before the new one starts: two queries on one checkpoint corrupt it.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *identity.accounts,
                    identity.policy,
                    network,
                    *args.requires,
                ],
                delete_before_replace=True,
            ),
        )
        self.ready = StreamReady(
            f"{name}-ready",
            StreamReadyArgs(
                stream=stream.name,
                namespace=stream.namespace,
                name=stream.name,
                spec_hash=sparkapp.spec_hash(spec),
                suspended=stream.suspend,
                readiness=args.readiness,
                kubeconfig=args.kubeconfig,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.application]),
        )
        self.register_outputs({"roleArn": self.role.arn, "checkpoint": stream.checkpoint.uri})
