"""The stream model: what a file in ``streams/`` declares.

A stream file holds one :class:`Stream`. Every Spark setting a stream leaves out comes from the
stack config (``spark:`` in ``Pulumi.<stack>.yaml``); the ones it sets override it, and
``stacks={"dev": StackOverride(...)}`` overrides them again for one stack. For the nested
settings (``driver``, ``executor``, ``restart_policy``, ``deps``) only the fields written are
overrides; ``spark_conf`` and ``env`` merge by key. See docs/streams.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from spark_streams.types import (
    Cores,
    Count,
    CpuQuantity,
    HadoopVersion,
    Image,
    LabelKey,
    LabelValue,
    ObjectName,
    S3Uri,
    Seconds,
    SparkMemory,
    StreamName,
    TeamName,
)

AppType = Literal["Scala", "Java", "Python", "R"]
RestartType = Literal["Always", "OnFailure", "Never"]

# Stack config YAML spells fields in camelCase (memoryOverhead); Python code in snake_case.
STRICT = ConfigDict(
    extra="forbid",
    frozen=True,
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
)
_STRICT_DATACLASS = ConfigDict(extra="forbid")


class Settings(BaseModel):
    """A group of settings where the fields a user writes override the inherited ones."""

    model_config = STRICT

    def over(self, base: Settings | None) -> Settings:
        """``self`` laid over ``base``: fields explicitly set here win."""
        if base is None:
            return self
        return base.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})


class Toleration(BaseModel):
    model_config = STRICT

    key: LabelKey | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _value_fits_the_operator(self) -> Toleration:
        # The API server refuses both; the webhook would then fail the pod's admission.
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value. Fix: remove value")
        if self.operator == "Equal" and not self.key:
            raise ValueError("operator Equal needs a key. Fix: set key, or operator='Exists'")
        return self


class NodeSelectorRequirement(BaseModel):
    """One condition on a node label, as Kubernetes' ``matchExpressions`` writes it."""

    model_config = STRICT

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[LabelValue, ...] = ()

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> NodeSelectorRequirement:
        # The API server accepts these shapes only; a wrong one makes the pod unschedulable or
        # the submission fail, long after `pulumi up` said it was fine.
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"{self.operator} with no values matches no node. Fix: list values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"{self.operator} takes no values. Fix: remove values")
        if self.operator in ("Gt", "Lt") and (
            len(self.values) != 1 or not self.values[0].lstrip("-").isdigit()
        ):
            raise ValueError(f"{self.operator} takes one whole number. Fix: values=('4',)")
        return self


class NodeSelectorTerm(BaseModel):
    """Conditions that must all hold on one node."""

    model_config = STRICT

    match_expressions: tuple[NodeSelectorRequirement, ...] = Field(min_length=1)


class PreferredTerm(BaseModel):
    model_config = STRICT

    weight: Annotated[StrictInt, Field(ge=1, le=100)]
    preference: NodeSelectorTerm


class Affinity(BaseModel):
    """Node affinity of a pod: ``required`` terms (any one must match), ``preferred`` ones."""

    model_config = STRICT

    required: tuple[NodeSelectorTerm, ...] = ()
    preferred: tuple[PreferredTerm, ...] = ()


class PodSettings(Settings):
    """Resources and placement of a driver or of the executors.

    ``cores`` is whole cores; fractional CPU goes in ``core_request``. The node selector and
    tolerations here are this role's, added to the spec-level ones both roles share.
    """

    cores: Cores = 1
    core_request: CpuQuantity | None = None
    core_limit: CpuQuantity | None = None
    memory: SparkMemory = "2g"
    memory_overhead: SparkMemory | None = None
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="This role's node labels, over the shared nodeSelector"
    )
    tolerations: tuple[Toleration, ...] = Field(
        default=(), description="This role's tolerations, added to the shared ones"
    )
    affinity: Affinity | None = None
    priority_class_name: ObjectName | None = Field(
        default=None, description="PriorityClass of this role's pods (it must exist)"
    )


