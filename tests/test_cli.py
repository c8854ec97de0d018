"""The spark-streams CLI: list, render and plan, their exit codes and their contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_streams.cli import main
from tests.conftest import PROJECT, StreamWriter


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "plan", "--json", *argv)
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_plan_json_holds_every_resource_with_the_contract_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = plan_json(capsys, "--stack", "dev")
    assert plan["stack"] == "dev"
    fields = {
        "urn",
        "type",
        "name",
        "parent",
        "stream",
        "protect",
        "retain_on_delete",
        "delete_before_replace",
        "dependencies",
        "inputs",
    }
    assert all(fields <= set(r) for r in plan["resources"])
    urns = {r["urn"] for r in plan["resources"]}
    assert all(set(r["dependencies"]) <= urns for r in plan["resources"])
    assert all(r["parent"] in urns for r in plan["resources"] if r["parent"])
    streams = {r["stream"] for r in plan["resources"]} - {None}
    assert streams == {"orders-ingest", "clickstream-ingest", "payments-audit"}
    types = {r["type"] for r in plan["resources"]}
    assert {
        "kubernetes:helm.sh/v3:Release",
        "pulumi:providers:kubernetes",
        "aws:s3/bucket:Bucket",
    } <= types


def test_urns_are_the_ones_pulumi_up_gives(capsys: pytest.CaptureFixture[str]) -> None:
    urns = {r["name"]: r["urn"] for r in plan_json(capsys, "--stack", "dev")["resources"]}
    # the parent's whole type chain, the root stack's type left out
    assert urns["data-lake-versioning"] == (
        "urn:pulumi:dev::spark-streams::spark-streams:storage:DataBuckets$aws:s3/bucket:Bucket"
        "$aws:s3/bucketVersioning:BucketVersioning::data-lake-versioning"
    )
    assert urns["data"] == "urn:pulumi:dev::spark-streams::spark-streams:storage:DataBuckets::data"


def test_a_plan_leaves_the_sdk_as_it_found_it(capsys: pytest.CaptureFixture[str]) -> None:
    from pulumi.runtime import resource

    before = resource._get_stack_trace
    plan_json(capsys, "--stack", "dev")
    assert resource._get_stack_trace is before


def test_prod_plan_protects_its_data(capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_json(capsys, "--stack", "prod")
    protected = {r["name"] for r in plan["resources"] if r["protect"]}
    assert {"data-lake", "data-checkpoints", "data-key"} <= protected
    retained = {r["name"] for r in plan["resources"] if r["retain_on_delete"]}
    assert {"data-lake", "data-checkpoints", "data-key"} <= retained
    assert "data-event-logs" not in protected | retained
    # payments-audit is disabled in prod
    assert "payments-audit" not in {r["stream"] for r in plan["resources"]}


def test_a_dropped_in_stream_file_appears_with_no_other_edit(
    capsys: pytest.CaptureFixture[str], streams_dir: Path, write_stream: StreamWriter
) -> None:
    write_stream(
        "inventory.py",
        """
        from spark_streams.model import Stream
        stream = Stream(name="inventory-ingest", sink="s3://{lake}/raw/inventory/")
        """,
    )
    plan = plan_json(capsys, "--stack", "dev", "--streams-dir", str(streams_dir))
    mine = [r for r in plan["resources"] if r["stream"] == "inventory-ingest"]
    assert len(mine) == 6


def test_an_example_copied_under_new_names_plans_with_its_own_prefixes(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    source = (streams_dir / "orders.py").read_text()
    for i in range(3):
        (streams_dir / f"copy_{i}.py").write_text(source.replace("orders-ingest", f"copy-{i}"))
    plan = plan_json(capsys, "--stack", "dev", "--streams-dir", str(streams_dir))
    sinks = {
        r["stream"]: r["inputs"]["spec"]["sparkConf"]["spark.streams.sink"]
        for r in plan["resources"]
        if r["type"].endswith(":SparkApplication")
    }
    assert sinks["copy-2"] == "s3a://acme-data-dev-lake/raw/copy-2/"
    assert len(set(sinks.values())) == len(sinks) == 6


def test_a_broken_stream_exits_1_with_one_paragraph_and_nothing_planned(
    capsys: pytest.CaptureFixture[str], streams_dir: Path, write_stream: StreamWriter
) -> None:
    write_stream(
        "broken.py",
        """
        from spark_streams.model import Executor, Stream
        stream = Stream(name="broken", sink="s3://{lake}/x/", executor=Executor(instances=0))
        """,
    )
    code, out, err = run(
        capsys, "plan", "--json", "--stack", "dev", "--streams-dir", str(streams_dir)
    )
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert "broken.py: stream 'broken': field 'executor.instances'" in err


def test_console_script_reports_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "from spark_streams.model import Stream\nstream = Stream(name='x')\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spark_streams.cli",
            "plan",
            "--stack",
            "dev",
            "--streams-dir",
            str(tmp_path),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "stream 'x': field 'sink': Field required" in result.stderr


@pytest.mark.parametrize("argv", [[], ["plan"], ["plan", "--stack"], ["deploy", "--stack", "dev"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_unknown_stack_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--stack", "staging")
    assert code == 2
    assert "known: dev, prod" in err


def test_list_shows_effective_settings_per_stack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--stack", "prod", "--json")
    assert code == 0
    streams = {s["name"]: s for s in json.loads(out)["streams"]}
    assert streams["orders-ingest"]["executor"]["instances"] == 6
    code, out, _ = run(capsys, "list", "--stack", "dev")
    assert "orders-ingest" in out and "payments-audit" in out


def test_plan_text_says_it_is_offline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--stack", "dev")
    assert code == 0
    assert out.startswith("Offline plan of stack dev")


def test_render_is_kubernetes_yaml_in_apply_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "--stack", "dev")
    assert code == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(out) if d]
    assert kinds[0] == "Namespace"
    assert kinds.count("SparkApplication") == 3
    assert kinds.index("ServiceAccount") < kinds.index("SparkApplication")


def test_plan_reads_the_stream_files_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from spark_streams import discovery, program

    calls: list[Path] = []
    original = discovery.load_streams

    def counting(directory: Path):  # type: ignore[no-untyped-def]
        calls.append(directory)
        return original(directory)

    monkeypatch.setattr(program, "load_streams", counting)
    assert main(["plan", "--stack", "dev"]) == 0
    assert len(calls) == 1
