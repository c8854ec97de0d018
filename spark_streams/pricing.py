"""Prices of cluster capacity, from the stack's ``pricing:`` config (issue #16).

Kept apart from :mod:`spark_streams.capacity`, which sizes streams, so that the stack config
(:mod:`spark_streams.config`) can hold :class:`PricingConfig` without importing the resolver.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, PlainValidator, model_validator

from spark_streams.settings import STRICT

HOURS_PER_MONTH = 730  # AWS's own month in its price pages: 8760 hours / 12

CapacityType = Literal["on-demand", "spot"]

# The node labels a selector pins capacity with: Karpenter's, then EKS managed node groups'.
# Other values (Karpenter's "reserved", EKS's "CAPACITY_BLOCK") are left to the default.
_CAPACITY_LABELS: dict[str, dict[str, CapacityType]] = {
    "karpenter.sh/capacity-type": {"on-demand": "on-demand", "spot": "spot"},
    "eks.amazonaws.com/capacityType": {"ON_DEMAND": "on-demand", "SPOT": "spot"},
}


def capacity_type(selector: Mapping[str, str], default: CapacityType) -> CapacityType:
    """The capacity type a pod with this node selector lands on; ``default`` if it does not say."""
    for label, values in _CAPACITY_LABELS.items():
        found = values.get(selector.get(label, ""))
        if found is not None:
            return found
    return default


Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Rate(BaseModel):
    """The price of one vCPU and of one GiB of memory for an hour."""

    model_config = STRICT

    vcpu_hour: Price = Field(description="One vCPU for an hour")
    gib_hour: Price = Field(description="One GiB of memory for an hour")


# Defaults, USD, eu-west-1 (the stacks' region), as found on 2026-11-26 in stored copies of
# public material (the copies' own dates are unknown).
#
# On-demand: m6i.large (2 vCPU, 8 GiB, Linux) at $0.107 an hour, the same as m5.large. AWS's own
# price page was not in the material available here; the figure comes from third-party price
# tables kept in public repositories. Check it against https://aws.amazon.com/ec2/pricing/
# on-demand/ before relying on it.
#
# The node price is split into CPU and memory the way OpenCost, Kubecost's open-source cost
# model, does when a provider prices only the whole node (pkg/costmodel/costmodel.go, GetNodeCost;
# docs.kubecost.com/architecture/node-pricing): the shares keep the ratio of its default
# per-vCPU-hour and per-GiB-hour prices (configs/default.json and configs/aws.json: CPU 0.031611,
# RAM 0.004237, about 7.46:1) and add up to the node price.
_KUBECOST_CPU_TO_RAM = 0.031611 / 0.004237
_NODE_HOURLY, _NODE_VCPUS, _NODE_GIB = 0.107, 2, 8
_GIB_HOUR = _NODE_HOURLY / (_NODE_VCPUS * _KUBECOST_CPU_TO_RAM + _NODE_GIB)
ON_DEMAND_DEFAULT = Rate(vcpu_hour=_GIB_HOUR * _KUBECOST_CPU_TO_RAM, gib_hour=_GIB_HOUR)
# Spot: no eu-west-1 spot price or Spot Instance Advisor page was available. AWS advertises
# "up to 90%" off; published comparisons put the usual saving at 60-90% (cloud-bench.com) or
# 50-70% (dev.to, "AWS Spot Instances: Maximize Savings"). 60%, the low end, keeps the estimate
# on the high side.
SPOT_DISCOUNT = 0.60
SPOT_DEFAULT = Rate(
    vcpu_hour=ON_DEMAND_DEFAULT.vcpu_hour * (1 - SPOT_DISCOUNT),
    gib_hour=ON_DEMAND_DEFAULT.gib_hour * (1 - SPOT_DISCOUNT),
)


@dataclass(frozen=True)
class Percent:
    """Warn when a change raises the monthly cost by more than this share of what it was."""

    value: float

    def exceeded(self, before: float, after: float) -> bool:
        return after - before > before * self.value / 100

    def __str__(self) -> str:
        return f"{self.value:g}%"


@dataclass(frozen=True)
class MonthlyAmount:
    """Warn when a change raises the monthly cost by more than this amount."""

    value: float

    def exceeded(self, before: float, after: float) -> bool:
        return after - before > self.value

    def __str__(self) -> str:
        return f"{self.value:g}"


_PERCENT = re.compile(r"^([0-9]+(?:\.[0-9]+)?)%$")
_AMOUNT = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")


def parse_warn_above(value: object) -> Percent | MonthlyAmount:
    """``warnAbove`` as the stack file writes it (and as ``str`` writes it back)."""
    if isinstance(value, Percent | MonthlyAmount):
        return value
    # bool is an int to Python, but `warnAbove: true` is a mistake, not an amount of 1.
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return MonthlyAmount(float(value))
    elif isinstance(value, str):
        text = value.strip()
        percent = _PERCENT.match(text)
        if percent:
            return Percent(float(percent.group(1)))
        if _AMOUNT.match(text):
            return MonthlyAmount(float(text))
    raise ValueError(
        f"{value!r} is neither a percentage nor an amount per month; write e.g. '20%' or 500"
    )


WarnAbove = Annotated[
    Percent | MonthlyAmount,
    PlainValidator(parse_warn_above),
    # As the stack file writes it: '20%' or '500'.
    PlainSerializer(str, return_type=str),
]


class PricingConfig(BaseModel):
    """Prices per capacity type, and when a change's cost deserves a warning."""

    model_config = STRICT

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = Field(
        default="USD", description="ISO code of the prices' currency"
    )
    on_demand: Rate = Field(default=ON_DEMAND_DEFAULT, description="On-demand capacity")
    spot: Rate = Field(default=SPOT_DEFAULT, description="Spot capacity")
    default_capacity_type: CapacityType = Field(
        default="on-demand", description="For roles whose node selector does not say"
    )
    warn_above: WarnAbove | None = Field(
        default=None, description="A rise in monthly cost: '20%' of it, or an amount like 500"
    )

    @model_validator(mode="after")
    def _prices_are_in_the_currency(self) -> PricingConfig:
        if self.currency != "USD" and not {"on_demand", "spot"} <= self.model_fields_set:
            raise ValueError(
                f"the default prices are in USD, not {self.currency}. Fix: set onDemand and "
                f"spot in {self.currency}, or leave currency out"
            )
        return self

    def rate(self, capacity_type: CapacityType) -> Rate:
        return self.spot if capacity_type == "spot" else self.on_demand
