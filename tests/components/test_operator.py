"""SparkOperator under mocks: the pinned chart, watching our namespace, webhook and CRD hook on."""

from __future__ import annotations

import pytest

from components.operator import SparkOperator, SparkOperatorArgs
from spark_streams.config import CHART_REPOSITORY
from tests.components.conftest import register
from tests.conftest import one, stack_config


def test_release_is_pinned_and_configured_for_our_namespace() -> None:
    config = stack_config("prod")
    plan = register(
        lambda: SparkOperator(
            "spark-operator", SparkOperatorArgs(config.operator, "spark-streams")
        ),
        config,
        "prod",
    )
    release = one(plan, "kubernetes:helm.sh/v3:Release", "spark-operator")
    assert release.inputs["chart"] == "spark-operator"
    assert release.inputs["version"] == config.operator.chart_version
    assert release.inputs["repositoryOpts"]["repo"] == CHART_REPOSITORY
    values = release.inputs["values"]
    assert values["spark"]["jobNamespaces"] == ["spark-streams"]
    assert values["webhook"]["enable"] is True
    assert values["hook"]["upgradeCrd"] is True
    assert values["fullnameOverride"] == "spark-operator"
    # the stack's own values are merged over ours, not instead of them
    assert values["controller"]["replicas"] == 2


def test_prod_keeps_an_admitting_webhook_through_a_node_drain() -> None:
    # Every driver and executor pod goes through the webhook (failurePolicy: Fail): one replica
    # on a drained node and no lost executor is replaced until it is back.
    values = stack_config("prod").operator.values
    for component in ("controller", "webhook"):
        assert values[component]["replicas"] == 2
        assert values[component]["podDisruptionBudget"] == {"enable": True, "minAvailable": 1}


@pytest.mark.parametrize(
    ("source", "chart", "repository"),
    [
        ("https://charts.example.com/spark", "spark-operator", "https://charts.example.com/spark"),
        (
            "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts",
            "oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/charts/spark-operator",
            None,
        ),
        ("vendor/spark-operator-2.5.2.tgz", "vendor/spark-operator-2.5.2.tgz", None),
    ],
)
def test_the_chart_comes_from_the_stacks_source(
    source: str, chart: str, repository: str | None
) -> None:
    config = stack_config("prod")
    operator = config.operator.model_copy(update={"chart_source": source})
    plan = register(
        lambda: SparkOperator("spark-operator", SparkOperatorArgs(operator, "spark-streams")),
        config,
        "prod",
    )
    release = one(plan, "kubernetes:helm.sh/v3:Release", "spark-operator")
    assert release.inputs["chart"] == chart
    assert release.inputs["version"] == "2.5.2"
    assert release.inputs.get("repositoryOpts", {}).get("repo") == repository
