"""One verdict at the edge: every command that reads inputs (plan, render, list, diff, new,
mr-note, and the program under the engine) accepts and refuses exactly the same inputs, with the
same problems, each naming the file, the stream, the field and the fix, and no traceback.

The catalogue runs in this process: each mistake through every command.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from spark_streams import inputs, stackfile
from spark_streams.cli import main
from spark_streams.stackfile import config_string
from tests.conftest import PROJECT, NoCloud

# A stream file's mistake: the fields written, and the field the problem names.
STREAM_MISTAKES = {
    "bad_name": ("name='Orders_Ingest'", "name"),
    "long_name": ("name='" + "a" * 41 + "'", "name"),
    "typo": ("name='typo', executor_instances=3", "executor_instances"),
    "outside_lake": ("name='outside', sink='s3://somebody-elses-bucket/x/'", "sink"),
    "not_s3": ("name='not-s3', sink='/data/lake/x'", "sink"),
    "float_cores": ("name='floaty', executor=Executor(cores=1.5)", "executor.cores"),
    "zero_cores": ("name='zero-cores', driver=Driver(cores=0)", "driver.cores"),
    "string_cores": ("name='string-cores', driver=Driver(cores='2')", "driver.cores"),
    "zero_instances": ("name='zero', executor=Executor(instances=0)", "executor.instances"),
    "memory_gb": ("name='gb', executor=Executor(memory='2GB')", "executor.memory"),
    "overhead": (
        "name='overhead', driver=Driver(memory='1g', memory_overhead='4g')",
        "driver.memory_overhead",
    ),
    "no_main_class": ("name='no-main', type='Java', main_class=None", "main_class"),
    "app_scheme": ("name='scheme', application_file='hdfs:///app.jar'", "application_file"),
    "unknown_stack": ("name='staging', stacks={'staging': StackOverride()}", "stacks.staging"),
    "negative_generation": ("name='neg', checkpoint_generation=-1", "checkpoint_generation"),
    "arguments_not_strings": ("name='args', arguments=('--n', 3)", "arguments[1]"),
    "unknown_secret": ("name='secret', secrets={'TOKEN': 'nope'}", "secrets.TOKEN"),
    "secret_in_conf": (
        "name='conf-secret', spark_conf={'spark.kafka.password': 'x'}",
        "spark_conf.spark.kafka.password",
    ),
    "secret_in_conf_value": (
        "name='conf-value', spark_conf={'spark.x.jaas': 'password=\"x\"'}",
        "spark_conf.spark.x.jaas",
    ),
    "wildcard_sink": ("name='wild', sink='s3://{lake}/raw/orders-inges?/'", "sink"),
    "wildcard_read": ("name='wild-read', reads=('s3://{lake}/*',)", "reads[0]"),
    "iam_variable": ("name='variable', sink='s3://{lake}/${aws:username}/'", "sink"),
    # values of settings Spark defines, read as Spark reads them
    "conf_not_a_number": (
        "name='lots', spark_conf={'spark.executor.memoryOverheadFactor': 'lots'}",
        "spark_conf.spark.executor.memoryOverheadFactor",
    ),
    "conf_not_a_boolean": (
        "name='yes', stacks={'dev': StackOverride(spark_conf={'spark.speculation': 'yes'})}",
        "stacks.dev.spark_conf.spark.speculation",
    ),
    "conf_fractional_size": (
        "name='frac', spark_conf={'spark.memory.offHeap.size': '1.5g'}",
        "spark_conf.spark.memory.offHeap.size",
    ),
    "conf_off_heap_without_size": (
        "name='off-heap', spark_conf={'spark.memory.offHeap.enabled': 'true'}",
        "spark_conf",
    ),
    "spark_without_table": ("name='old-spark', spark_version='3.4.4'", "spark_version"),
    # keys that would undo what the program sets, both roles
    "conf_identity_label": (
        "name='label', spark_conf={'spark.kubernetes.executor.label.spark-streams/identity': 'x'}",
        "spark_conf.spark.kubernetes.executor.label.spark-streams/identity",
    ),
    "conf_irsa_env": (
        "name='env', spark_conf={'spark.kubernetes.driverEnv.AWS_ROLE_ARN': 'arn:aws:iam::1:role/x'}",
        "spark_conf.spark.kubernetes.driverEnv.AWS_ROLE_ARN",
    ),
    "conf_pod_template": (
        "name='template', spark_conf={'spark.kubernetes.driver.podTemplateFile': '/t.yaml'}",
        "spark_conf.spark.kubernetes.driver.podTemplateFile",
    ),
    "conf_bucket_endpoint": (
        "name='endpoint', "
        "spark_conf={'spark.hadoop.fs.s3a.bucket.acme-data-dev-lake.endpoint': 'http://x'}",
        "spark_conf.spark.hadoop.fs.s3a.bucket.acme-data-dev-lake.endpoint",
    ),
    "conf_service_account": (
        "name='account', spark_conf={"
        "'spark.kubernetes.authenticate.executor.serviceAccountName': 'default'}",
        "spark_conf.spark.kubernetes.authenticate.executor.serviceAccountName",
    ),
}

# A stack file's mistake (dev): an edit of its `config:` mapping, and the key the problem names.
STACK_MISTAKES: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "missing_key": (lambda c: c.pop("spark-streams:clusterName"), "clusterName"),
    "wrong_type": (
        lambda c: c["spark-streams:spark"]["executor"].update(instances="many"),
        "spark.executor.instances",
    ),
    "not_a_value": (
        lambda c: c["spark-streams:buckets"].update(encryption="rot13"),
        "buckets.encryption",
    ),
    "misspelt_key": (lambda c: c.update({"spark-streams:bukets": {}}), "bukets"),
    "conf_spark_refuses": (
        lambda c: c["spark-streams:spark"]["sparkConf"].update(
            {"spark.sql.shuffle.partitions": "eight"}
        ),
        "spark.sparkConf.spark.sql.shuffle.partitions",
    ),
    "conf_owned": (
        lambda c: c["spark-streams:spark"]["sparkConf"].update({"spark.authenticate": "false"}),
        "spark.sparkConf.spark.authenticate",
    ),
    "spark_without_table": (
        lambda c: c["spark-streams:spark"].update(sparkVersion="3.4.4"),
        "spark.sparkVersion",
    ),
}

Verdicts = dict[str, set[str]]


def stream_file(fields: str) -> str:
    sink = "" if "sink=" in fields else ", sink='s3://{lake}/catalogue/x/'"
    return textwrap.dedent(
        f"""
        from spark_streams.model import Driver, Executor, StackOverride, Stream
        stream = Stream({fields}{sink})
        """
    )


def problems_in(stderr: str) -> set[str]:
    assert "Traceback" not in stderr
    return {line[4:] for line in stderr.splitlines() if line.startswith("  - ")}


class Commands:
    """Every command that reads inputs, run in this process on one project."""

    def __init__(self, project: Path, capsys: pytest.CaptureFixture[str], tmp: Path) -> None:
        self.project, self.capsys, self.tmp = project, capsys, tmp

    def cli(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err

    def refused(self, *argv: str) -> set[str]:
        code, out, err = self.cli(*argv)
        assert code == 1 and out == "", (argv, err)
        return problems_in(err)

    def verdict(self, *argv: str) -> set[str]:
        """Nothing when the command accepts the inputs, else the problems it names."""
        code, _, err = self.cli(*argv)
        return set() if code == 0 else problems_in(err)

    def engine(self, stack: str, streams_dir: Path | None) -> set[str]:
        """The program's own edge under Pulumi: the stack's config as the engine hands it."""
        values = stackfile.read(self.project, stack).values
        if streams_dir is not None:
            values = {**values, "streamsDir": str(streams_dir)}
        pulumi.runtime.set_mocks(NoCloud(), project="spark-streams", stack=stack)
        pulumi.runtime.set_all_config(
            {f"spark-streams:{k}": config_string(v) for k, v in values.items()},
            secret_keys=["spark-streams:secrets"] if "secrets" in values else [],
        )
        try:
            with pytest.raises(pulumi.RunError) as error:
                inputs.for_engine(self.project)
        finally:
            pulumi.runtime.set_all_config({}, [])
        return problems_in(str(error.value))

    def all(self, stack: str, streams_dir: Path | None = None) -> Verdicts:
        where = ["--streams-dir", str(streams_dir)] if streams_dir else []
        preview = self.tmp / "preview.txt"
        preview.write_text("Previewing update (dev):\n")
        note = self.cli("mr-note", "--stack", stack, "--preview", str(preview), "--dry-run", *where)
        assert note[0] == 1 and "Traceback" not in note[2]
        found = {
            command: self.refused(command, "--stack", stack, *where, *extra)
            for command, extra in (
                ("plan", ["--json"]),
                ("plan", []),
                ("render", []),
                ("list", ["--json"]),
                ("list", []),
                ("diff", ["--base", "HEAD"]),
            )
        }
        found["engine"] = self.engine(stack, streams_dir)
        # mr-note posts (here: prints) its note, then fails with every problem on one line
        found["mr-note"] = {p for p in found["plan"] if p in " ".join(note[2].split())}
        # new judges every stack whose streams it would join: here each stack's verdict
        every = {p for s in ("dev", "prod") for p in self.verdict("plan", "--stack", s, *where)}
        assert self.refused("new", "probe-new", "--owner", "t", *where) == every
        return found


def same_everywhere(found: Verdicts) -> set[str]:
    first = found["plan"]
    assert first, "the mistake was accepted"
    for command, problems in found.items():
        assert problems == first, command
    return first


@pytest.mark.parametrize("case", sorted(STREAM_MISTAKES))
def test_a_stream_mistake_gets_one_verdict_from_every_command(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fields, field = STREAM_MISTAKES[case]
    streams = tmp_path / "streams"
    streams.mkdir()
    (streams / f"{case}.py").write_text(stream_file(fields))
    problems = same_everywhere(Commands(PROJECT, capsys, tmp_path).all("dev", streams))
    name = fields.split("'")[1]
    assert any(f"stream '{name}': field '{field}'" in p for p in problems), problems


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, a git repository of its own (diff reads a base from it)."""
    import subprocess

    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT / name, copy / name)
    shutil.copytree(PROJECT / "streams", copy / "streams")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=copy, check=True)
    subprocess.run([*git, "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=copy, check=True)
    monkeypatch.chdir(copy)
    return copy


@pytest.mark.parametrize("case", sorted(STACK_MISTAKES))
def test_a_stack_mistake_gets_one_verdict_from_every_command(
    case: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, field = STACK_MISTAKES[case]
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    edit(document["config"])
    stack.write_text(yaml.safe_dump(document))
    problems = same_everywhere(Commands(project, capsys, tmp_path).all("dev"))
    assert any(p.startswith(f"Pulumi.dev.yaml: field '{field}'") for p in problems)


def test_what_every_command_accepts_the_program_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the other half of the verdict: the committed streams pass everywhere
    commands = Commands(PROJECT, capsys, tmp_path)
    for command in ("plan", "render", "list"):
        assert commands.cli(command, "--stack", "dev")[0] == 0
    assert inputs.load(PROJECT, stackfile.read(PROJECT, "dev")).streams
