"""Capacity and cost: Spark's container sizing rules per version, placement, prices."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from spark_streams.capacity import (
    Cost,
    RoleCapacity,
    StreamCapacity,
    capacity,
    group_costs,
    monthly_cost,
    node_selectors,
    stream_cost,
    stream_costs,
    total_cost,
)
from spark_streams.discovery import StreamFile
from spark_streams.inputs import resolve_checked
from spark_streams.model import Driver, Executor, Stream
from spark_streams.pricing import (
    HOURS_PER_MONTH,
    ON_DEMAND_DEFAULT,
    SPOT_DEFAULT,
    MonthlyAmount,
    Percent,
    PricingConfig,
    Rate,
    capacity_type,
)
from spark_streams.problems import InvalidInputError
from spark_streams.resolve import EffectiveStream, resolve
from tests.conftest import stack_config

STACKS = ("dev", "prod")

CONFIGS = {stack: stack_config(stack) for stack in ("dev", "prod")}
VERSIONS = ("3.5.5", "4.0.0")
SPOT = {"karpenter.sh/capacity-type": "spot"}


def effective(stack: str = "prod", **fields: Any) -> EffectiveStream:
    """One stream resolved over the stack's defaults, as the program resolves it."""
    model = Stream(name="x", sink="s3://{lake}/x/", **fields)
    return resolve(StreamFile(Path("streams/x.py"), model), CONFIGS[stack], stack)


def sized(memory: str, **more: Any) -> dict[str, Any]:
    """Driver and executors of ``memory`` with no overhead set, so Spark's rules size it."""
    return {
        "driver": Driver(memory=memory, memory_overhead=None),
        "executor": Executor(memory=memory, memory_overhead=None),
        **more,
    }


def stream_monthly_cost(stream: EffectiveStream, pricing: PricingConfig) -> float:
    return stream_cost(stream, pricing).monthly_cost


def memory(stream: EffectiveStream) -> tuple[int, int]:
    """MiB of one driver container and of one executor container."""
    found = capacity(stream)
    return found.driver.memory_mib_per_pod, found.executor.memory_mib_per_pod


# --- Spark's memory rules ----------------------------------------------------------------------


def test_the_prod_defaults_request_memory_plus_the_explicit_overhead() -> None:
    # prod: driver 1 core, 2g + 512m; 4 executors of 2 cores, 4g + 1g
    assert capacity(effective()) == StreamCapacity(
        driver=RoleCapacity(pods=1, cpu_per_pod=1.0, memory_mib_per_pod=2048 + 512),
        executor=RoleCapacity(pods=4, cpu_per_pod=2.0, memory_mib_per_pod=4096 + 1024),
    )
    assert (capacity(effective()).cpu, capacity(effective()).memory_mib) == (9.0, 2560 + 4 * 5120)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("type_", "size", "expected"),
    [
        # JVM: 10%, truncated to whole MiB (409.6 -> 409), never below 384 MiB
        ("Scala", "4g", 4096 + 409),
        ("Java", "8g", 8192 + 819),
        ("Scala", "1g", 1024 + 384),
        # Python and R: 40% (819.2 -> 819; 409.6 -> 409 is above the floor)
        ("Python", "2g", 2048 + 819),
        ("R", "1g", 1024 + 409),
        ("Python", "512m", 512 + 384),
    ],
)
def test_without_an_overhead_spark_derives_it_from_the_apps_language(
    version: str, type_: str, size: str, expected: int
) -> None:
    stream = effective(**sized(size, type=type_, spark_version=version))
    assert memory(stream) == (expected, expected)


def test_the_kubernetes_factor_replaces_the_default_for_both_roles_and_any_language() -> None:
    conf = {"spark.kubernetes.memoryOverheadFactor": "0.2"}
    for type_ in ("Scala", "Python"):
        stream = effective(**sized("8g", type=type_, spark_conf=conf))
        assert memory(stream) == (8192 + 1638, 8192 + 1638)


