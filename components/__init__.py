"""Pulumi components, one per file. Each is a ComponentResource with a typed ``*Args``.

Resource type tokens live here, in one place: the components register under them, and the
offline plan, the CLI and the diff find resources by them.
"""

PACKAGE = "spark-streams"

# Our components (pkg:module:Type).
CLUSTER = f"{PACKAGE}:cluster:Cluster"
DATA_BUCKETS = f"{PACKAGE}:storage:DataBuckets"
STREAMING_NAMESPACE = f"{PACKAGE}:kubernetes:StreamingNamespace"
SPARK_OPERATOR = f"{PACKAGE}:kubernetes:SparkOperator"
STREAM = f"{PACKAGE}:streaming:Stream"
STREAM_MONITORING = f"{PACKAGE}:monitoring:StreamMonitoring"
HISTORY_SERVER = f"{PACKAGE}:monitoring:HistoryServer"
PRIORITY_CLASS = f"{PACKAGE}:kubernetes:StreamPriorityClass"

# Provider resource types, as a plan names them.
SPARK_APPLICATION = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# The wait for a stream to run (components/ready.py): a Python dynamic resource, whose type the
# SDK builds from a module and a name.
READY_MODULE, READY_NAME = PACKAGE, "StreamReady"
STREAM_READY = f"pulumi-python:dynamic/{READY_MODULE}:{READY_NAME}"
