"""Stack config: the YAML files are valid, secrets stay unread, mistakes name the key."""

from __future__ import annotations

from pathlib import Path
from typing import get_origin

import pulumi
import pytest
import yaml
from pydantic import BaseModel

from spark_streams.config import (
    SECRET_PLACEHOLDER,
    StackConfig,
    check_secrets_encrypted,
    history_server_hadoop,
    parse_stack_config,
    read_stack_values,
)
from spark_streams.problems import InvalidInputError
from spark_streams.stack import stack_values
from tests.conftest import PROJECT, stack_config


def test_dev_and_prod_differ_where_they_should() -> None:
    dev, prod = stack_config("dev"), stack_config("prod")
    assert prod.spark.executor.instances > dev.spark.executor.instances
    assert prod.buckets.protect and not dev.buckets.protect
    assert prod.buckets.encryption == "sse-kms"
    assert dev.buckets.name("lake") != prod.buckets.name("lake")


def test_secure_values_are_never_decrypted_offline() -> None:
    values, secret = read_stack_values(PROJECT, "prod")
    assert secret == {"secrets"}
    assert values["secrets"] == {"kafka-sasl-password": SECRET_PLACEHOLDER}


def problems(values: dict[str, object]) -> list[str]:
    with pytest.raises(InvalidInputError) as caught:
        parse_stack_config(values, file="Pulumi.x.yaml")
    return [str(p) for p in caught.value.problems]


def valid() -> dict[str, object]:
    values, _ = read_stack_values(PROJECT, "dev")
    return values


def test_missing_keys_are_named() -> None:
    values = valid()
    del values["clusterName"]
    (message,) = problems(values)
    assert message == "Pulumi.x.yaml: field 'clusterName': Field required. Fix: add it"


def test_wrong_types_and_values_are_named_by_their_yaml_path() -> None:
    values = valid()
    values["spark"] = {**values["spark"], "executor": {"cores": "two"}}  # type: ignore[dict-item]
    values["operator"] = {"chartVersion": "1.1.27"}
    found = problems(values)
    assert any("field 'spark.executor.cores'" in m for m in found)
    assert any("field 'operator.chartVersion'" in m and "2.5.x" in m for m in found)


def test_unknown_keys_are_rejected() -> None:
    values = valid()
    values["bukets"] = {}
    assert any("field 'bukets'" in m for m in problems(values))


def test_the_program_reads_objects_as_json_and_strings_as_they_are() -> None:
    pulumi.runtime.set_all_config(
        {
            "spark-streams:clusterName": "1234",
            "spark-streams:awsRegion": "eu-west-1",
            "spark-streams:buckets": '{"prefix": "acme", "protect": true}',
            "spark-streams:secrets": '{"kafka": "hunter2"}',
            "aws:region": "us-east-1",
        },
        secret_keys=["spark-streams:secrets"],
    )
    try:
        values = stack_values()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert values == {
        "awsRegion": "eu-west-1",
        "buckets": {"prefix": "acme", "protect": True},
        "clusterName": "1234",
        "secrets": {"kafka": SECRET_PLACEHOLDER},
    }


def test_pulumi_yaml_declares_every_stack_key_and_requires_only_the_required_ones() -> None:
    declared = yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())["config"]
    fields = {field.alias or name: field for name, field in StackConfig.model_fields.items()}
    assert set(declared) == set(fields)
    for key, declaration in declared.items():
        annotation = fields[key].annotation
        structured = get_origin(annotation) is dict or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        )
        kind = "object" if structured else "string"
        assert declaration["type"] == kind, key
        # `pulumi up` refuses a stack that lacks a declared key with no default
        assert ("default" in declaration) == (not fields[key].is_required()), key
        if "default" in declaration:
            parse_stack_config(
                {**read_stack_values(PROJECT, "dev")[0], key: declaration["default"]},
                file="Pulumi.yaml",
            )


def test_under_pulumi_a_secrets_object_set_without_secret_is_refused() -> None:
    # `pulumi config set --path secrets.kafka hunter2` (no --secret): plain in state and git
    pulumi.runtime.set_all_config({"spark-streams:secrets": '{"kafka": "hunter2"}'}, [])
    try:
        values = stack_values()
    finally:
        pulumi.runtime.set_all_config({}, [])
    with pytest.raises(InvalidInputError) as error:
        parse_stack_config(
            {**read_stack_values(PROJECT, "dev")[0], **values}, file="Pulumi.dev.yaml"
        )
    assert "kafka in plain text" in str(error.value) and "hunter2" not in str(error.value)


def test_under_pulumi_a_plain_secret_beside_encrypted_ones_is_refused(tmp_path: Path) -> None:
    # Pulumi reads the whole `secrets` object as secret once one value is: the file tells.
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  spark-streams:secrets:\n"
        "    encrypted:\n"
        "      secure: v1:cipher\n"
        "    pasted: hunter2\n"
    )
    with pytest.raises(InvalidInputError) as error:
        check_secrets_encrypted(tmp_path, "dev")
    assert "field 'secrets': pasted in plain text" in str(error.value)
    assert "hunter2" not in str(error.value)
    check_secrets_encrypted(PROJECT, "dev")  # ours are all encrypted


def test_a_history_server_on_a_spark_that_reads_one_directory_is_refused() -> None:
    values, _ = read_stack_values(PROJECT, "prod")
    values["monitoring"] = {"historyServer": True}  # and the streams' Spark 3.5.5 image
    with pytest.raises(InvalidInputError) as error:
        parse_stack_config(values, file="Pulumi.prod.yaml")
    assert "field 'monitoring.historyServerImage'" in str(error.value)
    assert "Spark 4.2" in str(error.value)
    values["spark"] = {**values["spark"], "sparkVersion": "4.2.0"}
    assert parse_stack_config(values, file="Pulumi.prod.yaml").monitoring.history_server


def test_the_history_server_reads_s3_as_the_hadoop_of_the_image_it_runs() -> None:
    values, _ = read_stack_values(PROJECT, "prod")
    prod = parse_stack_config(values, file="Pulumi.prod.yaml")
    assert history_server_hadoop(prod) == "3.4"  # its own Spark 4.2 image
    values["spark"] = {**values["spark"], "sparkVersion": "4.2.0", "hadoopVersion": "3.3"}
    values["monitoring"] = {"historyServer": True}  # the streams' image
    assert history_server_hadoop(parse_stack_config(values, file="f")) == "3.3"
    values["monitoring"] = {"historyServer": True, "historyServerHadoopVersion": "3.4"}
    assert history_server_hadoop(parse_stack_config(values, file="f")) == "3.4"