def test_a_roles_own_factor_wins_over_the_kubernetes_factor() -> None:
    conf = {
        "spark.kubernetes.memoryOverheadFactor": "0.2",
        "spark.driver.memoryOverheadFactor": "0.3",
    }
    assert memory(effective(**sized("8g", spark_conf=conf))) == (8192 + 2457, 8192 + 1638)
    conf["spark.executor.memoryOverheadFactor"] = "0.05"
    assert memory(effective(**sized("8g", spark_conf=conf))) == (8192 + 2457, 8192 + 409)


def test_a_python_drivers_factor_leaves_its_executors_at_the_non_jvm_default() -> None:
    # The driver passes on the default factor (0.4), not its own.
    conf = {"spark.driver.memoryOverheadFactor": "0.1"}
    stream = effective(**sized("8g", type="Python", spark_conf=conf))
    assert memory(stream) == (8192 + 819, 8192 + 3276)


def test_an_explicit_overhead_beats_every_factor() -> None:
    conf = {
        "spark.kubernetes.memoryOverheadFactor": "0.5",
        "spark.driver.memoryOverheadFactor": "2",
    }
    stream = effective(
        type="Python",
        spark_conf=conf,
        driver=Driver(memory="4g", memory_overhead="300m"),
        executor=Executor(memory="4g", memory_overhead="1g"),
    )
    assert memory(stream) == (4096 + 300, 4096 + 1024)


def test_an_overhead_in_spark_conf_counts_unless_the_field_sets_one() -> None:
    conf = {"spark.driver.memoryOverhead": "700m", "spark.executor.memoryOverhead": "2048"}
    stream = effective(
        spark_conf=conf,
        driver=Driver(memory="2g", memory_overhead=None),
        executor=Executor(memory="2g", memory_overhead="1g"),
    )
    # the operator passes the SparkApplication's fields after sparkConf: the field wins
    assert memory(stream) == (2048 + 700, 2048 + 1024)


def test_spark_4_takes_the_floor_from_the_min_overhead_confs_and_3_5_ignores_them() -> None:
    conf = {"spark.driver.minMemoryOverhead": "100m", "spark.executor.minMemoryOverhead": "1g"}
    # driver 1g: 10% is 102, above a 100m floor; executor 2g: 10% is 204, below a 1g floor
    spark4 = effective(
        spark_version="4.0.0",
        spark_conf=conf,
        driver=Driver(memory="1g", memory_overhead=None),
        executor=Executor(memory="2g", memory_overhead=None),
    )
    assert memory(spark4) == (1024 + 102, 2048 + 1024)
    spark35 = effective(
        spark_version="3.5.5",
        spark_conf=conf,
        driver=Driver(memory="1g", memory_overhead=None),
        executor=Executor(memory="2g", memory_overhead=None),
    )
    assert memory(spark35) == (1024 + 384, 2048 + 384)


def test_the_min_overhead_conf_is_ignored_when_the_overhead_is_explicit() -> None:
    conf = {"spark.executor.minMemoryOverhead": "2g"}
    stream = effective(spark_version="4.1.0", spark_conf=conf)
    assert memory(stream)[1] == 4096 + 1024


def test_pyspark_memory_is_added_to_python_executors_only() -> None:
    conf = {"spark.executor.pyspark.memory": "512m"}
    python = effective(type="Python", spark_conf=conf)
    assert memory(python) == (2048 + 512, 4096 + 1024 + 512)
    for type_ in ("Scala", "R"):
        assert memory(effective(type=type_, spark_conf=conf)) == (2048 + 512, 4096 + 1024)


def test_off_heap_memory_is_added_to_executors_when_enabled() -> None:
    size = {"spark.memory.offHeap.size": "1073741824"}  # bytes when no unit is given
    enabled = effective(spark_conf={**size, "spark.memory.offHeap.enabled": "true"})
    assert memory(enabled) == (2048 + 512, 4096 + 1024 + 1024)
    disabled = effective(spark_conf={**size, "spark.memory.offHeap.enabled": "false"})
    assert memory(disabled) == (2048 + 512, 4096 + 1024)


