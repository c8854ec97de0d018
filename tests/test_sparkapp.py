"""The SparkApplication spec: disruption, RPC authentication, per-role accounts and env."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_streams import sparkapp
from spark_streams.config import parse_stack_config
from spark_streams.discovery import StreamFile
from spark_streams.inputs import resolve_checked
from spark_streams.model import Stream
from spark_streams.problems import InvalidInputError
from spark_streams.resolve import EffectiveStream, resolve
from tests.conftest import stack_config, stack_values


def effective(stack: str = "prod", **fields: object) -> EffectiveStream:
    model = Stream(name="x", owner="t", sink="s3://{lake}/x/", **fields)  # type: ignore[arg-type]
    return resolve(StreamFile(Path("streams/x.py"), model), stack_config(stack), stack)


def spec(stream: EffectiveStream) -> dict[str, object]:
    return sparkapp.spec(stream, stack_config(stream.stack).monitoring, "arn:role")


def test_drivers_are_not_disrupted_and_executors_are_decommissioned() -> None:
    rendered = spec(effective())
    driver, executor = rendered["driver"], rendered["executor"]
    assert isinstance(driver, dict) and isinstance(executor, dict)
    assert driver["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}
    assert "annotations" not in executor  # spot may take executors: they hand over and go
    conf = sparkapp.spark_conf(effective())
    assert conf["spark.decommission.enabled"] == "true"
    assert conf["spark.storage.decommission.enabled"] == "true"


def test_a_stack_setting_turns_do_not_disrupt_off() -> None:
    values = stack_values("prod")
    values["spark"] = {
        **values["spark"],
        "driver": {**values["spark"]["driver"], "doNotDisrupt": False},
    }
    config = parse_stack_config(values, file="Pulumi.prod.yaml")
    model = Stream(name="x", owner="t", sink="s3://{lake}/x/")
    stream = resolve(StreamFile(Path("streams/x.py"), model), config, "prod")
    driver = sparkapp.spec(stream, config.monitoring, "arn:role")["driver"]
    assert "annotations" not in driver


def test_rpc_between_driver_and_executors_is_authenticated_and_encrypted() -> None:
    conf = sparkapp.spark_conf(effective(spark_conf={"spark.sql.shuffle.partitions": "4"}))
    assert conf["spark.authenticate"] == "true"
    assert conf["spark.network.crypto.enabled"] == "true"
    # no stream may turn them off: the keys are spark-streams' own
    files = [
        StreamFile(
            Path("streams/x.py"),
            Stream(
                name="x",
                sink="s3://{lake}/x/",
                spark_conf={"spark.authenticate": "false", "spark.network.crypto.enabled": "false"},
            ),
        )
    ]
    with pytest.raises(InvalidInputError) as caught:
        resolve_checked(files, stack_config("dev"), "dev", ["dev", "prod"])
    fields = {p.field for p in caught.value.problems}
    assert fields == {"spark_conf.spark.authenticate", "spark_conf.spark.network.crypto.enabled"}


def test_each_role_runs_under_its_own_account() -> None:
    rendered = spec(effective())
    assert rendered["driver"]["serviceAccount"] == "x"  # type: ignore[index]
    assert rendered["executor"]["serviceAccount"] == "x.executor"  # type: ignore[index]


def test_plain_env_comes_before_secret_env_on_both_roles() -> None:
    stream = effective(
        env={"TOPIC": "t", "MODE": "m"}, secrets={"KAFKA_SASL_PASSWORD": "kafka-sasl-password"}
    )
    rendered = spec(stream)
    for role in ("driver", "executor"):
        env = rendered[role]["env"]  # type: ignore[index]
        assert [e["name"] for e in env] == ["MODE", "TOPIC", "KAFKA_SASL_PASSWORD"]
        assert env[0] == {"name": "MODE", "value": "m"}
