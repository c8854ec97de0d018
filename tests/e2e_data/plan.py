"""What a data-path run takes from the program: its offline plan (``spark-streams plan --json``),
read through the plan's own typed models.

Every stream, bucket, policy and Spark setting the scenarios use comes from there, so the run
holds what the stack would deploy; the only values it changes are the endpoint and credentials
(:mod:`tests.e2e_data.spark`) and the IAM details MinIO spells otherwise (:func:`minio_policy`).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from spark_streams.commands.plan import offline_plan
from spark_streams.offline import Plan, PlannedResource

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SPARK_APPLICATION = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
IDENTITY_LABEL = "spark-streams/identity"
HISTORY_SERVER = "spark-history-server"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class S3Path(_Model):
    bucket: str
    prefix: str  # ends with "/"

    @classmethod
    def parse(cls, uri: str) -> S3Path:
        scheme, _, rest = uri.partition("://")
        assert scheme == "s3a", uri
        bucket, _, prefix = rest.partition("/")
        return cls(bucket=bucket, prefix=prefix)

    @property
    def uri(self) -> str:
        return f"s3a://{self.bucket}/{self.prefix}"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


class InitContainer(_Model):
    command: list[str]
    env: dict[str, str]


class StreamPlan(_Model):
    """One stream's SparkApplication and IAM policy, as planned."""

    name: str
    identity: str
    spark_version: str
    spark_conf: dict[str, str]
    hadoop_conf: dict[str, str]
    init: InitContainer
    policy: dict[str, Any]
    role: str
    driver_memory: str

    @property
    def sink(self) -> S3Path:
        return S3Path.parse(self.spark_conf["spark.streams.sink"])

    @property
    def checkpoint(self) -> S3Path:
        return S3Path.parse(self.spark_conf["spark.streams.checkpointLocation"])

    @property
    def event_log(self) -> S3Path:
        return S3Path.parse(self.spark_conf["spark.eventLog.dir"])

    @property
    def own(self) -> list[S3Path]:
        return [self.sink, self.checkpoint, self.event_log]

    @property
    def reads(self) -> list[S3Path]:
        """Declared inputs: what its read-only statement grants beside its own prefixes."""
        statements = [s for s in self.policy["Statement"] if s.get("Sid") == "ReadDeclaredInputs"]
        arns = [arn for s in statements for arn in s["Resource"] if arn.endswith("/*")]
        return [S3Path.parse("s3a://" + arn.removeprefix("arn:aws:s3:::")[:-1]) for arn in arns]

    @property
    def credentials_provider(self) -> str:
        return self.hadoop_conf["fs.s3a.aws.credentials.provider"]


class HistoryServerPlan(_Model):
    options: dict[str, str]  # SPARK_HISTORY_OPTS, key -> value
    policy: dict[str, Any]
    role: str

    @property
    def directories(self) -> list[S3Path]:
        return [S3Path.parse(u) for u in self.options["spark.history.fs.logDirectory"].split(",")]


class BucketPlan(_Model):
    name: str
    versioning: str | None = None
    encryption: dict[str, Any] | None = None
    lifecycle: list[dict[str, Any]] = []
    policy: dict[str, Any] | None = None


class StackPlan(_Model):
    stack: str
    region: str
    streams: list[StreamPlan]
    buckets: list[BucketPlan]
    history_server: HistoryServerPlan | None

    def stream(self, identity: str) -> StreamPlan:
        (found,) = [s for s in self.streams if s.identity == identity]
        return found


def load(project: Path, stack: str, region: str, streams_dir: Path | None = None) -> StackPlan:
    """What ``spark-streams plan --json --stack STACK`` prints, computed in this process (one
    interpreter and one import of Pulumi for the whole run, not one per plan)."""
    return parse(offline_plan(project, stack, streams_dir), region)


def _of_type(resources: list[PlannedResource], type_: str) -> list[PlannedResource]:
    return [r for r in resources if r.type == type_]


def parse(plan: Plan, region: str) -> StackPlan:
    policies = {
        r.inputs["role"]: (r.stream, json.loads(r.inputs["policy"]))
        for r in _of_type(plan.resources, ROLE_POLICY)
    }
    by_stream = {stream: (role, doc) for role, (stream, doc) in policies.items()}
    streams = []
    for r in _of_type(plan.resources, SPARK_APPLICATION):
        spec, meta = r.inputs["spec"], r.inputs["metadata"]
        (init,) = spec["driver"]["initContainers"]
        role, policy = by_stream[r.stream]
        streams.append(
            StreamPlan(
                name=meta["name"],
                identity=meta["labels"][IDENTITY_LABEL],
                spark_version=spec["sparkVersion"],
                spark_conf=spec["sparkConf"],
                hadoop_conf=spec["hadoopConf"],
                init=InitContainer(
                    command=init["command"],
                    env={e["name"]: str(e.get("value", "")) for e in init["env"]},
                ),
                policy=policy,
                role=role,
                driver_memory=spec["driver"]["memory"],
            )
        )
    return StackPlan(
        stack=plan.stack,
        region=region,
        streams=sorted(streams, key=lambda s: s.identity),
        buckets=_buckets(plan.resources),
        history_server=_history_server(plan.resources, policies),
    )


def _buckets(resources: list[PlannedResource]) -> list[BucketPlan]:
    fields: dict[str, dict[str, Any]] = {}
    for r in resources:
        inputs = r.inputs
        if r.type == BUCKET:
            fields.setdefault(inputs["bucket"], {})
        elif r.type == VERSIONING:
            status = inputs["versioningConfiguration"]["status"]
            fields.setdefault(inputs["bucket"], {})["versioning"] = status
        elif r.type == ENCRYPTION:
            (rule,) = inputs["rules"]
            fields.setdefault(inputs["bucket"], {})["encryption"] = rule
        elif r.type == LIFECYCLE:
            fields.setdefault(inputs["bucket"], {})["lifecycle"] = inputs["rules"]
        elif r.type == BUCKET_POLICY:
            policy = json.loads(inputs["policy"])
            fields.setdefault(inputs["bucket"], {})["policy"] = policy
    return [BucketPlan(name=name, **values) for name, values in sorted(fields.items())]


def _history_server(
    resources: list[PlannedResource], policies: dict[str, tuple[str | None, dict[str, Any]]]
) -> HistoryServerPlan | None:
    found = [
        r for r in _of_type(resources, DEPLOYMENT) if r.inputs["metadata"]["name"] == HISTORY_SERVER
    ]
    if not found:
        return None
    (container,) = found[0].inputs["spec"]["template"]["spec"]["containers"]
    (opts,) = [e["value"] for e in container["env"] if e["name"] == "SPARK_HISTORY_OPTS"]
    options = dict(
        item.removeprefix("-D").split("=", 1) for item in shlex.split(opts) if item.startswith("-D")
    )
    (role,) = [role for role in policies if role.endswith(HISTORY_SERVER)]
    return HistoryServerPlan(options=options, policy=policies[role][1], role=role)


def minio_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The identity policy as MinIO takes it: the same statements, less the KMS ones.

    S3 ARNs and the s3:prefix condition read the same in MinIO. It has no KMS key resources or
    kms:Decrypt/GenerateDataKey actions (a bucket's SSE key is the server's, used for anyone
    allowed the object), so the statement using the bucket key cannot be held here.
    """
    statements = [
        s
        for s in policy["Statement"]
        if not any(str(a).startswith("kms:") for a in _as_list(s["Action"]))
    ]
    return {**policy, "Statement": statements}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