@pytest.mark.parametrize(
    ("value", "mib"), [("1536", 1536), ("2gb", 2048), ("1536k", 1), ("3G", 3072), ("0t", 0)]
)
def test_spark_sizes_in_spark_conf_are_read_as_spark_reads_them(value: str, mib: int) -> None:
    stream = effective(spark_conf={"spark.executor.memoryOverhead": value}, **sized("1g"))
    assert memory(stream)[1] == 1024 + mib


# --- CPU ---------------------------------------------------------------------------------------


def test_a_core_request_replaces_the_whole_cores() -> None:
    stream = effective(
        driver=Driver(core_request="500m"), executor=Executor(cores=2, core_request="1.5")
    )
    found = capacity(stream)
    assert (found.driver.cpu, found.executor.cpu_per_pod, found.executor.cpu) == (0.5, 1.5, 6.0)


def test_a_core_request_in_spark_conf_counts_unless_the_field_sets_one() -> None:
    conf = {
        "spark.kubernetes.driver.request.cores": "250m",
        "spark.kubernetes.executor.request.cores": "250m",
    }
    found = capacity(effective(spark_conf=conf, executor=Executor(core_request="3")))
    assert (found.driver.cpu_per_pod, found.executor.cpu_per_pod) == (0.25, 3.0)


def test_a_suspended_stream_requests_nothing() -> None:
    found = capacity(effective(suspend=True))
    assert (found.cpu, found.memory_mib, found.executor.pods) == (0.0, 0, 0)


# --- What Spark refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spark.kubernetes.memoryOverheadFactor", "-0.1"),
        ("spark.kubernetes.memoryOverheadFactor", "lots"),
        ("spark.executor.memoryOverheadFactor", "0"),
        ("spark.driver.memoryOverheadFactor", "nan"),
        ("spark.memory.offHeap.size", "1.5g"),
        ("spark.executor.pyspark.memory", "2GiB"),
        ("spark.memory.offHeap.enabled", "yes"),
        ("spark.memory.offHeap.enabled", "true"),  # without a size
    ],
)
def test_conf_that_spark_refuses_when_sizing_pods_is_refused_by_the_verdict(
    key: str, value: str
) -> None:
    stream = Stream(name="x", sink="s3://{lake}/x/", spark_conf={key: value}, owner="t")
    with pytest.raises(InvalidInputError) as error:
        resolve_checked([StreamFile(Path("streams/x.py"), stream)], CONFIGS["prod"], "prod", STACKS)
    (problem,) = error.value.problems
    assert problem.stream == "x" and key in f"{problem.field} {problem.message}"


def test_what_the_verdict_accepts_is_sized_as_spark_reads_it() -> None:
    # Java's doubles and Spark 4.2's binary suffixes: Spark accepts both, so sizing reads them.
    conf = {"spark.executor.memoryOverheadFactor": "0.5d", "spark.executor.pyspark.memory": "1gib"}
    stream = effective(type="Python", spark_version="4.2.0", spark_conf=conf, **sized("2g"))
    assert memory(stream) == (2048 + int(0.4 * 2048), 2048 + 1024 + 1024)


# --- Placement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "default", "expected"),
    [
        ({"karpenter.sh/capacity-type": "spot"}, "on-demand", "spot"),
        ({"karpenter.sh/capacity-type": "on-demand"}, "spot", "on-demand"),
        ({"eks.amazonaws.com/capacityType": "SPOT"}, "on-demand", "spot"),
        ({"eks.amazonaws.com/capacityType": "ON_DEMAND"}, "spot", "on-demand"),
        ({"workload": "spark"}, "spot", "spot"),
        ({}, "on-demand", "on-demand"),
        # values it cannot price, and the other label's spelling, are left to the default
        ({"karpenter.sh/capacity-type": "reserved"}, "spot", "spot"),
        ({"eks.amazonaws.com/capacityType": "spot"}, "on-demand", "on-demand"),
    ],
)
def test_the_capacity_type_follows_the_node_selector_or_the_default(
    selector: dict[str, str], default: Any, expected: str
) -> None:
    assert capacity_type(selector, default) == expected


