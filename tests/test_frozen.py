"""Settings a checkpoint keeps: a change to them is announced, and only while the checkpoint stays."""

from __future__ import annotations

from spark_streams.frozen import FrozenChange, frozen_changes, frozen_keys

CHECKPOINT = "s3a://acme-data-dev-checkpoints/orders-ingest/gen-0/"
NEXT = "s3a://acme-data-dev-checkpoints/orders-ingest/gen-1/"
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def changes(
    old: dict[str, str], new: dict[str, str], version: str = "3.5.5", checkpoint: str = CHECKPOINT
) -> list[FrozenChange]:
    return frozen_changes(
        old, new, spark_version=version, old_checkpoint=CHECKPOINT, new_checkpoint=checkpoint
    )


def test_a_new_shuffle_partition_count_waits_for_a_new_generation() -> None:
    (change,) = changes(
        {"spark.sql.shuffle.partitions": "8"}, {"spark.sql.shuffle.partitions": "16"}
    )
    assert change == FrozenChange("spark.sql.shuffle.partitions", "8", "16")
    assert change.describe() == (
        "spark.sql.shuffle.partitions: 8 -> 16 takes effect only with a new checkpoint_generation "
        "(the checkpoint keeps 8)"
    )


def test_a_new_generation_takes_every_new_value() -> None:
    assert (
        changes(
            {"spark.sql.shuffle.partitions": "8"},
            {"spark.sql.shuffle.partitions": "16"},
            checkpoint=NEXT,
        )
        == []
    )


def test_a_state_store_set_for_the_first_time_is_frozen_too() -> None:
    (change,) = changes({}, {"spark.sql.streaming.stateStore.providerClass": ROCKSDB})
    assert change.old is None
    assert "Spark's default" in change.describe()


def test_settings_spark_does_not_keep_are_not_announced() -> None:
    assert (
        changes({"spark.sql.adaptive.enabled": "false"}, {"spark.sql.adaptive.enabled": "true"})
        == []
    )


def test_spark_4_keeps_shuffle_partitions_for_the_state_store_only() -> None:
    (change,) = changes(
        {"spark.sql.shuffle.partitions": "8"}, {"spark.sql.shuffle.partitions": "16"}, "4.2.1"
    )
    assert change.state_only
    assert "for stateful operators only with a new checkpoint_generation" in change.describe()


def test_each_spark_line_has_its_own_list() -> None:
    assert "spark.sql.streaming.stateStore.encodingFormat" in frozen_keys("4.0.1")
    assert "spark.sql.streaming.stateStore.encodingFormat" not in frozen_keys("3.5.5")
    assert frozen_keys("3.5.5") < frozen_keys("4.2.1")
