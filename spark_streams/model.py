"""The stream model: what a file in ``streams/`` declares.

A stream file holds one :class:`Stream`. Every Spark setting a stream leaves out comes from the
stack config (``spark:`` in ``Pulumi.<stack>.yaml``); the ones it sets override it, and
``stacks={"dev": StackOverride(...)}`` overrides them again for one stack. For the nested
settings (``driver``, ``executor``, ``restart_policy``) only the fields written are overrides.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from spark_streams.types import Cores, Count, CpuQuantity, S3Uri, Seconds, SparkMemory, StreamName

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


class Driver(Settings):
    """Driver pod resources. ``cores`` is whole cores; fractional CPU goes in ``core_request``."""

    cores: Cores = 1
    core_request: CpuQuantity | None = None
    core_limit: CpuQuantity | None = None
    memory: SparkMemory = "2g"
    memory_overhead: SparkMemory | None = None


class Executor(Driver):
    """Executor pod resources and how many executors run."""

    instances: Count = 2


class RestartPolicy(Settings):
    """The v1beta2 restart policy (an object, not the old string + ``maxSubmissionRetries``)."""

    type: RestartType = "Always"
    on_failure_retries: Count | None = None
    on_failure_retry_interval: Seconds = 10
    on_submission_failure_retries: Count = 5
    on_submission_failure_retry_interval: Seconds = 20


class Toleration(BaseModel):
    model_config = STRICT

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


@dataclass(kw_only=True, frozen=True, config=_STRICT_DATACLASS)
class SparkOverrides:
    """Spark settings a stream may override; ``None`` means "inherit"."""

    type: AppType | None = None
    spark_version: str | None = None
    image: str | None = None
    main_class: str | None = None
    application_file: str | None = Field(
        default=None, description="local:// (inside the image), s3a:// or https://"
    )
    hadoop_version: Literal["3.3", "3.4"] | None = Field(
        default=None, description="Hadoop in the image: picks the S3A credentials provider"
    )
    node_selector: dict[str, str] | None = None
    tolerations: tuple[Toleration, ...] | None = None
    restart_policy: RestartPolicy | None = None
    driver: Driver | None = None
    executor: Executor | None = None
    spark_conf: dict[str, str] | None = Field(
        default=None, description="Extra Spark conf, merged over the stack's"
    )
    suspend: bool | None = Field(
        default=None, description="True stops the stream (spec.suspend) and keeps everything"
    )


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
    stacks: dict[str, StackOverride] = Field(default_factory=dict)
