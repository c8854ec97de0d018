"""Stack config: the YAML files are valid, secrets stay unread, mistakes name the key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_streams import inputs, reference, stackfile
from spark_streams.config import StackConfig, parse_stack_config
from spark_streams.problems import InvalidInputError
from spark_streams.sparkapp import s3a_credentials_provider
from spark_streams.stackfile import SECRET_PLACEHOLDER
from tests.conftest import PROJECT, NoCloud, stack_config, stack_problems, stack_values


@contextmanager
def pulumi_stack(stack: str) -> Iterator[None]:
    """Inside, ``pulumi.get_stack()`` is ``stack``, as under ``pulumi up --stack``."""
    pulumi.runtime.reset_options(project=stackfile.PROJECT, stack=stack)
    try:
        yield
    finally:
        pulumi.runtime.reset_options()


def test_dev_and_prod_differ_where_they_should() -> None:
    dev, prod = stack_config("dev"), stack_config("prod")
    assert prod.spark.executor.instances > dev.spark.executor.instances
    assert prod.buckets.protect and not dev.buckets.protect
    assert prod.buckets.encryption == "sse-kms"
    assert dev.buckets.name("lake") != prod.buckets.name("lake")


def test_secure_values_are_never_decrypted_offline(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text(
        "config:\n  spark-streams:secrets:\n    kafka-sasl-password:\n      secure: v1:AAAcipher\n"
    )
    source = stackfile.read(tmp_path, "x")
    assert source.secret_keys == {"secrets"}
    assert source.values["secrets"] == {"kafka-sasl-password": SECRET_PLACEHOLDER}
    assert "v1:AAAcipher" in source.sensitive


def test_a_secret_declared_without_a_value_plans_offline_and_stops_a_deploy() -> None:
    # the committed stacks declare theirs so: no ciphertext the CLI could not read
    values = stack_values("dev")
    assert values["secrets"] == {"kafka-sasl-password": None}
    assert stack_config("dev").unset_secrets == ["kafka-sasl-password"]
    pulumi.runtime.set_mocks(NoCloud(), project="spark-streams", stack="dev")
    pulumi.runtime.set_all_config(
        {f"spark-streams:{k}": stackfile.config_string(v) for k, v in values.items()}, []
    )
    try:
        with pytest.raises(pulumi.RunError) as error:
            inputs.for_engine(PROJECT)
    finally:
        pulumi.runtime.set_all_config({}, [])
    report = str(error.value)
    assert "field 'secrets.kafka-sasl-password': has no value in this stack" in report
    assert "pulumi config set --secret --path 'secrets.kafka-sasl-password' <value>" in report


def problems(values: dict[str, object]) -> list[str]:
    with pytest.raises(InvalidInputError) as caught:
        parse_stack_config(values, file="Pulumi.x.yaml")
    return [str(p) for p in caught.value.problems]


def valid() -> dict[str, object]:
    return stack_values("dev")


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


def test_a_chart_source_that_is_no_repository_registry_or_path_is_refused() -> None:
    values = valid()
    values["operator"] = {"chartVersion": "2.5.2", "chartSource": "s3://charts/spark"}
    (message,) = problems(values)
    assert "field 'operator.chartSource'" in message and "oci://" in message


def test_unknown_keys_are_rejected() -> None:
    values = valid()
    values["bukets"] = {}
    assert any("field 'bukets'" in m for m in problems(values))


def test_the_program_reads_objects_as_json_and_strings_as_they_are(tmp_path: Path) -> None:
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
        values = stackfile.from_engine(tmp_path).values  # no stack file there
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
        # `pulumi up` refuses a stack that lacks a declared key with no default
        assert ("default" in declaration) == (not fields[key].is_required()), key
        if "default" in declaration:
            parse_stack_config(
                {**stack_values("dev"), key: declaration["default"]},
                file="Pulumi.yaml",
            )


def test_under_pulumi_a_secrets_object_set_without_secret_is_refused(tmp_path: Path) -> None:
    # `pulumi config set --path secrets.kafka hunter2` (no --secret): plain in state and git
    pulumi.runtime.set_all_config({"spark-streams:secrets": '{"kafka": "hunter2"}'}, [])
    try:
        values = stackfile.from_engine(tmp_path).values
    finally:
        pulumi.runtime.set_all_config({}, [])
    with pytest.raises(InvalidInputError) as error:
        parse_stack_config({**stack_values("dev"), **values}, file="Pulumi.dev.yaml")
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
    pulumi.runtime.set_all_config(
        {"spark-streams:secrets": '{"encrypted": "x", "pasted": "hunter2"}'},
        ["spark-streams:secrets"],
    )
    try:
        with pulumi_stack("dev"):
            values = stackfile.from_engine(tmp_path).values
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert values["secrets"] == {"encrypted": SECRET_PLACEHOLDER, "pasted": "hunter2"}
    with pytest.raises(InvalidInputError) as error:
        parse_stack_config({**stack_values("dev"), **values}, file="Pulumi.dev.yaml")
    assert "field 'secrets': pasted in plain text" in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_history_server_on_a_spark_that_reads_one_directory_is_refused() -> None:
    values = stack_values("prod")
    values["monitoring"] = {"historyServer": True}  # and the streams' Spark 3.5.5 image
    (problem,) = stack_problems(values, "prod")
    assert problem.field == "monitoring.historyServerImage"
    assert "Spark 4.2" in problem.message
    values["spark"] = {**values["spark"], "sparkVersion": "4.2.0"}
    assert stack_problems(values, "prod") == []


def test_the_history_server_reads_s3_as_the_hadoop_of_the_image_it_runs() -> None:
    values = stack_values("prod")
    prod = parse_stack_config(values, file="Pulumi.prod.yaml")
    assert prod.history_server_hadoop == "3.5"  # its own Spark 4.2 image ships Hadoop 3.5.0
    assert prod.history_server_image == prod.monitoring.history_server_image
    values["spark"] = {**values["spark"], "sparkVersion": "4.2.0", "hadoopVersion": "3.3"}
    values["monitoring"] = {"historyServer": True}  # the streams' image
    on_streams_image = parse_stack_config(values, file="f")
    assert on_streams_image.history_server_hadoop == "3.3"
    assert on_streams_image.history_server_image == on_streams_image.spark.image
    values["monitoring"] = {"historyServer": True, "historyServerHadoopVersion": "3.4"}
    assert parse_stack_config(values, file="f").history_server_hadoop == "3.4"


def test_a_spark_4_2_image_is_hadoop_3_5_on_the_sdk_v2() -> None:
    values = stack_values("dev")
    values["spark"] = {**values["spark"], "sparkVersion": "4.2.1", "hadoopVersion": "3.5"}
    config = parse_stack_config(values, file="Pulumi.dev.yaml")
    assert config.spark.hadoop_version == "3.5"
    assert s3a_credentials_provider("3.5") == s3a_credentials_provider("3.4")
    assert s3a_credentials_provider("3.5").startswith("software.amazon.awssdk.")


def test_a_yaml_tag_in_the_stack_file_is_reported_by_key(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  spark-streams:operator: !!binary AAAA\n  spark-streams:when: 2024-01-01\n"
    )
    with pytest.raises(InvalidInputError) as error:
        stackfile.read(tmp_path, "dev")
    found = {p.field: p.message for p in error.value.problems}
    assert set(found) == {"operator", "when"}
    assert "YAML bytes" in found["operator"] and "Fix: remove the YAML tag" in found["operator"]


_ODD_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.binary(max_size=4)
    | st.dates()
    | st.datetimes(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(
        [
            "awsRegion",
            "buckets",
            "operator",
            "spark",
            "monitoring",
            "secrets",
            "namespace",
            "streamsDir",
        ]
    ),
    path=st.lists(
        st.sampled_from(["prefix", "driver", "executor", "memory", "values", "tolerations", "x"]),
        max_size=2,
    ),
    value=_ODD_VALUES,
)
def test_any_value_in_the_stack_file_is_reported_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, path: list[str], value: object
) -> None:
    from spark_streams.cli import main

    document = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())
    target = document["config"]
    name = f"spark-streams:{key}"
    for part in path:
        current = target.get(name)
        if not isinstance(current, dict):
            break
        target, name = current, part
    target[name] = value
    project = tmp_path / "p"
    project.mkdir(exist_ok=True)
    for file in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        (project / file).write_text((PROJECT / file).read_text())
    (project / "Pulumi.dev.yaml").write_text(yaml.dump(document))  # tags for bytes and dates
    streams = PROJECT / "streams"
    previous = Path.cwd()
    os.chdir(project)
    try:
        code = main(["list", "--stack", "dev", "--streams-dir", str(streams)])
    finally:
        os.chdir(previous)
    err = capsys.readouterr().err
    assert code in (0, 1), err


def test_pulumi_yaml_and_the_settings_tables_are_what_the_models_say() -> None:
    assert reference.stale(PROJECT) == [], "run `make reference`"


def test_a_setting_added_to_the_model_makes_the_reference_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the check above can fail: a description that changes leaves both files behind
    for name in reference.TARGETS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((PROJECT / name).read_text())
    field = StackConfig.model_fields["streams_dir"]
    monkeypatch.setattr(field, "description", "Somewhere else")
    assert sorted(reference.stale(tmp_path)) == ["Pulumi.yaml", "docs/streams.md"]


def test_under_pulumi_a_secret_the_engine_has_is_set_whatever_the_projects_file_declares(
    tmp_path: Path,
) -> None:
    # `pulumi up --config-file other.yaml`: the project's file still declares the key null.
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  spark-streams:secrets:\n    kafka: null\n    later: null\n"
    )
    pulumi.runtime.set_all_config(
        {"spark-streams:secrets": '{"kafka": "from-the-other-file", "later": null}'},
        ["spark-streams:secrets"],
    )
    try:
        with pulumi_stack("dev"):
            values = stackfile.from_engine(tmp_path).values
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert values["secrets"] == {"kafka": SECRET_PLACEHOLDER, "later": None}