def test_each_role_is_priced_on_its_own_node_selector_over_the_shared_one() -> None:
    driver, executor = node_selectors(effective(node_selector={"workload": "spark", "zone": "a"}))
    # prod places drivers on on-demand and executors on spot through each role's nodeSelector
    assert driver == {"workload": "spark", "zone": "a", "karpenter.sh/capacity-type": "on-demand"}
    assert executor == {"workload": "spark", "zone": "a", "karpenter.sh/capacity-type": "spot"}


# --- Prices ------------------------------------------------------------------------------------


def test_the_default_on_demand_rates_split_the_node_price_in_kubecosts_ratio() -> None:
    rate = ON_DEMAND_DEFAULT
    assert 2 * rate.vcpu_hour + 8 * rate.gib_hour == pytest.approx(0.107)  # m6i.large
    assert rate.vcpu_hour / rate.gib_hour == pytest.approx(0.031611 / 0.004237)


def test_the_default_spot_rates_are_sixty_percent_off() -> None:
    assert SPOT_DEFAULT.vcpu_hour == pytest.approx(0.4 * ON_DEMAND_DEFAULT.vcpu_hour)
    assert SPOT_DEFAULT.gib_hour == pytest.approx(0.4 * ON_DEMAND_DEFAULT.gib_hour)


PRICES = PricingConfig(
    on_demand=Rate(vcpu_hour=0.04, gib_hour=0.005), spot=Rate(vcpu_hour=0.01, gib_hour=0.001)
)


def test_each_role_is_priced_on_the_capacity_it_lands_on() -> None:
    found = capacity(effective())  # driver 1 core, 2.5 GiB; executors 8 cores, 20 GiB
    on_demand = {"karpenter.sh/capacity-type": "on-demand"}
    spot = {"eks.amazonaws.com/capacityType": "SPOT"}
    assert monthly_cost(found, PRICES, on_demand, on_demand) == pytest.approx(
        (9 * 0.04 + 22.5 * 0.005) * 730
    )
    assert monthly_cost(found, PRICES, on_demand, spot) == pytest.approx(
        ((0.04 + 2.5 * 0.005) + (8 * 0.01 + 20 * 0.001)) * HOURS_PER_MONTH
    )
    spot_by_default = PRICES.model_copy(update={"default_capacity_type": "spot"})
    assert monthly_cost(found, spot_by_default, {}, {}) == pytest.approx(
        (9 * 0.01 + 22.5 * 0.001) * 730
    )


def test_pricing_reads_the_stack_files_camel_case() -> None:
    pricing = PricingConfig.model_validate(
        {
            "currency": "EUR",
            "onDemand": {"vcpuHour": 0.05, "gibHour": 0.006},
            "spot": {"vcpuHour": 0.02, "gibHour": 0.002},
            "defaultCapacityType": "spot",
            "warnAbove": "20%",
        }
    )
    assert pricing.rate("on-demand") == Rate(vcpu_hour=0.05, gib_hour=0.006)
    assert pricing.rate("spot") == Rate(vcpu_hour=0.02, gib_hour=0.002)
    assert (pricing.default_capacity_type, pricing.warn_above) == ("spot", Percent(20.0))
    assert PricingConfig() == PricingConfig(on_demand=ON_DEMAND_DEFAULT, spot=SPOT_DEFAULT)


@pytest.mark.parametrize(
    "values",
    [
        {"currency": "EUR"},  # the default prices are in USD
        {"currency": "EUR", "onDemand": {"vcpuHour": 0.05, "gibHour": 0.006}},
        {"currency": "usd"},
        {"onDemand": {"vcpuHour": -0.01, "gibHour": 0.006}},
        {"spot": {"vcpuHour": 0.01}},
        {"defaultCapacityType": "reserved"},
        {"warnabove": 500},
    ],
)
def test_bad_pricing_is_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PricingConfig.model_validate(values)


