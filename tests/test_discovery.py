"""Stream files: found without a registry, and every broken one reported with its place and fix."""

from __future__ import annotations

from pathlib import Path

from spark_streams.discovery import load_streams
from tests.conftest import StreamWriter


def messages(directory: Path) -> list[str]:
    return [str(p) for p in load_streams(directory)[1]]


def test_every_example_stream_loads(streams_dir: Path) -> None:
    loaded, problems = load_streams(streams_dir)
    assert problems == []
    assert {s.stream.name for s in loaded} >= {"orders-ingest", "clickstream-ingest"}


def test_a_new_file_is_a_new_stream(streams_dir: Path, write_stream: StreamWriter) -> None:
    write_stream(
        "inventory.py",
        """
        from spark_streams.model import Stream
        stream = Stream(name="inventory", sink="s3://{lake}/raw/inventory/")
        """,
    )
    assert "inventory" in {s.stream.name for s in load_streams(streams_dir)[0]}


def test_private_helper_modules_are_not_streams(
    streams_dir: Path, write_stream: StreamWriter
) -> None:
    write_stream("_shared.py", "TOPIC_PREFIX = 'acme.'\n")
    assert messages(streams_dir) == []


def test_nested_settings_errors_name_their_field(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from spark_streams.model import Executor, StackOverride, Stream\n"
        "stream = Stream(\n"
        "    name='bad-one',\n"
        "    sink='s3://{lake}/x/',\n"
        "    stacks={'dev': StackOverride(executor=Executor(cores=1.5))},\n"
        ")\n"
    )
    (message,) = messages(tmp_path)
    assert "stream 'bad-one'" in message
    assert "field 'stacks.dev.executor.cores'" in message
    assert "whole number" in message


def test_unknown_fields_are_typos(tmp_path: Path) -> None:
    (tmp_path / "typo.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='typo', sink='s3://{lake}/x/', executors=3)\n"
    )
    (message,) = messages(tmp_path)
    assert "stream 'typo'" in message and "field 'executors'" in message
    assert "fix its spelling" in message


def test_bad_values_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='Bad_Name', sink='raw/orders')\n"
    )
    found = messages(tmp_path)
    assert any("field 'name'" in m and "DNS-1035" in m for m in found)
    assert any("field 'sink'" in m and "not an S3 URI" in m for m in found)


def test_files_that_fail_or_define_no_stream_are_reported(tmp_path: Path) -> None:
    (tmp_path / "a_import.py").write_text("import not_a_module\n")
    (tmp_path / "b_syntax.py").write_text("stream = (\n")
    (tmp_path / "c_empty.py").write_text("x = 1\n")
    (tmp_path / "d_two.py").write_text(
        "from spark_streams.model import Stream\n"
        "a = Stream(name='a', sink='s3://{lake}/a/')\n"
        "b = Stream(name='b', sink='s3://{lake}/b/')\n"
    )
    found = messages(tmp_path)
    assert len(found) == 4
    assert "fails to import" in found[0] and "not_a_module" in found[0]
    assert "correct the syntax" in found[1]
    assert "defines no stream" in found[2]
    assert "defines 2 streams" in found[3]


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    (message,) = messages(tmp_path / "nope")
    assert "not found" in message


def test_helpers_beside_the_streams_can_be_imported_and_do_not_leak_between_directories(
    tmp_path: Path,
) -> None:
    for team in ("a", "b"):
        directory = tmp_path / team
        directory.mkdir()
        (directory / "_shared").mkdir()
        (directory / "_shared" / "__init__.py").write_text(f"PREFIX = 'raw-{team}'\n")
        (directory / "one.py").write_text(
            "from _shared import PREFIX\n"
            "from spark_streams.model import Stream\n"
            "stream = Stream(name=PREFIX, sink=f's3://{{lake}}/{PREFIX}/')\n"
        )
        loaded, problems = load_streams(directory)
        assert problems == []
        assert [s.stream.name for s in loaded] == [f"raw-{team}"]
        assert not (directory / "__pycache__").exists()


def test_files_that_cannot_be_read_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "folder.py").mkdir()
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    found = messages(tmp_path)
    assert len(found) == 2
    assert all("cannot be read" in m and "Fix:" in m for m in found)


def test_encodings_follow_python_rules(tmp_path: Path) -> None:
    body = "from spark_streams.model import Stream\nstream = Stream(name='caf', sink='s3://{lake}/caf\xe9/')\n"
    (tmp_path / "declared.py").write_bytes(b"# -*- coding: latin-1 -*-\n" + body.encode("latin-1"))
    (tmp_path / "undeclared.py").write_bytes(body.replace("caf'", "cafe'").encode("latin-1"))
    (tmp_path / "nul.py").write_bytes(b"x = 1\0\n")
    loaded, problems = load_streams(tmp_path)
    assert [s.stream.name for s in loaded] == ["caf"]
    assert sorted(p.file.rsplit("/", 1)[-1] for p in problems) == ["nul.py", "undeclared.py"]
    assert all("Fix:" in p.message and "None" not in p.message for p in problems)


def test_a_stream_file_cannot_end_the_plan(tmp_path: Path) -> None:
    (tmp_path / "quits.py").write_text("import sys\nsys.exit(3)\n")
    (message,) = messages(tmp_path)
    assert "fails to import: line 2: SystemExit: 3" in message


def test_a_broken_helper_is_named_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "_topics.py").write_text("TOPIC = (\n")
    (tmp_path / "one.py").write_text(
        "from spark_streams.model import Stream\nfrom _topics import TOPIC\n"
    )
    (message,) = messages(tmp_path)
    assert "one.py: imports " in message and "_topics.py, line 1: " in message


def test_a_settings_group_given_a_bare_value_is_told_its_class(tmp_path: Path) -> None:
    (tmp_path / "bare.py").write_text(
        "from spark_streams.model import Stream\n"
        "stream = Stream(name='bare', sink='s3://{lake}/b/', executor=4)\n"
    )
    (message,) = messages(tmp_path)
    assert "field 'executor'" in message and "Fix: write Executor(...)" in message
