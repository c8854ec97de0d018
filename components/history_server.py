"""An optional Spark History Server over every stream's event logs, and their only cleaner.

Each stream writes event logs under its own prefix (its role may write nowhere else), so the
server is given the list of those directories (``spark.history.fs.logDirectory`` accepts a
comma-separated list since SPARK-55793, Spark 4.2; an older server takes the list for one path
and does not start, which the stack config check refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import HISTORY_SERVER
from components.irsa import WorkloadIdentityArgs, workload_identity
from spark_streams import iam
from spark_streams.metadata import STACK_LABEL, applied
from spark_streams.resolve import S3Location, iam_role_name
from spark_streams.sparkapp import SPARK_UID

NAME = "spark-history-server"
UI_PORT = 18080
# Hadoop's S3A buffers and Spark's scratch files: the only writable place, the root file
# system being read-only.
SCRATCH = "/tmp"
# The listing and every replayed application on disk rather than in memory (LevelDB/RocksDB).
STORE = "/var/lib/spark-history"
STORE_LIMIT = "4Gi"
# Compaction keeps this many rolled event files of an application and folds the older ones
# into one `.compact` file (SPARK-28594): a stream that runs for months stays replayable.
FILES_TO_RETAIN = 2


@dataclass(frozen=True)
class HistoryServerArgs:
    namespace: str
    image: str
    hadoop_credentials_provider: str
    bucket_prefix: str
    event_log_bucket: str
    # One directory per stream, named by stream.
    directories: Sequence[tuple[str, S3Location]]
    oidc_provider_arn: pulumi.Input[str]
    oidc_issuer: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str] | None
    # Namespaces whose pods may open the UI; none: only `kubectl port-forward`.
    ui_from: Sequence[str] = ()
    stack: str | None = None
    # How long the cleaner keeps an application's logs it has not seen grow.
    retention_days: int = 30


def history_options(args: HistoryServerArgs) -> str:
    directories = sorted(args.directories)
    return " ".join(
        [
            f"-Dspark.history.fs.logDirectory={','.join(loc.uri for _, loc in directories)}",
            f"-Dspark.history.fs.logDirectory.names={','.join(name for name, _ in directories)}",
            f"-Dspark.hadoop.fs.s3a.aws.credentials.provider={args.hadoop_credentials_provider}",
            "-Dspark.history.fs.update.interval=30s",
            # The only deleter of event logs (the bucket's lifecycle expires no current object):
            # it deletes an application once it has not seen its log grow for the retention.
            "-Dspark.history.fs.cleaner.enabled=true",
            f"-Dspark.history.fs.cleaner.maxAge={args.retention_days}d",
            f"-Dspark.history.fs.eventLog.rolling.maxFilesToRetain={FILES_TO_RETAIN}",
            f"-Dspark.history.store.path={STORE}",
            "-Dspark.history.store.maxDiskUsage=3g",
        ]
    )


def container(args: HistoryServerArgs) -> k8s.core.v1.ContainerArgsDict:
    return {
        "name": "history-server",
        "image": args.image,
        # A tag can be moved to other content: pull it every start so a node never runs a
        # stale copy (with a digest, the pull is a manifest check).
        "image_pull_policy": "Always",
        "command": ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"],
        "env": [{"name": "SPARK_HISTORY_OPTS", "value": history_options(args)}],
        "ports": [{"name": "http", "container_port": UI_PORT}],
        "readiness_probe": {"http_get": {"path": "/", "port": "http"}},
        # Restarts a server that stopped answering; the first listing of many event logs can
        # take minutes, hence the patience.
        "liveness_probe": {
            "http_get": {"path": "/", "port": "http"},
            "initial_delay_seconds": 120,
            "period_seconds": 30,
            "failure_threshold": 4,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "volume_mounts": [
            {"name": "scratch", "mount_path": SCRATCH},
            {"name": "store", "mount_path": STORE},
        ],
        "security_context": {
            "allow_privilege_escalation": False,
            "capabilities": {"drop": ["ALL"]},
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            # The Spark image's own user: its files and passwd entry are this UID's (see
            # docs/security.md on why not a UID above 10000).
            "run_as_user": SPARK_UID,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
    }


def network_policy_spec(
    args: HistoryServerArgs, labels: dict[str, str]
) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    """The UI port, only from the namespaces the stack names (none: no ingress at all)."""
    sources: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [
        {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}}}
        for namespace in sorted(args.ui_from)
    ]
    ingress: list[k8s.networking.v1.NetworkPolicyIngressRuleArgsDict] = [
        {"from_": sources, "ports": [{"port": UI_PORT, "protocol": "TCP"}]}
    ]
    return {
        "pod_selector": {"match_labels": labels},
        "policy_types": ["Ingress"],
        "ingress": ingress if sources else [],
    }


class HistoryServer(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: HistoryServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(HISTORY_SERVER, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identity = workload_identity(
            name,
            WorkloadIdentityArgs(
                namespace=args.namespace,
                service_account=NAME,
                role_name=iam_role_name(args.bucket_prefix, NAME),
                policy=iam.history_server_policy(args.event_log_bucket, args.kms_key_arn),
                oidc_provider_arn=args.oidc_provider_arn,
                oidc_issuer=args.oidc_issuer,
            ),
            parent=self,
        )
        labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "spark-streams"}
        # The stack label goes on the Deployment only: its pod selector cannot change.
        stack = {STACK_LABEL: args.stack} if args.stack else {}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={
                "name": NAME,
                "namespace": args.namespace,
                "labels": {**labels, **stack},
                "annotations": applied(),
            },
            spec={
                "replicas": 1,
                "selector": {"match_labels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "service_account_name": NAME,
                        # It reads S3 through IRSA's own token and never calls the Kubernetes
                        # API, so it gets no API token (and so none of the driver RBAC).
                        "automount_service_account_token": False,
                        "security_context": {"fs_group": SPARK_UID},
                        "containers": [container(args)],
                        "volumes": [
                            {"name": "scratch", "empty_dir": {"size_limit": "1Gi"}},
                            {"name": "store", "empty_dir": {"size_limit": STORE_LIMIT}},
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[identity.service_account]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={
                "name": NAME,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": applied(),
            },
            spec={
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "target_port": "http"}],
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network",
            metadata={
                "name": NAME,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": applied(),
            },
            spec=network_policy_spec(args, labels),
            opts=child,
        )
        self.register_outputs({"roleArn": identity.role.arn})
