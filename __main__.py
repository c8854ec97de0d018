"""spark-streams: the Pulumi program. Stack config and stream files in, resources out."""

from pathlib import Path

import pulumi

from components.buckets import DataBuckets, DataBucketsArgs
from components.cluster import Cluster, ClusterArgs
from components.namespace import StreamingNamespace, StreamingNamespaceArgs
from components.operator import SparkOperator, SparkOperatorArgs
from components.stream import Stream, StreamArgs
from spark_streams.stack import program_inputs, secret_values

config, streams = program_inputs(Path(__file__).parent)

cluster = Cluster("cluster", ClusterArgs(config.aws_region, config.cluster_name))
on_aws = pulumi.ResourceOptions(provider=cluster.aws_provider)
on_k8s = pulumi.ResourceOptions(provider=cluster.k8s_provider)

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
    SparkOperatorArgs(config.operator, config.namespace),
    opts=pulumi.ResourceOptions(provider=cluster.k8s_provider, depends_on=[namespace]),
)
for stream in streams:
    Stream(
        stream.identity,
        StreamArgs(
            stream,
            config.monitoring,
            cluster.oidc_provider_arn,
            cluster.oidc_issuer,
            buckets.kms_key_arn,
            requires=[operator.release, *namespace.ready, *buckets.ready],
        ),
        opts=pulumi.ResourceOptions(providers=[cluster.aws_provider, cluster.k8s_provider]),
    )

pulumi.export("namespace", config.namespace)
pulumi.export("buckets", buckets.names)
pulumi.export("streams", sorted(s.name for s in streams))