class Driver(PodSettings):
    """The driver pod."""

    do_not_disrupt: bool = Field(
        default=True,
        description="karpenter.sh/do-not-disrupt on the driver: Karpenter does not consolidate "
        "its node away (a driver restart restarts the whole stream)",
    )


class Executor(PodSettings):
    """Executor pods and how many run."""

    instances: Count = 2


class Deps(Settings):
    """The v1beta2 ``deps``: what spark-submit adds to the job's classpath and working dir."""

    jars: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    py_files: tuple[str, ...] = ()
    packages: tuple[str, ...] = Field(
        default=(), description="Maven coordinates group:artifact:version"
    )
    repositories: tuple[str, ...] = Field(default=(), description="https:// Maven repositories")
    exclude_packages: tuple[str, ...] = Field(default=(), description="group:artifact")


class RestartPolicy(Settings):
    """The v1beta2 restart policy (an object, not the old string + ``maxSubmissionRetries``)."""

    type: RestartType = "Always"
    on_failure_retries: Count | None = None
    on_failure_retry_interval: Seconds = 10
    on_submission_failure_retries: Count = 5
    on_submission_failure_retry_interval: Seconds = 20


@dataclass(kw_only=True, frozen=True, config=_STRICT_DATACLASS)
class SparkOverrides:
    """Spark settings a stream may override; ``None`` means "inherit"."""

    type: AppType | None = None
    spark_version: str | None = None
    image: Image | None = Field(
        default=None, description="registry/repository:tag, or @sha256:<digest> to pin it"
    )
    main_class: str | None = None
    application_file: str | None = Field(
        default=None, description="local:// (inside the image), s3a:// or https://"
    )
    hadoop_version: HadoopVersion | None = Field(
        default=None, description="Hadoop in the image: picks the S3A credentials provider"
    )
    hadoop_cloud: bool | None = Field(
        default=None,
        description="The image has spark-hadoop-cloud: checkpoints are written without a rename",
    )
    node_selector: dict[LabelKey, LabelValue] | None = Field(
        default=None, description="Node labels both roles need (each role may add its own)"
    )
    tolerations: tuple[Toleration, ...] | None = Field(
        default=None, description="Tolerations both roles carry"
    )
    restart_policy: RestartPolicy | None = None
    driver: Driver | None = None
    executor: Executor | None = None
    spark_conf: dict[str, str] | None = Field(
        default=None, description="Extra Spark conf, merged over the stack's"
    )
    suspend: bool | None = Field(
        default=None, description="True stops the stream (spec.suspend) and keeps everything"
    )
    env: dict[str, str] | None = Field(
        default=None,
        description="Plain environment variables of both roles, merged over the stack's "
        "(secret values go in `secrets`)",
    )
    deps: Deps | None = None


@dataclass(kw_only=True, frozen=True, config=_STRICT_DATACLASS)
class StackOverride(SparkOverrides):
    """Overrides for one stack. ``enabled=False`` leaves the stream out of that stack."""

    enabled: bool = True


@dataclass(kw_only=True, frozen=True, config=_STRICT_DATACLASS)
class Stream(SparkOverrides):
    """One Spark Structured Streaming job."""

    name: StreamName
    sink: S3Uri = Field(
        description="Where the stream writes: s3://{lake}/<prefix>/; {stream} is its identity"
    )
    arguments: tuple[str, ...] = ()
    reads: tuple[S3Uri, ...] = Field(
        default=(), description="S3 prefixes the stream reads (Kafka and other sources need none)"
    )
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variable -> key of the stack's `secrets` config",
    )
    checkpoint_generation: Seconds = Field(
        default=0, description="Bump to start again from the source's starting offsets"
    )
    renamed_from: tuple[StreamName, ...] = Field(
        default=(), description="Earlier names, oldest first: keeps resources and checkpoint"
    )
    owner: TeamName | None = Field(
        default=None, description="The team that runs the stream: labels, IAM tags, alert routes"
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Extra labels of its SparkApplication and pods"
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra annotations of its SparkApplication and pods"
    )
    stacks: dict[str, StackOverride] = Field(default_factory=dict)
