"""What each stream asks of the cluster, and what that costs a month (issue #16).

The figure is *requests*, not usage: the CPU and memory the driver and executor containers
request, which the scheduler sets aside whether or not the job uses them. It leaves out
bin-packing waste (the part of a node no pod requested), DaemonSets, EBS, S3, the EKS control
plane and data transfer, so the bill is higher. Executors are counted at
``spark.executor.instances``: dynamic allocation is not modelled.

Container sizes are Spark's own arithmetic on the conf the spark-operator submits: the stream's
``spark_conf`` with the SparkApplication's driver, executor and node selector fields laid on top
(the operator's spark-submit passes those after ``sparkConf``, and the last ``--conf`` wins).
Pure Python, like :mod:`spark_streams.resolve`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.dataclasses import dataclass as pydantic_dataclass

from spark_streams.pricing import HOURS_PER_MONTH, PricingConfig, capacity_type
from spark_streams.resolve import EffectiveStream
from spark_streams.settings import PodSettings
from spark_streams.spark_settings import SettingsTable, Tables, load_table, no_table_message
from spark_streams.spark_settings.values import (
    BYTE_UNITS,
    byte_string_as,
    parse_boolean,
    parse_double,
)

MIB_PER_GIB = 1024

# --- Spark's memory rules --------------------------------------------------------------------
# Sources, Apache Spark: resource-managers/kubernetes/core/.../deploy/k8s/features/
# BasicDriverFeatureStep.scala and BasicExecutorFeatureStep.scala, deploy/k8s/Config.scala and
# Constants.scala, core/.../internal/config/package.scala, core/.../resource/ResourceProfile.scala
# (read at 3.3-3.5 and 4.x; the rules below changed only where a version is named).
#
# - Container memory = memory + overhead, in integer MiB. Executors add off-heap memory and,
#   for Python apps, spark.executor.pyspark.memory (ResourceProfile.getResourcesForClusterManager);
#   the driver adds neither.
# - Overhead = spark.<role>.memoryOverhead when set; otherwise max(int(factor x memory), floor),
#   the product truncated to whole MiB.
# - Factor = spark.<role>.memoryOverheadFactor when set (3.3+); otherwise the "default factor":
#   spark.kubernetes.memoryOverheadFactor when set, else 0.4 for Python and R apps
#   (NON_JVM_MEMORY_OVERHEAD_FACTOR) and 0.1 for JVM ones. The driver hands its default factor to
#   the executors in spark.kubernetes.memoryOverheadFactor, so a Python app's executors get 0.4
#   even when only spark.driver.memoryOverheadFactor is set.
# - Floor = 384 MiB (ResourceProfile.MEMORY_OVERHEAD_MIN_MIB) up to 3.5; from 4.0
#   spark.<role>.minMemoryOverhead, default 384m, which an explicit memoryOverhead ignores.
_MIN_OVERHEAD_CONF = (4, 0)
_FLOOR_MIB = 384
_JVM_FACTOR = 0.1
_NON_JVM_FACTOR = 0.4
_K8S_FACTOR = "spark.kubernetes.memoryOverheadFactor"

_CPU_QUANTITY = re.compile(r"^(?:([0-9]+)m|([0-9]+(?:\.[0-9]+)?))$")


@dataclass(frozen=True)
class RoleCapacity:
    """What one role requests: ``pods`` containers of one size."""

    pods: int
    cpu_per_pod: float  # cores
    memory_mib_per_pod: int

    @property
    def cpu(self) -> float:
        return self.pods * self.cpu_per_pod

    @property
    def memory_mib(self) -> int:
        return self.pods * self.memory_mib_per_pod


_NOTHING = RoleCapacity(pods=0, cpu_per_pod=0.0, memory_mib_per_pod=0)


@dataclass(frozen=True)
class StreamCapacity:
    """The requests of one stream: its driver and all of its executors."""

    driver: RoleCapacity
    executor: RoleCapacity

    @property
    def cpu(self) -> float:
        return self.driver.cpu + self.executor.cpu

    @property
    def memory_mib(self) -> int:
        return self.driver.memory_mib + self.executor.memory_mib


def capacity(stream: EffectiveStream, table: SettingsTable | None = None) -> StreamCapacity:
    """CPU cores and MiB the stream's pods request; nothing when it is suspended.

    The conf is read as Spark reads it, with the table of the stream's Spark (``table``, else
    loaded); values the table refuses never get here (the verdict checks them first).
    :class:`ValueError` names what Spark refuses beyond a value's type (off-heap memory
    enabled with no size), or a Spark version with no table.
    """
    if stream.suspend:
        return StreamCapacity(driver=_NOTHING, executor=_NOTHING)
    table = table or load_table(stream.spark_version)
    if table is None:
        raise ValueError(no_table_message(stream.spark_version))
    conf = _Conf(_submitted_conf(stream), table)
    version = tuple(int(part) for part in table.minor.split("."))
    default_factor = conf.double(_K8S_FACTOR)
    if default_factor is None:
        default_factor = _NON_JVM_FACTOR if stream.type in ("Python", "R") else _JVM_FACTOR
    driver = _memory_with_overhead(conf, "driver", default_factor, version)
    executor = _memory_with_overhead(conf, "executor", default_factor, version)
    executor += _off_heap_mib(conf)
    if stream.type == "Python":
        executor += conf.mib("spark.executor.pyspark.memory") or 0
    return StreamCapacity(
        driver=RoleCapacity(1, _cores(conf.values, "driver"), driver),
        executor=RoleCapacity(stream.executor.instances, _cores(conf.values, "executor"), executor),
    )


@dataclass(frozen=True)
class _Conf:
    """The submitted conf, its values read with Spark's own converters."""

    values: Mapping[str, str]
    table: SettingsTable

    def mib(self, key: str, *, bare_unit: str = "MiB") -> int | None:
        """A size in whole MiB, rounded down as Spark rounds it; ``None`` when not set."""
        value = self.values.get(key)
        if value is None:
            return None
        return byte_string_as(value, bare_unit, self.table.byte_suffixes) // (
            BYTE_UNITS["MiB"] // BYTE_UNITS[bare_unit]
        )

    def double(self, key: str) -> float | None:
        value = self.values.get(key)
        return None if value is None else parse_double(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.values.get(key)
        return default if value is None else parse_boolean(value, self.table.scala)


def node_selectors(stream: EffectiveStream) -> tuple[dict[str, str], dict[str, str]]:
    """The node selectors of the driver and of the executors: the shared one, each role's own
    laid over it (as the render places them; a stream's spark_conf cannot set them)."""
    return (
        {**stream.node_selector, **stream.driver.node_selector},
        {**stream.node_selector, **stream.executor.node_selector},
    )


def _submitted_conf(stream: EffectiveStream) -> dict[str, str]:
    """The Spark conf the operator submits, as far as pod sizes go: the stream's, then what
    the operator adds from the SparkApplication's driver and executor fields."""
    conf = dict(stream.spark_conf)
    roles: tuple[tuple[str, PodSettings], ...] = (
        ("driver", stream.driver),
        ("executor", stream.executor),
    )
    for role, resources in roles:
        conf[f"spark.{role}.cores"] = str(resources.cores)
        conf[f"spark.{role}.memory"] = resources.memory
        if resources.core_request is not None:
            conf[f"spark.kubernetes.{role}.request.cores"] = resources.core_request
        if resources.memory_overhead is not None:
            conf[f"spark.{role}.memoryOverhead"] = resources.memory_overhead
    return conf


def _memory_with_overhead(
    conf: _Conf, role: str, default_factor: float, version: tuple[int, ...]
) -> int:
    memory = conf.mib(f"spark.{role}.memory") or 0
    overhead = conf.mib(f"spark.{role}.memoryOverhead")
    if overhead is None:
        factor = conf.double(f"spark.{role}.memoryOverheadFactor")
        floor = conf.mib(f"spark.{role}.minMemoryOverhead")
        if floor is None or version < _MIN_OVERHEAD_CONF:
            floor = _FLOOR_MIB
        overhead = max(int((default_factor if factor is None else factor) * memory), floor)
    return memory + overhead


def _off_heap_mib(conf: _Conf) -> int:
    """spark.memory.offHeap.size (bytes unless a unit is given) when off-heap is enabled."""
    key = "spark.memory.offHeap.enabled"
    size = conf.mib("spark.memory.offHeap.size", bare_unit="BYTE")
    if not conf.boolean(key, default=False):
        return 0
    if not size:
        # Utils.checkOffHeapEnabled: Spark will not start with off-heap enabled and no size.
        raise ValueError(
            f"spark_conf {key}=true without spark.memory.offHeap.size: Spark refuses it. "
            "Fix: set spark.memory.offHeap.size, e.g. '1g'"
        )
    return size


def _cores(conf: Mapping[str, str], role: str) -> float:
    """The container's CPU request: the Kubernetes quantity when set, else the whole cores
    (both from the stream's own settings: a stream's spark_conf cannot set them)."""
    quantity = conf.get(f"spark.kubernetes.{role}.request.cores")
    if quantity is None:
        return float(conf[f"spark.{role}.cores"])
    match = _CPU_QUANTITY.fullmatch(quantity)
    if match is None:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    millis, cores = match.groups()
    return int(millis) / 1000 if millis is not None else float(cores)


def monthly_cost(
    capacity: StreamCapacity,
    pricing: PricingConfig,
    driver_selector: Mapping[str, str],
    executor_selector: Mapping[str, str],
) -> float:
    """A month of what the stream requests, each role priced on the capacity it lands on."""
    roles = ((capacity.driver, driver_selector), (capacity.executor, executor_selector))
    total = 0.0
    for role, selector in roles:
        rate = pricing.rate(capacity_type(selector, pricing.default_capacity_type))
        hourly = role.cpu * rate.vcpu_hour + role.memory_mib / MIB_PER_GIB * rate.gib_hour
        total += hourly * HOURS_PER_MONTH
    return total


# --- What list and diff show -------------------------------------------------------------------


@pydantic_dataclass(frozen=True)
class Cost:
    """The requests of a stream, or of a group of streams, and what they cost a month."""

    cpu: float  # cores
    memory_gib: float
    monthly_cost: float
    currency: str

    def __add__(self, other: Cost) -> Cost:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Cost(
            self.cpu + other.cpu,
            self.memory_gib + other.memory_gib,
            self.monthly_cost + other.monthly_cost,
            self.currency,
        )

    def to_json(self) -> dict[str, Any]:
        # Unrounded, so that what reads it back (the merge-request note) sums what was summed.
        dumped: dict[str, Any] = TypeAdapter(Cost).dump_python(self, mode="json")
        return dumped

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Cost:
        return TypeAdapter(cls).validate_python(value)


def stream_cost(
    stream: EffectiveStream, pricing: PricingConfig, table: SettingsTable | None = None
) -> Cost:
    """:class:`ValueError` as :func:`capacity` raises it."""
    found = capacity(stream, table)
    return Cost(
        cpu=found.cpu,
        memory_gib=found.memory_mib / MIB_PER_GIB,
        monthly_cost=monthly_cost(found, pricing, *node_selectors(stream)),
        currency=pricing.currency,
    )


def total_cost(costs: Iterable[Cost], currency: str) -> Cost:
    """The sum of ``costs``; nothing, in ``currency``, when there are none."""
    return sum(costs, Cost(0.0, 0.0, 0.0, currency))


def stream_costs(streams: Iterable[EffectiveStream], pricing: PricingConfig) -> dict[str, Cost]:
    """Each stream's cost by identity. The streams passed the verdict, which sizes every one
    (:mod:`spark_streams.checks`): a conf Spark would refuse never gets here."""
    tables = Tables()
    return {
        stream.identity: stream_cost(stream, pricing, tables.for_version(stream.spark_version))
        for stream in streams
    }


@dataclass(frozen=True)
class CostGroup:
    """The streams that share one value of an attribute, e.g. one owner, and their total."""

    key: str
    streams: tuple[str, ...]
    cost: Cost


NO_VALUE = "(none)"


def group_costs(
    streams: Iterable[EffectiveStream], costs: Mapping[str, Cost], attribute: str, currency: str
) -> list[CostGroup]:
    """Costs summed by a stream attribute, largest first; streams without a value together.

    Read by name, so that ``--by owner`` works as soon as streams carry an ``owner``.
    """
    members: dict[str, list[EffectiveStream]] = {}
    for stream in streams:
        members.setdefault(getattr(stream, attribute, None) or NO_VALUE, []).append(stream)
    groups = [
        CostGroup(
            key,
            tuple(s.name for s in group),
            total_cost((costs[s.identity] for s in group), currency),
        )
        for key, group in members.items()
    ]
    return sorted(groups, key=lambda g: (-g.cost.monthly_cost, g.key))
