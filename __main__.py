"""spark-streams: the Pulumi program. Stack config and stream files in, resources out."""

from pathlib import Path

import pulumi

from components.buckets import DataBuckets, DataBucketsArgs
from components.cluster import Cluster, ClusterArgs
from components.history_server import HistoryServer, HistoryServerArgs
from components.monitoring import StreamMonitoring, StreamMonitoringArgs
from components.namespace import StreamingNamespace, StreamingNamespaceArgs
from components.operator import SparkOperator, SparkOperatorArgs
from components.stream import Stream, StreamArgs
from spark_streams.config import history_server_hadoop
from spark_streams.sparkapp import s3a_credentials_provider
from spark_streams.stack import program_inputs, secret_values

config, streams = program_inputs(Path(__file__).parent)
monitoring = config.monitoring

cluster = Cluster("cluster", ClusterArgs(config.aws_region, config.cluster_name))
on_aws = pulumi.ResourceOptions(provider=cluster.aws_provider)
on_k8s = pulumi.ResourceOptions(provider=cluster.k8s_provider)
on_both = pulumi.ResourceOptions(providers=[cluster.aws_provider, cluster.k8s_provider])

buckets = DataBuckets("data", DataBucketsArgs(config.buckets), opts=on_aws)
namespace = StreamingNamespace(
    "streaming",
    StreamingNamespaceArgs(
        config.namespace, config.pod_security, secret_values() if config.secrets else None
    ),
    opts=on_k8s,
)
operator = SparkOperator(
    "spark-operator",
    SparkOperatorArgs(
        config.operator, config.namespace, monitoring.prometheus_operator, monitoring.labels
    ),
    opts=pulumi.ResourceOptions(provider=cluster.k8s_provider, depends_on=[namespace]),
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
            requires=[operator.release, *namespace.ready, *buckets.ready],
        ),
        opts=on_both,
    )

if monitoring.prometheus_operator:
    StreamMonitoring(
        "monitoring",
        StreamMonitoringArgs(
            config.namespace, [s.name for s in streams if not s.suspend], monitoring.labels
        ),
        opts=pulumi.ResourceOptions(provider=cluster.k8s_provider, depends_on=[namespace]),
    )
if monitoring.history_server:
    HistoryServer(
        "history",
        HistoryServerArgs(
            namespace=config.namespace,
            image=monitoring.history_server_image or config.spark.image,
            hadoop_credentials_provider=s3a_credentials_provider(history_server_hadoop(config)),
            bucket_prefix=config.buckets.prefix,
            event_log_bucket=buckets.names["event-logs"],
            directories=[(s.name, s.event_log) for s in streams],
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_issuer,
            kms_key_arn=buckets.kms_key_arn,
        ),
        opts=pulumi.ResourceOptions(
            providers=[cluster.aws_provider, cluster.k8s_provider], depends_on=[namespace]
        ),
    )

pulumi.export("namespace", config.namespace)
pulumi.export("buckets", buckets.names)
pulumi.export("streams", sorted(s.name for s in streams))
