"""Stack config: the models of everything that differs between dev and prod.

:mod:`spark_streams.stackfile` reads the values (from ``Pulumi.<stack>.yaml`` offline, from
Pulumi's config under the engine); :func:`parse_stack_config` validates them into
:class:`StackConfig`, one model for both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator

from spark_streams.model import (
    STRICT,
    AppType,
    Deps,
    Driver,
    Executor,
    RestartPolicy,
    Toleration,
)
from spark_streams.pricing import PricingConfig
from spark_streams.problems import InvalidInputError, Problem, from_validation_error
from spark_streams.stackfile import SECRET_PLACEHOLDER
from spark_streams.types import Count, Image, LabelKey, LabelValue

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

    prefix: Annotated[str, AfterValidator(_bucket_prefix)]
    encryption: Literal["sse-kms", "sse-s3"] = "sse-kms"
    protect: bool = Field(
        default=True, description="protect + retain the lake and checkpoint buckets"
    )
    event_log_retention_days: Count = 30
    noncurrent_version_retention_days: Count = 30

    def name(self, purpose: Literal["lake", "checkpoints", "event-logs"]) -> str:
        return f"{self.prefix}-{purpose}"


class OperatorConfig(_Section):
    """The Kubeflow spark-operator Helm release."""

    chart_version: Annotated[str, AfterValidator(_chart_version)]
    chart_source: Annotated[str, AfterValidator(_chart_source)] = Field(
        default=CHART_REPOSITORY,
        description="Where the chart comes from: a Helm repository (https://), an OCI registry "
        "(oci://, e.g. a mirror in ECR: the chart is <registry path>/spark-operator) or a chart "
        "directory or .tgz (air-gapped; relative to the project)",
    )
    namespace: Namespace = "spark-operator"
    values: dict[str, Any] = Field(
        default_factory=dict, description="Extra chart values, merged over ours"
    )


class MonitoringConfig(_Section):
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
    metrics_port: Annotated[int, Field(ge=1024, le=65535)] = 8090
    history_server: bool = Field(default=False, description="Run a Spark History Server")
    history_server_image: Image | None = Field(
        default=None,
        description="Image of the History Server, Spark 4.2+ (default: the streams' image)",
    )
    history_server_hadoop_version: Literal["3.3", "3.4"] | None = Field(
        default=None,
        description="Hadoop in historyServerImage: picks the S3A credentials provider "
        "(default 3.4, what Spark 4 ships; without that image, the streams' hadoopVersion)",
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


class SparkDefaults(_Section):
    """The Spark settings every stream shares unless it overrides them."""

    type: AppType = "Scala"
    spark_version: str
    image: Image
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    main_class: str | None = None
    application_file: str
    hadoop_version: Literal["3.3", "3.4"] = Field(
        default="3.4", description="Picks the S3A credentials provider for IRSA"
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels both roles need"
    )
    tolerations: tuple[Toleration, ...] = Field(default=(), description="Both roles carry these")
    restart_policy: RestartPolicy = RestartPolicy()
    driver: Driver = Driver()
    executor: Executor = Executor()
    spark_conf: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(
        default_factory=dict, description="Plain environment variables of every stream's pods"
    )
    deps: Deps = Deps()
    termination_grace_period_seconds: Count = 120


class StackConfig(_Section):
    """Everything in ``Pulumi.<stack>.yaml`` under the ``spark-streams:`` namespace."""

    aws_region: str
    cluster_name: str
    namespace: Namespace = "spark-streams"
    pod_security: Literal["restricted", "baseline"] = "restricted"
    streams_dir: str = "streams"
    require_owner: bool = Field(
        default=False, description="Every stream must name its owner (the team alerts go to)"
    )
    buckets: BucketsConfig
    operator: OperatorConfig
    spark: SparkDefaults
    monitoring: MonitoringConfig = MonitoringConfig()
    pricing: PricingConfig = PricingConfig()
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Secret values streams reference by key (pulumi config set --secret --path)",
    )

    @field_validator("secrets")
    @classmethod
    def _secrets_are_encrypted(cls, secrets: dict[str, str]) -> dict[str, str]:
        """Names the keys left in plain text, never their values.

        The stack-file reader replaces every encrypted value by the placeholder; anything else
        sits in git.
        """
        plain = sorted(key for key, value in secrets.items() if value != SECRET_PLACEHOLDER)
        if plain:
            raise ValueError(
                f"{', '.join(plain)} in plain text, not encrypted. Fix: pulumi config set "
                f"--secret --path 'secrets.{plain[0]}' <value> (and rotate the value: it has "
                "been in the file)"
            )
        return secrets

    @property
    def history_server_image(self) -> str:
        """The History Server's own image, or the streams' (then it must be Spark 4.2+)."""
        return self.monitoring.history_server_image or self.spark.image

    @property
    def history_server_hadoop(self) -> Literal["3.3", "3.4"]:
        """Hadoop in :attr:`history_server_image`: as set, else what that image ships."""
        monitoring = self.monitoring
        if monitoring.history_server_hadoop_version:
            return monitoring.history_server_hadoop_version
        return "3.4" if monitoring.history_server_image else self.spark.hadoop_version


def parse_stack_config(values: dict[str, Any], *, file: str) -> StackConfig:
    """Validated stack config, or :class:`InvalidInputError` naming every bad key."""
    try:
        config = StackConfig.model_validate(values)
    except ValidationError as error:
        raise InvalidInputError(
            list(from_validation_error(error, file=file, stream=None, model=StackConfig))
        ) from None
    if _history_server_reads_one_directory(config):
        raise InvalidInputError(
            [
                Problem(
                    file,
                    None,
                    "monitoring.historyServerImage",
                    f"the streams' image runs Spark {config.spark.spark_version}, whose History "
                    "Server reads one directory and will not start with one per stream. Fix: "
                    "set historyServerImage to an image with Spark 4.2 or newer (and "
                    "hadoop-aws), or historyServer: false",
                )
            ]
        )
    return config


# Several `spark.history.fs.logDirectory` entries: SPARK-55793, in Spark 4.2.
_MULTI_DIRECTORY_HISTORY = (4, 2)


def _history_server_reads_one_directory(config: StackConfig) -> bool:
    monitoring = config.monitoring
    if not monitoring.history_server or monitoring.history_server_image:
        return False
    version = re.match(r"^(\d+)\.(\d+)", config.spark.spark_version)
    return version is None or tuple(map(int, version.groups())) < _MULTI_DIRECTORY_HISTORY
