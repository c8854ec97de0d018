"""The spark-streams CLI: list, render and plan, their exit codes and their contracts."""

from __future__ import annotations

import json
import re
import shutil
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
    assert len(mine) == 8


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


def mib(quantity: str) -> int:
    """A Spark memory size as the SparkApplication spells it (e.g. '4g', '512m'), in MiB."""
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    return int(int(quantity[:-1]) * units[quantity[-1].lower()])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_list_json_capacity_is_what_the_rendered_spark_applications_request(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Independent of capacity.py: every pod's cores and memory + memoryOverhead, as rendered.
    code, out, _ = run(capsys, "render", "--stack", stack)
    assert code == 0
    rendered = {}
    for app in yaml.safe_load_all(out):
        if not app or app["kind"] != "SparkApplication":
            continue
        driver, executor = app["spec"]["driver"], app["spec"]["executor"]
        pods = [(1, driver), (executor["instances"], executor)]
        rendered[app["metadata"]["name"]] = (
            sum(n * role["cores"] for n, role in pods),
            sum(n * (mib(role["memory"]) + mib(role["memoryOverhead"])) for n, role in pods) / 1024,
        )
    code, out, _ = run(capsys, "list", "--stack", stack, "--json")
    assert code == 0
    listed = json.loads(out)
    found = {s["name"]: s["capacity"] for s in listed["streams"]}
    assert set(found) == set(rendered)
    for name, (cpu, memory_gib) in rendered.items():
        assert (found[name]["cpu"], found[name]["memory_gib"]) == (cpu, memory_gib), name
        assert found[name]["currency"] == "USD" and found[name]["monthly_cost"] > 0
    total = listed["total"]
    assert total["cpu"] == sum(c for c, _ in rendered.values())
    assert total["memory_gib"] == sum(m for _, m in rendered.values())
    assert total["monthly_cost"] == pytest.approx(
        sum(c["monthly_cost"] for c in found.values()), abs=0.01
    )


def test_list_shows_each_streams_cost_and_the_stacks_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "list", "--stack", "prod")
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[-3:] == ["CPU", "GiB", "USD/MONTH"]
    costs = {
        row.split()[0]: row.split()[-3:] for row in rows if row.startswith(("orders", "click"))
    }
    assert costs["clickstream-ingest"][:2] == ["17", "42.5"]  # 1 + 8 x 2 cores; 2.5 + 8 x 5 GiB
    assert costs["orders-ingest"][:2] == ["13", "44.5"]  # 1 + 6 x 2 cores; 2.5 + 6 x 7 GiB
    found = re.search(
        r"^Total requested: 30 CPU, 87.0 GiB, USD ([0-9,.]+) a month .*not usage", out, re.M
    )
    assert found is not None, out
    each = [float(cost[2].replace(",", "")) for cost in costs.values()]
    assert float(found.group(1).replace(",", "")) == pytest.approx(sum(each), abs=0.01)


def test_list_by_owner_sums_each_teams_streams(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--stack", "prod", "--json", "--by", "owner")
    assert code == 0
    listing = json.loads(out)
    groups = listing["by_owner"]
    owners = {s["owner"] for s in listing["streams"]}
    assert {g["owner"] for g in groups} == owners
    assert sum(g["capacity"]["monthly_cost"] for g in groups) == pytest.approx(
        listing["total"]["monthly_cost"]
    )


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


@pytest.mark.parametrize("streams_dir_in_stack_file", [False, True])
def test_plan_runs_each_stream_file_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    streams_dir_in_stack_file: bool,
) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "streams", project / "streams")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT / name, project / name)
    if streams_dir_in_stack_file:  # the documented key, at its default value
        stack = project / "Pulumi.dev.yaml"
        stack.write_text(stack.read_text() + "  spark-streams:streamsDir: streams\n")
    runs = tmp_path / "runs"
    (project / "streams" / "counted.py").write_text(
        "from pathlib import Path\n"
        "from spark_streams.model import Stream\n"
        f"with Path({str(runs)!r}).open('a') as runs:\n"
        "    runs.write('run\\n')\n"
        "stream = Stream(name='counted', sink='s3://{lake}/raw/counted/')\n"
    )
    monkeypatch.chdir(project)
    assert main(["plan", "--stack", "dev"]) == 0, capsys.readouterr().err
    assert runs.read_text() == "run\n"


