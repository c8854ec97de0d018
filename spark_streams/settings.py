"""Every Spark setting a stream shares with its stack, declared once.

Each field of :class:`SparkSettings` (and of its two extensions below) is one setting: its type
is the annotation, and :func:`setting` gives its description, its default and its merge
:class:`Rule`. Everything else derives from this declaration:

- the stream file's ``Stream`` and ``StackOverride`` (:mod:`spark_streams.model`) inherit the
  fields; a setting a stream leaves out holds :data:`INHERIT`;
- the stack's ``spark:`` section (:mod:`spark_streams.config`) is the same fields in camelCase;
- the effective stream (:mod:`spark_streams.resolve`) inherits them with every value resolved;
- :func:`merge` lays the layers over one another by each field's rule;
- ``Pulumi.yaml``'s descriptions and the tables in docs/streams.md are generated from it
  (:mod:`spark_streams.reference`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

from spark_streams.types import (
    Cores,
    Count,
    CpuQuantity,
    Image,
    LabelKey,
    LabelValue,
    ObjectName,
    Seconds,
    SparkMemory,
    SparkVersion,
)

AppType = Literal["Scala", "Java", "Python", "R"]
RestartType = Literal["Always", "OnFailure", "Never"]
HadoopVersion = Literal["3.3", "3.4"]

# Stack config YAML spells fields in camelCase (memoryOverhead); Python code in snake_case.
STRICT = ConfigDict(
    extra="forbid",
    frozen=True,
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
)
# A stream file writes snake_case only; a stack file's settings are in camelCase.
STREAM_FILE = ConfigDict(extra="forbid")
STACK_FILE = ConfigDict(
    extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
)


class Rule(Enum):
    """How a layer's value of a setting combines with the one it is laid over."""

    REPLACES = "replaces"
    BY_KEY = "merged by key"
    BY_FIELD = "field by field"

    def apply(self, below: Any, above: Any) -> Any:
        if self is Rule.BY_KEY:
            return {**below, **above}
        if self is Rule.BY_FIELD:
            result: Group = above.over(below)
            return result
        return above


class _Inherit:
    """What a stream file leaves out: the value comes from the layer below."""

    def __repr__(self) -> str:
        return "INHERIT"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Inherit:
        return self


INHERIT: Any = _Inherit()
REQUIRED: Any = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class Declared:
    """A setting's declaration, beside its type: how it merges, and its default."""

    rule: Rule
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def default_value(self) -> Any:
        """A fresh copy of the default (it may be a mapping a caller extends)."""
        return copy.deepcopy(self.default)


def setting(
    description: str,
    *,
    rule: Rule = Rule.REPLACES,
    default: Any = REQUIRED,
) -> Any:
    """One setting: what :class:`SparkSettings`' fields are assigned.

    The field's own default is :data:`INHERIT`; ``default`` is the value when no layer sets it
    (:data:`REQUIRED`: the stack must).
    """
    info: FieldInfo = Field(default=INHERIT, description=description)
    info.metadata.append(Declared(rule, default))
    return info


# --- the value types of settings: groups merged field by field -------------------------------

G = TypeVar("G", bound="Group")


class Group(BaseModel):
    """A group of settings where the fields a layer writes override the ones below."""

    model_config = STRICT

    def over(self: G, below: G) -> G:
        """``self`` laid over ``below``: the fields explicitly written here win."""
        return below.model_copy(update={k: getattr(self, k) for k in self.model_fields_set})


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


