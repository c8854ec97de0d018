"""Security end to end: pods, namespace, secrets, and bad input stopped before anything is planned."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from spark_streams.cli import main
from tests.conftest import PROJECT

K8S_VERSION = "1.33.0"


def rendered(stack: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["render", "--stack", stack]) == 0
    return [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_core_objects_are_valid_kubernetes(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    for document in rendered(stack, capsys):
        if "/" not in document["apiVersion"] or document["apiVersion"].startswith(
            ("apps/", "rbac.", "networking.")
        ):
            kubernetes_validate.validate(document, K8S_VERSION, strict=True)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pods_run_restricted(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    documents = rendered(stack, capsys)
    (namespace,) = [d for d in documents if d["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for app in (d for d in documents if d["kind"] == "SparkApplication"):
        for role in ("driver", "executor"):
            pod = app["spec"][role]
            container = pod["securityContext"]
            assert container["runAsNonRoot"] is True
            assert container["allowPrivilegeEscalation"] is False
            assert container["capabilities"]["drop"] == ["ALL"]
            assert container["seccompProfile"]["type"] == "RuntimeDefault"
            assert pod["podSecurityContext"]["runAsNonRoot"] is True


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, copy / name)
    for name in ("components", "streams"):
        shutil.copytree(PROJECT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(cwd: Path, *argv: str) -> Ran:
    """The CLI as a user runs it from ``cwd``, in this process."""
    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        os.chdir(before)
    return Ran(code, out.getvalue(), err.getvalue())


def test_secret_values_appear_in_no_output(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["spark-streams:secrets"] = {
        "kafka-sasl-password": {"secure": "v1:hunter2-ciphertext"}
    }
    stack.write_text(yaml.safe_dump(document))
    outputs = [
        cli(project, command, "--stack", "dev", *extra)
        for command, extra in (
            ("plan", ["--json"]),
            ("plan", []),
            ("render", []),
            ("list", ["--json"]),
        )
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "hunter2" not in result.stdout + result.stderr
    plan = json.loads(outputs[0].stdout)
    (secret,) = [r for r in plan["resources"] if r["type"] == "kubernetes:core/v1:Secret"]
    assert secret["inputs"]["stringData"] == {"kafka-sasl-password": "[secret]"}
    for r in plan["resources"]:
        if r["type"].endswith(":SparkApplication"):
            assert not any("PASSWORD" in k.upper() for k in r["inputs"]["spec"]["sparkConf"])


def test_a_secret_left_in_plain_text_is_refused_without_being_shown(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"]["spark-streams:secrets"]["plain-key"] = "hunter2-plaintext"
    stack.write_text(yaml.safe_dump(document))
    result = cli(project, "plan", "--stack", "dev")
    assert result.returncode == 1 and result.stdout == ""
    assert "field 'secrets'" in result.stderr and "plain-key" in result.stderr
    assert "--secret --path 'secrets.plain-key'" in result.stderr
    assert "hunter2" not in result.stderr


def stream_file(fields: str) -> str:
    defaults = "sink='s3://{lake}/catalogue/x/'"
    if "sink=" in fields:
        defaults = ""
    return textwrap.dedent(
        f"""
        from spark_streams.model import Driver, Executor, StackOverride, Stream
        stream = Stream({fields}{", " if defaults else ""}{defaults})
        """
    )


def test_overlapping_and_duplicate_streams_are_all_reported(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(stream_file("name='a', sink='s3://{lake}/raw/'"))
    (tmp_path / "b.py").write_text(stream_file("name='b', sink='s3://{lake}/raw/b/'"))
    (tmp_path / "c.py").write_text(stream_file("name='a', sink='s3://{lake}/c/'"))
    (tmp_path / "d.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "e.py").write_text("VALUE = 1\n")
    result = cli(PROJECT, "plan", "--stack", "dev", "--streams-dir", str(tmp_path))
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    assert "stream 'b': field 'sink'" in result.stderr
    assert "c.py: stream 'a': field 'name'" in result.stderr
    assert "d.py" in result.stderr and "boom" in result.stderr
    assert "e.py" in result.stderr and "defines no stream" in result.stderr


def test_a_stack_config_that_is_not_yaml_or_not_a_mapping_is_reported(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    stack = project / "Pulumi.dev.yaml"
    for text, expected in (
        ("config:\n  spark-streams:awsRegion: [eu-west-1\n", "line 3"),
        ("config:\n  - 1\n  - 2\n", "field 'config': is not a mapping"),
        ("- config\n", "is not a mapping"),
        ("config:\n  spark-streams:clusterName: caf\xe9\n", "not UTF-8"),
    ):
        stack.write_bytes(text.encode("latin-1"))
        result = cli(project, "plan", "--stack", "dev")
        assert result.returncode == 1, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert "Pulumi.dev.yaml" in result.stderr and expected in result.stderr
        assert "Fix:" in result.stderr


def test_name_clashes_are_reported_with_a_broken_stack_config(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    document["config"].pop("spark-streams:clusterName")
    stack.write_text(yaml.safe_dump(document))
    shutil.copy(project / "streams" / "orders.py", project / "streams" / "orders_copy.py")
    result = cli(project, "plan", "--stack", "dev")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "field 'clusterName'" in result.stderr
    assert "orders_copy.py: stream 'orders-ingest': field 'name'" in result.stderr


def test_an_empty_streams_directory_is_refused_not_planned_as_no_streams(tmp_path: Path) -> None:
    result = cli(PROJECT, "plan", "--stack", "dev", "--streams-dir", str(tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert "holds no stream files" in result.stderr and "--streams-dir" in result.stderr


def test_a_multi_line_error_stays_one_line_per_problem(tmp_path: Path) -> None:
    (tmp_path / "shouty.py").write_text("raise RuntimeError('first\\nsecond')\n")
    result = cli(PROJECT, "plan", "--stack", "dev", "--streams-dir", str(tmp_path))
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("  - ")]
    assert "first second" in line
