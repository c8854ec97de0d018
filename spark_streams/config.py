"""Stack config: the models of everything that differs between dev and prod.

:mod:`spark_streams.stackfile` reads the values (from ``Pulumi.<stack>.yaml`` offline, from
Pulumi's config under the engine); :func:`parse_stack_config` validates them into
:class:`StackConfig`, one model for both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictInt, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from spark_streams import settings
from spark_streams.pricing import PricingConfig
from spark_streams.problems import InvalidInputError, Problem, from_validation_error
from spark_streams.settings import STACK_FILE, STRICT, HadoopVersion, StackSparkSettings
from spark_streams.stackfile import SECRET_PLACEHOLDER
from spark_streams.types import Count, Image, ObjectName, Seconds, spark_minor

_CHART_VERSION = re.compile(r"^2\.5\.[0-9]+$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$")
_OCI_REGISTRY = re.compile(r"^oci://[^/\s]+(/\S+)?$")
# The project's public Helm repository: where the chart comes from unless the stack says.
CHART_REPOSITORY = "https://kubeflow.github.io/spark-operator"


def _chart_version(value: str) -> str:
    if not _CHART_VERSION.match(value):
        raise ValueError(f"{value!r} is not a 2.5.x spark-operator chart version (e.g. '2.5.2')")
    return value


def _chart_source(value: str) -> str:
    if value.startswith("https://") or _OCI_REGISTRY.match(value) or "://" not in value:
        return value
    raise ValueError(
        f"{value!r} is no chart source: use an https:// Helm repository, an oci:// registry "
        "(e.g. 'oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts') or the path of a "
        "chart directory or .tgz"
    )


def _namespace(value: str) -> str:
    if len(value) > 63 or not _DNS1123.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes namespace name (e.g. 'spark-streams')")
    return value


def _bucket_prefix(value: str) -> str:
    if not _BUCKET_PREFIX.match(value):
        raise ValueError(
            f"{value!r} cannot start S3 bucket names; use 3-42 lowercase letters, digits and '-'"
        )
    return value


Namespace = Annotated[str, AfterValidator(_namespace)]


class _Section(BaseModel):
    model_config = STRICT


class BucketsConfig(_Section):
    """The three buckets: ``<prefix>-lake``, ``<prefix>-checkpoints``, ``<prefix>-event-logs``."""

    prefix: Annotated[str, AfterValidator(_bucket_prefix)] = Field(
        description="Start of the three bucket names, e.g. 'acme-data-prod'"
    )
    encryption: Literal["sse-kms", "sse-s3"] = Field(
        default="sse-kms", description="sse-kms (a key of the stack's own) or sse-s3"
    )
    protect: bool = Field(
        default=True, description="protect + retain the lake and checkpoint buckets"
    )
    event_log_retention_days: Count = Field(default=30, description="Days event logs are kept")
    noncurrent_version_retention_days: Count = Field(
        default=30, description="Days overwritten or deleted object versions are kept"
    )

    def name(self, purpose: Literal["lake", "checkpoints", "event-logs"]) -> str:
        return f"{self.prefix}-{purpose}"


class OperatorConfig(_Section):
    """The Kubeflow spark-operator Helm release."""

    chart_version: Annotated[str, AfterValidator(_chart_version)] = Field(
        description="The chart's version, 2.5.x"
    )
    chart_source: Annotated[str, AfterValidator(_chart_source)] = Field(
        default=CHART_REPOSITORY,
        description="Where the chart comes from: a Helm repository (https://), an OCI registry "
        "(oci://, e.g. a mirror in ECR: the chart is <registry path>/spark-operator) or a chart "
        "directory or .tgz (air-gapped; relative to the project)",
    )
    namespace: Namespace = Field(
        default="spark-operator", description="Namespace of the operator itself"
    )
    values: dict[str, Any] = Field(
        default_factory=dict, description="Extra chart values, merged over ours"
    )


class MonitoringConfig(_Section):
    """Metrics, alerts and the Spark History Server."""

    prometheus_operator: bool = Field(
        default=False,
        description="The cluster runs the Prometheus operator: add a PodMonitor and alerts",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels the Prometheus operator selects PodMonitors and rules by "
        "(kube-prometheus-stack: release: <its release name>)",
    )
    jmx_exporter_jar: str = Field(
        default="/prometheus/jmx_prometheus_javaagent.jar",
        description="The JMX exporter agent inside the streams' image (the JVM exits without it)",
    )
    metrics_port: Annotated[int, Field(ge=1024, le=65535)] = Field(
        default=8090, description="Port of the JMX exporter on every driver and executor"
    )
    history_server: bool = Field(default=False, description="Run a Spark History Server")
    history_server_image: Image | None = Field(
        default=None,
        description="Image of the History Server, Spark 4.2+ (default: the streams' image)",
    )
    history_server_hadoop_version: HadoopVersion | None = Field(
        default=None,
        description="Hadoop in historyServerImage: picks the S3A credentials provider "
        "(default 3.5, what Spark 4.2 ships; without that image, the streams' hadoopVersion)",
    )
    scraper_namespace: Namespace = Field(
        default="monitoring",
        description="Namespace of the Prometheus that scrapes the streams: the only place their "
        "metrics port accepts traffic from",
    )
    history_server_ui_from: tuple[Namespace, ...] = Field(
        default=(),
        description="Namespaces whose pods may open the History Server's UI (e.g. an ingress "
        "controller's); none: kubectl port-forward only",
    )


@dataclass(kw_only=True, frozen=True, config=STACK_FILE)
class SparkSection(StackSparkSettings):
    """The stack's ``spark:``: the Spark settings every stream shares unless it overrides them
    (declared in :mod:`spark_streams.settings`, written here in camelCase)."""


class PriorityClassConfig(_Section):
    """The streams' PriorityClass, which the program creates (cluster-scoped)."""

    name: ObjectName = Field(
        default="spark-streams", description="Its name: what driver.priorityClassName names"
    )
    value: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)] = Field(
        default=1_000_000,
        description="Scheduling priority over other pods (user classes go up to 1000000000)",
    )
    preemption_policy: Literal["Never", "PreemptLowerPriority"] = Field(
        default="Never",
        description="Never: a pending driver waits for room, it never evicts other teams' pods",
    )