class PodSettings(Group):
    """Resources and placement of one role: the driver, or each executor.

    ``cores`` is whole cores; fractional CPU goes in ``core_request``. The node selector and
    tolerations here are this role's, added to the spec-level ones both roles share.
    """

    cores: Cores = 1
    core_request: CpuQuantity | None = Field(
        default=None, description="CPU request of the pod, e.g. '500m' (default: cores)"
    )
    core_limit: CpuQuantity | None = Field(default=None, description="CPU limit of the pod")
    memory: SparkMemory = Field(default="2g", description="JVM heap, e.g. '2g'")
    memory_overhead: SparkMemory | None = Field(
        default=None, description="Memory beside the heap (default: Spark's rule)"
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="This role's node labels, over the shared nodeSelector"
    )
    tolerations: tuple[Toleration, ...] = Field(
        default=(), description="This role's tolerations, added to the shared ones"
    )
    affinity: Affinity | None = Field(default=None, description="This role's node affinity")
    priority_class_name: ObjectName | None = Field(
        default=None,
        description="PriorityClass of this role's pods: the stack's priorityClass.name, or one "
        "that exists in the cluster",
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

    instances: Count = Field(default=2, description="How many executors run")


class Deps(Group):
    """The v1beta2 ``deps``: what spark-submit adds to the job's classpath and working dir."""

    jars: tuple[str, ...] = Field(default=(), description="local://, s3a:// or https:// jars")
    files: tuple[str, ...] = Field(default=(), description="Files put in the working directory")
    py_files: tuple[str, ...] = Field(default=(), description="Python files and archives")
    packages: tuple[str, ...] = Field(
        default=(), description="Maven coordinates group:artifact:version"
    )
    repositories: tuple[str, ...] = Field(default=(), description="https:// Maven repositories")
    exclude_packages: tuple[str, ...] = Field(default=(), description="group:artifact")


class RestartPolicy(Group):
    """The v1beta2 restart policy (an object, not the old string + ``maxSubmissionRetries``)."""

    type: RestartType = Field(default="Always", description="Always (a stream), OnFailure or Never")
    on_failure_retries: Count | None = Field(
        default=None, description="OnFailure: how many times a failed run is restarted"
    )
    on_failure_retry_interval: Seconds = Field(
        default=10, description="Seconds between restarts (times the attempts so far)"
    )
    on_submission_failure_retries: Count = Field(
        default=5, description="How many times a failed submission is retried (not for Always)"
    )
    on_submission_failure_retry_interval: Seconds = Field(
        default=20, description="Seconds between submission retries"
    )


# --- the declaration -------------------------------------------------------------------------


@dataclass(kw_only=True, frozen=True, config=STREAM_FILE)
class SparkSettings:
    """The Spark settings a stream shares with its stack: the stack's ``spark:`` sets them for
    every stream, a stream file overrides them, and its ``stacks={...}`` again per stack."""

    type: AppType = setting("The job's language", default="Scala")
    spark_version: SparkVersion = setting(
        "Spark in the image, e.g. '3.5.5': its settings table checks spark_conf"
    )
    image: Image = setting("registry/repository:tag, or @sha256:<digest> to pin it")
    main_class: str | None = setting("Scala/Java: the class the job starts with", default=None)
    application_file: str = setting("The job: local:// (inside the image), s3a:// or https://")
    hadoop_version: HadoopVersion = setting(
        "Hadoop in the image: picks the S3A credentials provider for IRSA", default="3.4"
    )
    node_selector: dict[LabelKey, LabelValue] = setting(
        "Node labels both roles need (each role may add its own)", default={}
    )
    tolerations: tuple[Toleration, ...] = setting("Tolerations both roles carry", default=())
    restart_policy: RestartPolicy = setting(
        "When the operator restarts the job", rule=Rule.BY_FIELD, default=RestartPolicy()
    )
    driver: Driver = setting(
        "The driver's resources and placement", rule=Rule.BY_FIELD, default=Driver()
    )
    executor: Executor = setting(
        "The executors' count, resources and placement", rule=Rule.BY_FIELD, default=Executor()
    )
    spark_conf: dict[str, str] = setting(
        "Spark conf (typed by Spark's own definitions; keys the program sets are refused)",
        rule=Rule.BY_KEY,
        default={},
    )
    env: dict[str, str] = setting(
        "Plain environment variables of both roles (secret values go in `secrets`)",
        rule=Rule.BY_KEY,
        default={},
    )
    deps: Deps = setting(
        "Jars, files and packages spark-submit adds", rule=Rule.BY_FIELD, default=Deps()
    )


@dataclass(kw_only=True, frozen=True, config=STREAM_FILE)
class StreamSettings(SparkSettings):
    """What a stream file and its per-stack overrides may set, beyond the shared settings."""

    suspend: bool = setting(
        "True stops the stream (spec.suspend) and keeps everything", default=False
    )


@dataclass(kw_only=True, frozen=True, config=STREAM_FILE)
class StackSparkSettings(SparkSettings):
    """What only the stack's ``spark:`` section sets: every stream gets it as it is."""

    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = setting(
        "When the kubelet pulls the image", default="IfNotPresent"
    )
    termination_grace_period_seconds: Count = setting(
        "Seconds a stopping pod gets to finish its batch", default=120
    )


# --- reading the declaration -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    """One declared setting, as the merge and the reference docs read it."""

    name: str
    annotation: Any
    description: str
    declared: Declared

    @property
    def camel(self) -> str:
        return to_camel(self.name)


def settings_of(cls: type) -> Iterator[Setting]:
    """The declared settings of ``cls`` (a class deriving from :class:`SparkSettings`), in
    declaration order."""
    fields: Mapping[str, FieldInfo] = getattr(cls, "__pydantic_fields__", {})
    for name, info in fields.items():
        declared = next((m for m in info.metadata if isinstance(m, Declared)), None)
        if declared is not None:
            yield Setting(name, info.annotation, info.description or "", declared)


def is_set(value: Any) -> bool:
    return value is not INHERIT


def merge(cls: type, layers: Sequence[object]) -> dict[str, Any]:
    """Every setting ``cls`` declares, resolved: each declared default, then each layer laid over
    it (lowest first) by the setting's rule. A layer that does not have a setting, or leaves it
    out, changes nothing."""
    values: dict[str, Any] = {}
    for declared in settings_of(cls):
        value = declared.declared.default_value()
        for layer in layers:
            above = getattr(layer, declared.name, INHERIT)
            if is_set(above):
                value = above if value is REQUIRED else declared.declared.rule.apply(value, above)
        values[declared.name] = value
    return values


def missing(layer: object, cls: type) -> list[Setting]:
    """The required settings of ``cls`` that ``layer`` (the lowest one) leaves out."""
    return [
        s for s in settings_of(cls) if s.declared.required and not is_set(getattr(layer, s.name))
    ]


def written(layer: object) -> dict[str, Any]:
    """The settings a layer writes (what a stream file or per-stack override says)."""
    return {s.name: v for s in settings_of(type(layer)) if is_set(v := getattr(layer, s.name))}


def inherit_repr(layer: object) -> str:
    """``Stream(name='x', ...)`` with only what was written: a repr a reviewer can read."""
    fields: Mapping[str, FieldInfo] = getattr(type(layer), "__pydantic_fields__", {})
    shown = ", ".join(
        f"{name}={value!r}"
        for name, info in fields.items()
        if is_set(value := getattr(layer, name))
        and (info.is_required() or value != info.get_default(call_default_factory=True))
    )
    return f"{type(layer).__name__}({shown})"
