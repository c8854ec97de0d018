"""Spark settings a checkpoint freezes, and what a change to them means for a stream.

Structured Streaming writes some SQL settings into every entry of a query's offset log
(``OffsetSeqMetadata``) and, on restart, puts the checkpoint's values back over the session's:
a changed value silently keeps the old one for as long as the stream runs from that checkpoint.
It takes effect only when the stream starts a new checkpoint (``checkpoint_generation``).

The lists are ``OffsetSeqMetadata.relevantSQLConfs`` of Spark 3.5.5 and 4.2.0 (sql/core,
``OffsetSeq.scala``). Spark 4 no longer puts ``spark.sql.shuffle.partitions`` itself back; it keeps
the checkpoint's value for the partitions of the state store only
(``spark.sql.streaming.internal.stateStore.partitions``), so a new value reaches stateless
shuffles but never a stateful operator's state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"

_SPARK_3 = frozenset(
    {
        SHUFFLE_PARTITIONS,
        "spark.sql.streaming.stateStore.providerClass",
        "spark.sql.streaming.multipleWatermarkPolicy",
        "spark.sql.streaming.flatMapGroupsWithState.stateFormatVersion",
        "spark.sql.streaming.aggregation.stateFormatVersion",
        "spark.sql.streaming.join.stateFormatVersion",
        "spark.sql.streaming.stateStore.compression.codec",
        "spark.sql.streaming.stateStore.rocksdb.formatVersion",
        "spark.sql.streaming.statefulOperator.useStrictDistribution",
        "spark.sql.optimizer.pruneFiltersCanPruneStreamingSubplan",
    }
)
# Spark 4 keeps spark.sql.shuffle.partitions for the state store's partitions only.
_SPARK_4 = _SPARK_3 | {
    "spark.sql.streaming.stateStore.rocksdb.mergeOperatorVersion",
    "spark.sql.streaming.stateStore.encodingFormat",
    "spark.sql.streaming.stateStore.rowChecksum.enabled",
    "spark.sql.function.protobufExtensions.enabled",
    "spark.sql.streaming.queryEvolution.enableSourceEvolution",
}


def _spark_3(spark_version: str) -> bool:
    major = re.match(r"^(\d+)\.", spark_version)
    return major is not None and int(major[1]) < 4


def frozen_keys(spark_version: str) -> frozenset[str]:
    """What a checkpoint of this Spark keeps (Spark 4's list for any later version)."""
    return _SPARK_3 if _spark_3(spark_version) else _SPARK_4


@dataclass(frozen=True)
class FrozenChange:
    key: str
    old: str | None  # None: Spark's default
    new: str | None
    state_only: bool = False  # Spark 4's shuffle partitions: kept for the state store only

    def describe(self) -> str:
        def shown(value: str | None) -> str:
            return value if value is not None else "Spark's default"

        where = " for stateful operators" if self.state_only else ""
        return (
            f"{self.key}: {shown(self.old)} -> {shown(self.new)} takes effect{where} only with a "
            f"new checkpoint_generation (the checkpoint keeps {shown(self.old)})"
        )


def frozen_changes(
    old_conf: Mapping[str, str],
    new_conf: Mapping[str, str],
    *,
    spark_version: str,
    old_checkpoint: str,
    new_checkpoint: str,
) -> list[FrozenChange]:
    """Settings a deploy changes that the stream's checkpoint will keep as they were.

    None when the stream moves to a new checkpoint: a new one starts with the new values.
    ``spark_version`` is the one the stream restarts on (it decides what is put back).
    """
    if old_checkpoint != new_checkpoint:
        return []
    state_only = not _spark_3(spark_version)
    return [
        FrozenChange(
            key, old_conf.get(key), new_conf.get(key), state_only and key == SHUFFLE_PARTITIONS
        )
        for key in sorted(frozen_keys(spark_version))
        if old_conf.get(key) != new_conf.get(key)
    ]
