"""Mistakes a newcomer makes, each answered with the fix that fits it (the closest real name)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from spark_streams import inputs, stackfile
from spark_streams.problems import InvalidInputError
from tests.conftest import PROJECT, StreamWriter

HEAD = "from spark_streams.model import Executor, StackOverride, Stream\n"


def problems(streams_dir: Path, stack: str = "dev") -> list[str]:
    with pytest.raises(InvalidInputError) as error:
        inputs.load(PROJECT, stackfile.read(PROJECT, stack), streams_dir)
    return [str(p) for p in error.value.problems]


def one_problem(streams_dir: Path, write_stream: StreamWriter, body: str) -> str:
    write_stream("x.py", HEAD + body)
    (found,) = problems(streams_dir)
    return found


@pytest.mark.parametrize(
    ("setting", "field", "hint"),
    [
        ("executr=Executor()", "'executr'", "Did you mean 'executor'?"),
        ("executor=Executor(memroy='2g')", "'executor.memroy'", "Did you mean 'memory'?"),
        (
            "stacks={'dev': StackOverride(executer=Executor())}",
            "'stacks.dev.executer'",
            "Did you mean 'executor'?",
        ),
    ],
)
def test_a_misspelt_field_gets_the_closest_one(
    streams_dir: Path, write_stream: StreamWriter, setting: str, field: str, hint: str
) -> None:
    found = one_problem(
        streams_dir, write_stream, f"stream = Stream(name='x', sink='s3://{{lake}}/x/', {setting})"
    )
    assert f"field {field}" in found and hint in found


def test_a_misspelt_stack_key_gets_the_closest_one() -> None:
    values = {**stackfile.read(PROJECT, "dev").values, "bukets": {}}
    from spark_streams.config import parse_stack_config

    with pytest.raises(InvalidInputError) as error:
        parse_stack_config(values, file="Pulumi.dev.yaml")
    assert "Did you mean 'buckets'?" in str(error.value)
    values = stackfile.read(PROJECT, "dev").values
    values["spark"] = {**values["spark"], "executor": {"memroy": "2g"}}
    with pytest.raises(InvalidInputError) as error:
        parse_stack_config(values, file="Pulumi.dev.yaml")
    assert "field 'spark.executor.memroy'" in str(error.value)
    assert "Did you mean 'memory'?" in str(error.value)


def test_a_misspelt_secret_key_is_pointed_at_the_real_one_before_a_new_one(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    found = one_problem(
        streams_dir,
        write_stream,
        "stream = Stream(name='x', sink='s3://{lake}/x/', secrets={'K': 'kafka-sasl-pasword'})",
    )
    assert "(it has: kafka-sasl-password)" in found
    assert found.index("write 'kafka-sasl-password'") < found.index("pulumi config set")


def test_a_misspelt_stack_name_in_a_stream_gets_the_closest_one(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    found = one_problem(
        streams_dir,
        write_stream,
        "stream = Stream(name='x', sink='s3://{lake}/x/', stacks={'prdo': StackOverride()})",
    )
    assert "Did you mean 'prod'?" in found


def test_a_one_element_tuple_without_its_comma_is_named_as_such(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    found = one_problem(
        streams_dir,
        write_stream,
        "stream = Stream(name='x', sink='s3://{lake}/x/', reads=('s3://{lake}/ref/'))",
    )
    assert "trailing comma: ('s3://{lake}/ref/',)" in found


@pytest.mark.parametrize("uri", ["s3://{lakes}/x/", "s3://{lake}/{name}/"])
def test_an_unknown_placeholder_is_reported_as_one_wherever_it_is(
    streams_dir: Path, write_stream: StreamWriter, uri: str
) -> None:
    found = one_problem(streams_dir, write_stream, f"stream = Stream(name='x', sink='{uri}')")
    assert "unknown placeholder" in found and "{lake}" in found


def test_fractional_cores_point_at_core_request(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    found = one_problem(
        streams_dir,
        write_stream,
        "stream = Stream(name='x', sink='s3://{lake}/x/', executor=Executor(cores=1.5))",
    )
    assert "core_request" in found


def test_a_file_of_helpers_is_told_to_start_with_an_underscore(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    found = one_problem(streams_dir, write_stream, "TOPIC = 'orders'\n")
    assert "defines no stream" in found and "_x.py" in found


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_a_duplicate_name_is_blamed_once_on_the_file_that_brought_it(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    git(streams_dir, "init", "-q")
    git(streams_dir, "add", "-A")
    git(streams_dir, "commit", "-qm", "streams")
    # sorts before orders.py, but is the newcomer; a copy, so its sink is the same too
    write_stream(
        "aaa.py", HEAD + "stream = Stream(name='orders-ingest', sink='s3://{lake}/raw/{stream}/')"
    )
    (found,) = problems(streams_dir)  # the clash, and no sink overlap that follows from it
    assert found.split(": ")[0].endswith("/aaa.py")
    assert "already used by stream 'orders-ingest' in" in found and "orders.py" in found