@pytest.mark.parametrize(
    ("written", "parsed"),
    [
        ("20%", Percent(20.0)),
        ("12.5%", Percent(12.5)),
        (500, MonthlyAmount(500.0)),
        (99.5, MonthlyAmount(99.5)),
        ("500", MonthlyAmount(500.0)),
        (0, MonthlyAmount(0.0)),
    ],
)
def test_warn_above_is_a_percentage_or_an_amount(written: object, parsed: object) -> None:
    assert PricingConfig.model_validate({"warnAbove": written}).warn_above == parsed


@pytest.mark.parametrize("written", ["20 %", "-5%", "%", "twenty", "1e3", -1, True, float("inf")])
def test_warn_above_refuses_anything_else(written: object) -> None:
    with pytest.raises(ValidationError, match="neither a percentage nor an amount"):
        PricingConfig.model_validate({"warnAbove": written})


def test_warn_above_is_exceeded_by_a_rise_beyond_it() -> None:
    assert Percent(20).exceeded(100, 121) and not Percent(20).exceeded(100, 120)
    assert Percent(20).exceeded(0, 1)  # anything is a rise beyond 20% of nothing
    assert not Percent(20).exceeded(100, 10)
    assert MonthlyAmount(500).exceeded(1000, 1501) and not MonthlyAmount(500).exceeded(1000, 1500)


# --- Properties --------------------------------------------------------------------------------

prices = st.floats(min_value=1e-5, max_value=1.0)
rates = st.builds(lambda cpu, gib: Rate(vcpu_hour=cpu, gib_hour=gib), prices, prices)
pricings = st.builds(
    lambda on_demand, spot, default: PricingConfig(
        on_demand=on_demand, spot=spot, default_capacity_type=default
    ),
    rates,
    rates,
    st.sampled_from(["on-demand", "spot"]),
)


@st.composite
def settings(draw: st.DrawFn) -> dict[str, Any]:
    """A stream's fields: language, version, executors and placement of every kind."""
    overhead = st.none() | st.sampled_from(["384m", "1g"])
    return {
        "type": draw(st.sampled_from(["Scala", "Java", "Python", "R"])),
        "spark_version": draw(st.sampled_from(VERSIONS)),
        "driver": Driver(memory=f"{draw(st.integers(512, 16384))}m", memory_overhead=None),
        "executor": Executor(
            instances=draw(st.integers(1, 40)),
            cores=draw(st.integers(1, 16)),
            memory=f"{draw(st.integers(512, 65536))}m",
            memory_overhead=draw(overhead),
        ),
        "node_selector": draw(st.sampled_from([{}, SPOT])),
    }


def with_executor(fields: dict[str, Any], **change: Any) -> EffectiveStream:
    return effective(**{**fields, "executor": fields["executor"].model_copy(update=change)})


@given(settings(), pricings)
def test_cost_grows_with_executor_instances(fields: dict[str, Any], pricing: PricingConfig) -> None:
    instances = fields["executor"].instances
    before = stream_monthly_cost(with_executor(fields), pricing)
    after = stream_monthly_cost(with_executor(fields, instances=instances + 1), pricing)
    assert after > before


@given(settings(), pricings, st.integers(1, 4096))
def test_cost_grows_with_executor_memory(
    fields: dict[str, Any], pricing: PricingConfig, more: int
) -> None:
    mib = int(fields["executor"].memory[:-1])
    before = stream_monthly_cost(with_executor(fields), pricing)
    after = stream_monthly_cost(with_executor(fields, memory=f"{mib + more}m"), pricing)
    assert after > before