class ReadinessConfig(_Section):
    """How ``pulumi up`` waits for each stream it creates or changes (spark_streams/readiness)."""

    min_ready_seconds: Seconds = Field(
        default=30,
        description="Seconds a changed stream must stay RUNNING (SUSPENDED if paused), with no "
        "new execution attempt, before its deploy succeeds (as a Deployment's minReadySeconds); "
        "also how long its driver may fail to start (image pull, missing secret) before it fails",
    )
    timeout_seconds: Count = Field(
        default=300,
        description="Seconds a stream may take to get there before its deploy fails, plus "
        "secondsPerSubmission for each application the deploy makes the operator submit",
    )
    seconds_per_submission: Seconds = Field(
        default=15,
        description="Seconds added to timeoutSeconds per application the deploy submits (the "
        "operator runs one spark-submit at a time per worker: docs/twin.md)",
    )


class StackConfig(_Section):
    """Everything in ``Pulumi.<stack>.yaml`` under the ``spark-streams:`` namespace."""

    aws_region: str = Field(description="AWS region of the cluster and the buckets")
    cluster_name: str = Field(description="Name of the existing EKS cluster")
    namespace: Namespace = Field(
        default="spark-streams", description="Kubernetes namespace the streams run in"
    )
    pod_security: Literal["restricted", "baseline"] = Field(
        default="restricted", description="Pod Security Standard enforced on the namespace"
    )
    streams_dir: str = Field(
        default="streams", description="Directory of stream files, relative to Pulumi.yaml"
    )
    require_owner: bool = Field(
        default=False, description="Every stream must name its owner (the team alerts go to)"
    )
    buckets: BucketsConfig = Field(description="Bucket naming and hardening")
    operator: OperatorConfig = Field(description="The spark-operator Helm release")
    spark: SparkSection = Field(description="Spark settings shared by every stream")
    priority_class: PriorityClassConfig = Field(
        default=PriorityClassConfig(),
        description="The streams' PriorityClass (cluster-scoped; the program creates it)",
    )
    monitoring: MonitoringConfig = Field(
        default=MonitoringConfig(), description="Metrics, alerts and the Spark History Server"
    )
    readiness: ReadinessConfig = Field(
        default=ReadinessConfig(),
        description="When a deploy counts a stream it created or changed as running",
    )
    pricing: PricingConfig = Field(
        default=PricingConfig(),
        description="What capacity costs, for list, diff and the merge-request note (docs/cost.md)",
    )
    secrets: dict[str, str | None] = Field(
        default_factory=dict,
        description="Secret values streams reference by key; set with: pulumi config set "
        "--secret --path 'secrets.<key>' <value> (a key with no value yet: null)",
    )

    @field_validator("secrets")
    @classmethod
    def _secrets_are_encrypted(cls, secrets: dict[str, str | None]) -> dict[str, str | None]:
        """Names the keys left in plain text, never their values.

        The stack-file reader replaces every encrypted value by the placeholder; ``null``
        declares a secret that has no value yet; anything else sits in git.
        """
        plain = sorted(k for k, v in secrets.items() if v not in (SECRET_PLACEHOLDER, None))
        if plain:
            raise ValueError(
                f"{', '.join(plain)} in plain text, not encrypted. Fix: pulumi config set "
                f"--secret --path 'secrets.{plain[0]}' <value> (and rotate the value: it has "
                "been in the file)"
            )
        return secrets

    @property
    def unset_secrets(self) -> list[str]:
        """Secrets the stack declares (``null``) but has no value for yet."""
        return sorted(key for key, value in self.secrets.items() if value is None)

    @property
    def history_server_image(self) -> str:
        """The History Server's own image, or the streams' (then it must be Spark 4.2+)."""
        return self.monitoring.history_server_image or self.spark.image

    @property
    def history_server_hadoop(self) -> HadoopVersion:
        """Hadoop in :attr:`history_server_image`: as set, else what that image ships."""
        monitoring = self.monitoring
        if monitoring.history_server_hadoop_version:
            return monitoring.history_server_hadoop_version
        return "3.5" if monitoring.history_server_image else self.spark.hadoop_version


