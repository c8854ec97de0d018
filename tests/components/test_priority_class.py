"""StreamPriorityClass under mocks, and its place in the stacks: prod's drivers name it, each
SparkApplication waits for it, and by default it evicts nobody."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.priority_class import StreamPriorityClass, StreamPriorityClassArgs
from spark_streams.config import PriorityClassConfig
from tests.components.conftest import register
from tests.conftest import effective_streams, one, stack_config

PRIORITY_CLASS = "kubernetes:scheduling.k8s.io/v1:PriorityClass"


def test_the_default_class_outranks_batch_work_and_evicts_nobody() -> None:
    config = stack_config("prod")
    plan = register(
        lambda: StreamPriorityClass("priority", StreamPriorityClassArgs(config.priority_class)),
        config,
    )
    found = one(plan, PRIORITY_CLASS, "priority").inputs
    assert found["metadata"]["name"] == "spark-streams"
    assert found["value"] > 0 and found["globalDefault"] is False
    assert found["preemptionPolicy"] == "Never"


def test_a_stack_sets_its_name_value_and_policy_within_what_kubernetes_takes() -> None:
    chosen = PriorityClassConfig.model_validate(
        {"name": "streams-high", "value": 5000, "preemptionPolicy": "PreemptLowerPriority"}
    )
    assert (chosen.name, chosen.value, chosen.preemption_policy) == (
        "streams-high",
        5000,
        "PreemptLowerPriority",
    )
    with pytest.raises(ValidationError):  # above 1e9 is for system classes only
        PriorityClassConfig.model_validate({"value": 2_000_000_000})


def test_prods_drivers_use_the_stacks_class_and_executors_do_not() -> None:
    name = stack_config("prod").priority_class.name
    for stream in effective_streams("prod"):
        assert stream.driver.priority_class_name == name
        assert stream.executor.priority_class_name is None
