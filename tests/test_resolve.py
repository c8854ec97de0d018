"""Effective settings: stack defaults, stream overrides and per-stack overrides, checked as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_streams.discovery import StreamFile
from spark_streams.inputs import resolve_checked
from spark_streams.model import Driver, Executor, RestartPolicy, StackOverride, Stream
from spark_streams.problems import InvalidInputError
from spark_streams.resolve import iam_role_name
from tests.conftest import stack_config

STACKS = ("dev", "prod")


def files(*streams: Stream) -> list[StreamFile]:
    return [StreamFile(Path(f"streams/{s.name}.py"), s) for s in streams]


def resolved(*streams: Stream, stack: str = "dev"):  # type: ignore[no-untyped-def]
    return resolve_checked(files(*streams), stack_config(stack), stack, STACKS)


def problems(*streams: Stream, stack: str = "dev") -> list[str]:
    with pytest.raises(InvalidInputError) as caught:
        resolved(*streams, stack=stack)
    return [str(p) for p in caught.value.problems]


def test_unset_fields_come_from_the_stack_and_set_fields_override() -> None:
    config = stack_config("prod")
    (stream,) = resolved(
        Stream(name="a", owner="t", sink="s3://{lake}/a/", executor=Executor(instances=9)),
        stack="prod",
    )
    assert stream.executor.instances == 9
    assert stream.executor.memory == config.spark.executor.memory
    assert stream.executor.cores == config.spark.executor.cores
    assert stream.image == config.spark.image
    assert stream.restart_policy == config.spark.restart_policy


def test_per_stack_overrides_apply_only_to_their_stack() -> None:
    stream = Stream(
        name="a",
        owner="t",
        sink="s3://{lake}/a/",
        executor=Executor(instances=9, memory="8g"),
        stacks={"dev": StackOverride(executor=Executor(instances=1), suspend=True)},
    )
    (dev,) = resolved(stream, stack="dev")
    (prod,) = resolved(stream, stack="prod")
    assert (dev.executor.instances, dev.executor.memory, dev.suspend) == (1, "8g", True)
    assert (prod.executor.instances, prod.suspend) == (9, False)


def test_a_stream_disabled_in_a_stack_is_left_out_of_it() -> None:
    stream = Stream(
        name="a", owner="t", sink="s3://{lake}/a/", stacks={"prod": StackOverride(enabled=False)}
    )
    assert [s.name for s in resolved(stream, stack="dev")] == ["a"]
    assert resolved(stream, stack="prod") == []


def test_spark_conf_merges_stack_then_stream_then_stack_override() -> None:
    stream = Stream(
        name="a",
        sink="s3://{lake}/a/",
        spark_conf={"x": "stream", "y": "stream"},
        stacks={"dev": StackOverride(spark_conf={"y": "dev"})},
    )
    (dev,) = resolved(stream)
    assert dev.spark_conf["spark.sql.shuffle.partitions"] == "8"
    assert (dev.spark_conf["x"], dev.spark_conf["y"]) == ("stream", "dev")


def test_paths_come_from_the_identity_and_generation() -> None:
    (s,) = resolved(
        Stream(
            name="orders-v2",
            renamed_from=("orders",),
            checkpoint_generation=3,
            sink="s3://{lake}/raw/orders/",
        )
    )
    assert s.identity == "orders"
    assert s.checkpoint.uri == "s3a://acme-data-dev-checkpoints/orders/gen-3/"
    assert s.event_log.uri == "s3a://acme-data-dev-event-logs/orders/"
    assert s.sink.uri == "s3a://acme-data-dev-lake/raw/orders/"
    assert s.role_name == "acme-data-dev-orders"


def test_the_stream_placeholder_is_the_identity_so_a_rename_keeps_the_sink() -> None:
    (s,) = resolved(
        Stream(
            name="orders-v2",
            renamed_from=("orders",),
            sink="s3://{lake}/raw/{stream}/",
            reads=("s3://{lake}/reference/{stream}/",),
        )
    )
    assert s.sink.uri == "s3a://acme-data-dev-lake/raw/orders/"
    assert s.reads[0].uri == "s3a://acme-data-dev-lake/reference/orders/"


def test_copies_of_a_stream_file_with_new_names_get_their_own_sinks() -> None:
    streams = [Stream(name=f"copy-{i}", sink="s3://{lake}/raw/{stream}/") for i in range(3)]
    assert len({s.sink.uri for s in resolved(*streams)}) == 3


def test_unknown_placeholders_are_reported() -> None:
    (message,) = problems(Stream(name="a", sink="s3://{lake}/raw/{name}/"))
    assert "field 'sink'" in message and "{name}" in message and "{stream}" in message


def test_long_role_names_are_shortened_stably_within_iam_limits() -> None:
    name = iam_role_name("p" * 42, "s" * 40)
    assert len(name) == 64
    assert name == iam_role_name("p" * 42, "s" * 40)
    assert name != iam_role_name("p" * 42, "s" * 39 + "t")


@pytest.mark.parametrize(
    ("stream", "field", "fix"),
    [
        (Stream(name="a", sink="s3://elsewhere/a/"), "sink", "outside the data lake"),
        (Stream(name="a", sink="s3://{lake}"), "sink", "its own prefix"),
        (
            Stream(name="a", sink="s3://{lake}/a/", type="Java", main_class=""),
            "main_class",
            "main class",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", application_file="s3://b/app.jar"),
            "application_file",
            "s3a://",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", application_file="file:///x.jar"),
            "application_file",
            "local://",
        ),
        (
            Stream(
                name="a", sink="s3://{lake}/a/", driver=Driver(memory="1g", memory_overhead="2g")
            ),
            "driver.memory_overhead",
            "larger than memory",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", stacks={"staging": StackOverride()}),
            "stacks.staging",
            "no stack 'staging'",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", secrets={"PASSWORD": "missing"}),
            "secrets.PASSWORD",
            "pulumi config set --secret",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", secrets={"lower": "kafka-sasl-password"}),
            "secrets.lower",
            "UPPER_SNAKE_CASE",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", spark_conf={"spark.eventLog.dir": "s3a://x/"}),
            "spark_conf.spark.eventLog.dir",
            "remove it",
        ),
        (
            Stream(
                name="a",
                sink="s3://{lake}/a/",
                stacks={"dev": StackOverride(spark_conf={"spark.kafka.sasl.password": "x"})},
            ),
            "stacks.dev.spark_conf.spark.kafka.sasl.password",
            "secrets={'ENV_VAR'",
        ),
        (
            Stream(
                name="a",
                sink="s3://{lake}/a/",
                spark_conf={"spark.kafka.sasl.jaas.config": 'Plain required password="x";'},
            ),
            "spark_conf.spark.kafka.sasl.jaas.config",
            "secrets={'ENV_VAR'",
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", restart_policy=RestartPolicy(type="OnFailure")),
            "restart_policy.on_failure_retries",
            "never restarts",
        ),
        *(
            (
                Stream(name="a", sink="s3://{lake}/a/", spark_conf={"spark.x": value}),
                "spark_conf.spark.x",
                "secrets={'ENV_VAR'",
            )
            for value in (
                '{"password": "x"}',
                "secret_key=abc",
                '{"secretKey": "abc"}',
                "aws_secret_access_key = abc",
                "accessKeyId=AKIA",
                "token_value=abc",
                "access_key: abc",
            )
        ),
        (
            Stream(name="a", sink="s3://{lake}/a/", reads=("s3://other",)),
            "reads[0]",
            "name the prefix",
        ),
    ],
)
def test_each_problem_names_the_file_stream_field_and_fix(
    stream: Stream, field: str, fix: str
) -> None:
    (message,) = problems(stream)
    assert message.startswith("streams/a.py: stream 'a': ")
    assert f"field '{field}'" in message
    assert fix in message


def test_overhead_is_checked_after_merging_with_the_stack() -> None:
    # dev executor memory is 2g: an overhead alone that exceeds it is caught, stack named
    (message,) = problems(
        Stream(name="a", sink="s3://{lake}/a/", executor=Executor(memory_overhead="3g"))
    )
    assert "executor.memory_overhead" in message and "(stack dev)" in message


def test_duplicate_names_and_reused_earlier_names_are_reported() -> None:
    found = problems(
        Stream(name="a", sink="s3://{lake}/a/"),
        Stream(name="a", sink="s3://{lake}/b/"),
        Stream(name="c", sink="s3://{lake}/c/", renamed_from=("a",)),
    )
    assert len(found) == 2
    assert all("already used by stream 'a'" in m for m in found)


def test_reserved_names_are_refused() -> None:
    (message,) = problems(Stream(name="spark-history-server", sink="s3://{lake}/a/"))
    assert "field 'name'" in message and "reserved" in message


def test_overlapping_sinks_are_reported_but_siblings_are_fine() -> None:
    found = problems(
        Stream(name="a", sink="s3://{lake}/raw/"),
        Stream(name="b", sink="s3://{lake}/raw/orders/"),
        Stream(name="c", sink="s3://{lake}/raw-other/"),
        Stream(name="d", sink="s3://{lake}/raw/orders-v2/"),
    )
    assert len(found) == 2
    assert {m.split("'")[1] for m in found} == {"b", "d"}


def test_all_problems_are_reported_together() -> None:
    found = problems(
        Stream(name="a", sink="s3://elsewhere/a/"),
        Stream(name="b", sink="s3://{lake}/b/", stacks={"qa": StackOverride()}),
    )
    assert len(found) == 2


def test_restart_policy_overrides_are_field_by_field() -> None:
    (s,) = resolved(
        Stream(
            name="a",
            sink="s3://{lake}/a/",
            restart_policy=RestartPolicy(on_submission_failure_retries=9),
        )
    )
    assert s.restart_policy.type == "Always"
    assert s.restart_policy.on_submission_failure_retries == 9
    assert s.restart_policy.on_failure_retry_interval == 10


def test_a_conf_value_that_only_names_a_token_class_is_not_a_secret() -> None:
    stream = Stream(
        name="a",
        sink="s3://{lake}/a/",
        spark_conf={
            "spark.x.binding": "org.example.SessionTokenBinding",
            "spark.y": "auth-tokens",
            "spark.z": "tokenizer: whitespace",
        },
    )
    (effective,) = resolved(stream)
    assert effective.spark_conf["spark.y"] == "auth-tokens"


def test_a_stream_on_a_newer_image_picks_its_own_hadoop() -> None:
    (stream,) = resolved(
        Stream(
            name="a",
            sink="s3://{lake}/a/",
            image="spark:4.0",
            stacks={"dev": StackOverride(hadoop_version="3.4")},
        )
    )
    assert stream.hadoop_version == "3.4"  # dev's stack default is 3.3
