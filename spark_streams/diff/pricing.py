"""What a change costs: each listed stream's requests and monthly cost before and after, and
the stack's, both sides at the working tree's prices (a change of prices is not a change of
streams)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from spark_streams.capacity import Cost, stream_cost, total_cost
from spark_streams.diff.compare import Side
from spark_streams.diff.result import (
    CapacityChange,
    CostChange,
    DiffResult,
    StreamChange,
    StreamChanges,
    UnchangedCost,
)
from spark_streams.pricing import PricingConfig
from spark_streams.resolve import EffectiveStream
from spark_streams.spark_settings import Tables


def _side_costs(side: Side, pricing: PricingConfig, tables: Tables) -> dict[str, Cost] | str:
    """Each stream's cost by identity, or why the side's streams cannot be priced.

    The streams are JSON from another version of the code: this code reads them back as its
    own effective streams, and a shape it does not know leaves the side's cost unknown.
    """
    costs: dict[str, Cost] = {}
    for identity, record in side.streams.items():
        try:
            stream = EffectiveStream.from_json(record.settings())
        except ValidationError:
            return (
                f"stream '{record.name}' of the base is in a shape this version of "
                "spark-streams does not read"
            )
        try:
            table = tables.for_version(stream.spark_version)
            costs[identity] = stream_cost(stream, pricing, table)
        except ValueError as error:
            return f"stream '{record.name}': {error}"
    return costs


def priced(result: DiffResult, old: Side, new: Side, pricing: PricingConfig) -> DiffResult:
    """``result`` with each listed stream's requests and cost before and after, and the
    stack's, at ``pricing`` (the working tree's, for both sides)."""
    tables = Tables()
    before, after = _side_costs(old, pricing, tables), _side_costs(new, pricing, tables)
    known_before = before if isinstance(before, dict) else {}
    known_after = after if isinstance(after, dict) else {}

    def with_costs(entries: tuple[StreamChange, ...]) -> tuple[StreamChange, ...]:
        return tuple(
            replace(
                e,
                capacity=CapacityChange(known_before.get(e.identity), known_after.get(e.identity)),
            )
            for e in entries
        )

    listed = {e.identity for entries in result.streams_by_kind.values() for e in entries}
    currency = pricing.currency
    cost = CostChange(
        old_monthly=total_cost(before.values(), currency).monthly_cost
        if isinstance(before, dict)
        else None,
        new_monthly=total_cost(after.values(), currency).monthly_cost
        if isinstance(after, dict)
        else None,
        currency=currency,
        warn_above=pricing.warn_above,
        unchanged=tuple(
            UnchangedCost(new.streams[i].name, i, known_after[i])
            for i in sorted(known_after)
            if i not in listed
        ),
        unknown=next((why for why in (before, after) if isinstance(why, str)), None),
    )
    streams = StreamChanges(
        added=with_costs(result.added),
        removed=with_costs(result.removed),
        changed=with_costs(result.changed),
    )
    return result.model_copy(update={"streams": streams, "cost": cost})