def parse_stack_config(values: dict[str, Any], *, file: str) -> StackConfig:
    """Validated stack config, its ``spark:`` section complete (every setting it leaves out at
    its declared default), or :class:`InvalidInputError` naming every bad key."""
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        raise InvalidInputError(
            list(from_validation_error(error, file=file, stream=None, model=StackConfig))
        ) from None
    missing = settings.missing(config.spark, SparkSection)
    if missing:
        raise InvalidInputError(
            [
                Problem(file, None, f"spark.{s.camel}", "Field required. Fix: add it")
                for s in missing
            ]
        )
    spark = SparkSection(**settings.merge(SparkSection, [config.spark]))
    return config.model_copy(update={"spark": spark})


# Several `spark.history.fs.logDirectory` entries: SPARK-55793, in Spark 4.2.
MULTI_DIRECTORY_HISTORY = "4.2"


def history_server_reads_one_directory(config: StackConfig) -> bool:
    """The History Server would run the streams' Spark, older than one directory per stream."""
    monitoring = config.monitoring
    if not monitoring.history_server or monitoring.history_server_image:
        return False
    minor = tuple(map(int, spark_minor(config.spark.spark_version).split(".")))
    return minor < tuple(map(int, MULTI_DIRECTORY_HISTORY.split(".")))