def test_one_run_reports_every_mistake_in_every_file(
    capsys: pytest.CaptureFixture[str], write_stream: StreamWriter, streams_dir: Path
) -> None:
    # Five independent mistakes in five files, each of a different kind of check.
    mistakes = {
        "a.py": "executor=Executor(memory='4GB')",  # the model
        "b.py": "secrets={'X': 'nope'}",  # against the stack config
        "c.py": "restart_policy=RestartPolicy(type='OnFailure')",  # the effective settings
        "d.py": "application_file='s3://x/job.jar'",  # the effective settings
        "e.py": "reads=('s3://{lake}/ref/{lakes}/',)",  # a stream's own rules
    }
    for filename, setting in mistakes.items():
        write_stream(
            filename,
            "from spark_streams.model import Executor, RestartPolicy, Stream\n"
            f"stream = Stream(name='{filename[0]}-x', sink='s3://{{lake}}/raw/{filename[0]}/', "
            f"{setting})\n",
        )
    code, _, err = run(capsys, "plan", "--stack", "dev", "--streams-dir", str(streams_dir))
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(problems) == 5, err
    assert sorted(p.split(":")[0].rsplit("/", 1)[-1] for p in problems) == sorted(mistakes)


def test_version_names_the_tool_the_sdk_and_each_stacks_chart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("spark-streams 0.1.0, pulumi SDK 3.")
    assert "spark-operator chart 2.5.2 (dev, prod)" in out and out.count("\n") == 1


def test_a_bad_flag_after_a_subcommand_shows_that_subcommands_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--stack", "dev", "--bogus"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: spark-streams plan ") and "--bogus" in err


def test_a_misspelt_stack_gets_the_closest_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--stack", "prdo")
    assert code == 2 and "Did you mean 'prod'?" in err


def test_list_shows_disabled_streams_and_the_desired_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "list", "--stack", "prod")
    assert code == 0
    header, *rows = out.splitlines()
    assert "DESIRED" in header and "STATE" not in header.split()
    assert any(r.split()[0] == "payments-audit" and "disabled" in r for r in rows)
    assert "\n2 streams in stack prod, 1 disabled\n" in out
    code, out, _ = run(capsys, "list", "--stack", "prod", "--json")
    assert json.loads(out)["disabled"] == ["payments-audit"]


def test_render_of_one_stream_holds_only_its_objects(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "--stack", "dev", "--stream", "orders-ingest")
    assert code == 0
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert {d["kind"] for d in documents} == {"NetworkPolicy", "ServiceAccount", "SparkApplication"}
    # its driver's and its executors' accounts
    assert {d["metadata"]["name"] for d in documents} == {"orders-ingest", "orders-ingest.executor"}
    code, _, err = run(capsys, "render", "--stack", "dev", "--stream", "orders-ingst")
    assert code == 2 and "Did you mean 'orders-ingest'?" in err


def test_new_writes_a_stream_that_plans_as_written_and_refuses_a_taken_name(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    where = ["--streams-dir", str(streams_dir)]
    # prod requires an owner: without one nothing is written, and the flag to add is named
    code, _, err = run(capsys, "new", "orders-eu", *where)
    assert code == 2 and "stack prod requires" in err and "--owner <team>" in err
    assert not (streams_dir / "orders_eu.py").exists()
    code, out, err = run(
        capsys, "new", "orders-eu", "--topic", "orders.eu", "--owner", "commerce-data", *where
    )
    assert code == 0, err
    assert out.startswith("wrote ") and "spark-streams plan --stack dev" in out
    text = (streams_dir / "orders_eu.py").read_text()
    assert 'sink="s3://{lake}/raw/{stream}/"' in text and '"--topic", "orders.eu"' in text
    assert 'owner="commerce-data"' in text
    for stack in ("dev", "prod"):
        code, out, _ = run(capsys, "list", "--stack", stack, "--json", *where)
        (mine,) = [s for s in json.loads(out)["streams"] if s["name"] == "orders-eu"]
        assert mine["sink"]["prefix"] == "raw/orders-eu/"
    code, _, err = run(capsys, "new", "orders-eu", *where)
    assert code == 2 and "exists already" in err
    code, _, err = run(capsys, "new", "orders-ingest", *where)  # a name another file holds
    assert code == 2 and "orders.py" in err
    code, _, err = run(capsys, "new", "Bad_Name", *where)
    assert code == 2 and "DNS-1035" in err
    code, _, err = run(capsys, "new", "py-job", "--type", "Python", *where)
    assert code == 2 and "--file" in err


def test_new_python_stream_with_its_file_plans(
    capsys: pytest.CaptureFixture[str], streams_dir: Path
) -> None:
    where = ["--streams-dir", str(streams_dir)]
    code, _, err = run(
        capsys,
        "new",
        "py-job",
        "--type",
        "Python",
        "--file",
        "local:///opt/job.py",
        "--owner",
        "payments",
        *where,
    )
    assert code == 0, err
    code, _, err = run(capsys, "plan", "--stack", "prod", *where)
    assert code == 0, err