@given(settings(), pricings)
def test_cost_grows_with_executor_cores(fields: dict[str, Any], pricing: PricingConfig) -> None:
    cores = fields["executor"].cores
    before = stream_monthly_cost(with_executor(fields), pricing)
    after = stream_monthly_cost(with_executor(fields, cores=cores + 1), pricing)
    assert after > before


@given(settings(), pricings)
def test_a_suspended_stream_costs_nothing(fields: dict[str, Any], pricing: PricingConfig) -> None:
    assert stream_monthly_cost(effective(**fields, suspend=True), pricing) == 0.0
    assert stream_monthly_cost(effective(**fields), pricing) > 0.0


@given(st.lists(settings(), max_size=6), pricings)
def test_the_stack_total_is_the_sum_of_its_streams(
    many: list[dict[str, Any]], pricing: PricingConfig
) -> None:
    streams = [effective(**fields) for fields in many]
    each = [stream_cost(stream, pricing) for stream in streams]
    total = total_cost(each, pricing.currency)
    assert total.monthly_cost == pytest.approx(sum(c.monthly_cost for c in each))
    assert total.cpu == pytest.approx(sum(c.cpu for c in each))
    assert total.memory_gib == pytest.approx(sum(c.memory_gib for c in each))
    half = len(each) // 2
    parts = total_cost(each[:half], pricing.currency) + total_cost(each[half:], pricing.currency)
    assert parts.monthly_cost == pytest.approx(total.monthly_cost)


# --- What list and diff show -------------------------------------------------------------------


def test_a_streams_cost_holds_its_requests_and_their_price() -> None:
    found = stream_cost(effective(node_selector=SPOT), PRICES)
    assert (found.cpu, found.memory_gib, found.currency) == (9.0, 22.5, "USD")
    # the driver on demand, the executors on spot
    assert found.monthly_cost == pytest.approx(
        ((0.04 + 2.5 * 0.005) + (8 * 0.01 + 20 * 0.001)) * 730
    )


def test_costs_add_up_and_read_back_from_json() -> None:
    a, b = Cost(1.5, 2.25, 10.004, "EUR"), Cost(2.0, 0.5, 5.0, "EUR")
    assert total_cost([a, b], "EUR") == Cost(3.5, 2.75, 15.004, "EUR")
    assert total_cost([], "EUR") == Cost(0.0, 0.0, 0.0, "EUR")
    assert a.to_json() == {
        "cpu": 1.5,
        "memory_gib": 2.25,
        "monthly_cost": 10.004,
        "currency": "EUR",
    }
    assert Cost.from_json(b.to_json()) == b
    with pytest.raises(ValueError, match="cannot add USD to EUR"):
        total_cost([a, Cost(1, 1, 1, "USD")], "EUR")


def test_warn_above_is_written_back_as_the_stack_file_has_it() -> None:
    for written in ("20%", "12.5%", "500", "99.5"):
        parsed = PricingConfig.model_validate({"warnAbove": written}).warn_above
        assert str(parsed) == written
        assert PricingConfig.model_validate({"warnAbove": str(parsed)}).warn_above == parsed


def test_costs_group_by_owner_largest_first_and_ownerless_streams_together() -> None:
    def stream(name: str, owner: str | None, instances: int) -> EffectiveStream:
        found = effective(executor=Executor(instances=instances))
        return dataclasses.replace(found, name=name, identity=name, owner=owner)

    streams = [
        stream("a", "payments", 2),
        stream("b", "growth", 1),
        stream("c", "payments", 1),
        stream("d", None, 1),
    ]
    costs = stream_costs(streams, PRICES)
    groups = group_costs(streams, costs, "owner", "USD")
    assert [(g.key, g.streams) for g in groups] == [
        ("payments", ("a", "c")),
        ("(none)", ("d",)),
        ("growth", ("b",)),
    ]
    assert groups[0].cost == costs["a"] + costs["c"]
    assert total_cost((g.cost for g in groups), "USD").monthly_cost == pytest.approx(
        total_cost(costs.values(), "USD").monthly_cost
    )
