"""The Pulumi program as a function: validated inputs in, every resource registered.

``__main__.py`` calls :func:`register` under the engine; the offline plan and the tests call
it under Pulumi's mocks. It reads no file and no config of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from components.buckets import DataBuckets, DataBucketsArgs
from components.cluster import Cluster, ClusterArgs
from components.history_server import HistoryServer, HistoryServerArgs
from components.monitoring import StreamMonitoring, StreamMonitoringArgs
from components.namespace import StreamingNamespace, StreamingNamespaceArgs
from components.operator import SparkOperator, SparkOperatorArgs
from components.priority_class import StreamPriorityClass, StreamPriorityClassArgs
from components.stream import Stream, StreamArgs
from spark_streams.inputs import Inputs
from spark_streams.sparkapp import s3a_credentials_provider
from spark_streams.stackfile import PROJECT


def register(inputs: Inputs, secret_values: pulumi.Input[Mapping[str, str]] | None) -> None:
    """Register the stack's resources; ``secret_values`` are the ``secrets`` config's values
    (a Pulumi secret), used only when the stack has secrets."""
    config, streams = inputs.config, inputs.streams
    monitoring = config.monitoring
    cluster = Cluster("cluster", ClusterArgs(config.aws_region, config.cluster_name))
    # Every component gets both providers; each child picks its own package's.
    on_cluster = pulumi.ResourceOptions(
        providers=[cluster.aws_provider, cluster.k8s_provider, cluster.python_provider]
    )

    def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=list(resources))
        )

    buckets = DataBuckets("data", DataBucketsArgs(config.buckets), opts=on_cluster)
    namespace = StreamingNamespace(
        "streaming",
        StreamingNamespaceArgs(
            config.namespace,
            config.pod_security,
            secret_values if config.secrets else None,
            driver_service_accounts=[s.service_account for s in streams],
        ),
        opts=on_cluster,
    )
    # Cluster-scoped: it must exist before a driver pod may name it.
    priority = StreamPriorityClass(
        "priority",
        StreamPriorityClassArgs(config.priority_class, {"app.kubernetes.io/part-of": PROJECT}),
        opts=on_cluster,
    )
    operator = SparkOperator(
        "spark-operator",
        SparkOperatorArgs(
            config.operator, config.namespace, monitoring.prometheus_operator, monitoring.labels
        ),
        opts=after(namespace),
    )
    for stream in streams:
        Stream(
            stream.identity,
            StreamArgs(
                stream,
                monitoring,
                cluster.oidc_provider_arn,
                cluster.oidc_issuer,
                buckets.kms_key_arn,
                requires=[
                    operator.release,
                    priority.priority_class,
                    *namespace.ready,
                    *buckets.ready,
                ],
                readiness=config.readiness,
                kubeconfig=cluster.kubeconfig,
            ),
            opts=on_cluster,
        )
    if monitoring.prometheus_operator:
        StreamMonitoring(
            "monitoring",
            StreamMonitoringArgs(
                config.namespace,
                # A paused stream has no driver by design: no "not running" alert for it.
                {s.name: s.owner for s in streams if not s.suspend},
                monitoring.labels,
            ),
            opts=after(namespace),
        )
    if monitoring.history_server:
        HistoryServer(
            "history",
            HistoryServerArgs(
                namespace=config.namespace,
                image=config.history_server_image,
                hadoop_credentials_provider=s3a_credentials_provider(config.history_server_hadoop),
                bucket_prefix=config.buckets.prefix,
                event_log_bucket=buckets.names["event-logs"],
                directories=[(s.name, s.event_log) for s in streams],
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                kms_key_arn=buckets.kms_key_arn,
                ui_from=monitoring.history_server_ui_from,
                stack=inputs.stack,
                retention_days=config.buckets.event_log_retention_days,
            ),
            opts=after(namespace),
        )
    pulumi.export("namespace", config.namespace)
    pulumi.export("buckets", buckets.names)
    pulumi.export("streams", sorted(s.name for s in streams))
