"""Data-path scenarios (marker `e2e_data`, deselected by default; `make e2e-data` runs them).

The run starts its own servers (an OpenID provider and MinIO, on 127.0.0.1 ports of its own,
``E2E_DATA_PORT_BASE``, default 17400; a History Server per stack above them) and stops them at
the end; it runs every stack once, then the tests judge what it saw and ``.e2e-data-report/``
keeps it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_streams import stackfile
from tests.e2e_data.run import PARALLEL, StackEvidence, StackRun, dump
from tests.e2e_data.servers import Minio, OidcIssuer
from tests.e2e_data.spark import CACHE, PROJECT, SparkLine, build_job, lines, regions_file

REPORT_DIR = PROJECT / ".e2e-data-report"
PORT_BASE = int(os.environ.get("E2E_DATA_PORT_BASE", "17400"))
EXTRA_STREAMS = Path(__file__).parent / "streams"


@dataclass(frozen=True)
class Generated:
    """A stack made from dev's stack file for a Spark and Hadoop line dev and prod do not run."""

    name: str
    spark: str
    hadoop: str
    history_server: bool
    # streams whose names are prefixes of one another, one reading another's sink and one
    # renamed earlier (tests/e2e_data/streams/), beside every stream of streams/
    extra_streams: bool


GENERATED = {
    stack.name: stack
    for stack in (
        # The AWS SDK v2 on Hadoop 3.5, the History Server's Spark: the whole set of streams.
        Generated("sdk-v2", spark="4.2.1", hadoop="3.5", history_server=True, extra_streams=True),
        # Hadoop 3.4's own S3A (Spark 4.0 and 4.1 ship it), over the streams of streams/.
        Generated(
            "hadoop-3.4", spark="4.0.1", hadoop="3.4", history_server=False, extra_streams=False
        ),
    )
}
STACKS = ("dev", "prod", *GENERATED)
# E2E_DATA_STACKS=dev runs one stack (while working on the scenarios; CI runs them all)
RUN_STACKS = tuple(os.environ.get("E2E_DATA_STACKS", " ".join(STACKS)).split())
# E2E_DATA_LIFECYCLE=all takes every stream, not one per stack, through the change, the rename
# and the new generation (tests/e2e_data/run.py)
EVERY_STREAM_LIFECYCLE = os.environ.get("E2E_DATA_LIFECYCLE", "one") == "all"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e_data)


@dataclass(frozen=True)
class Stack:
    name: str
    project: Path
    streams_dir: Path
    config: dict[str, Any]


def _config(project: Path, stack: str) -> dict[str, Any]:
    return stackfile.read(project, stack).values


def generated_project(work: Path, stack: Generated) -> Path:
    """A copy of the project's stack files with one more: dev's, moved to the stack's line."""
    project = work / f"project-{stack.name}"
    project.mkdir()
    for path in PROJECT.glob("Pulumi*.yaml"):
        shutil.copy(path, project / path.name)
    document = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    spark = config["spark-streams:spark"]
    spark["sparkVersion"] = stack.spark
    spark["image"] = spark["image"].rsplit(":", 1)[0] + f":{stack.spark}-1"
    spark["hadoopVersion"] = stack.hadoop
    config["spark-streams:buckets"]["prefix"] = f"acme-data-{stack.name.replace('.', '-')}"
    config["spark-streams:monitoring"]["historyServer"] = stack.history_server
    (project / f"Pulumi.{stack.name}.yaml").write_text(yaml.safe_dump(document))
    streams = project / "streams"
    shutil.copytree(PROJECT / "streams", streams, ignore=shutil.ignore_patterns("__pycache__"))
    if stack.extra_streams:
        for path in EXTRA_STREAMS.glob("*.py"):
            shutil.copy(path, streams / path.name)
    return project


def stacks(work: Path) -> list[Stack]:
    found = []
    for name in RUN_STACKS:
        generated = GENERATED.get(name)
        project = generated_project(work, generated) if generated else PROJECT
        config = _config(project, name)
        streams_dir = project / config.get("streamsDir", "streams")
        found.append(Stack(name, project, streams_dir, config))
    return found


@pytest.fixture(scope="session")
def evidence() -> Iterator[dict[str, StackEvidence]]:
    """Every stack run once, all at the same time (MinIO and the OpenID provider up for the
    whole run, JVMs two at a time over all of them)."""
    work = Path(tempfile.mkdtemp(prefix="e2e-data-"))
    found: dict[str, StackEvidence] = {}
    available = lines()
    history_line = max(available.values(), key=lambda line: line.version)
    jars = {version: build_job(line, work) for version, line in available.items()}
    slots = threading.BoundedSemaphore(PARALLEL)
    REPORT_DIR.mkdir(exist_ok=True)
    with OidcIssuer(PORT_BASE + 1) as issuer:
        all_stacks = stacks(work)
        region = all_stacks[0].config["awsRegion"]
        (work / "minio").mkdir()
        minio = Minio(_minio_binary(), PORT_BASE, work / "minio", issuer, region)
        with minio.running():
            regions = regions_file(minio, work)
            runs = []
            for index, stack in enumerate(all_stacks):
                run = StackRun(
                    stack=stack.name,
                    project=stack.project,
                    streams_dir=stack.streams_dir,
                    region=stack.config["awsRegion"],
                    namespace=stack.config.get("namespace", "spark-streams"),
                    line=_line(available, stack),
                    history_line=history_line,
                    jars=jars,
                    minio=minio,
                    issuer=issuer,
                    regions=regions,
                    work=work / stack.name,
                    history_port=PORT_BASE + 2 + index,
                    slots=slots,
                    every_stream_lifecycle=EVERY_STREAM_LIFECYCLE,
                )
                run.prepare()
                runs.append(run)
            with ThreadPoolExecutor(len(runs)) as pool:
                for run, stack_evidence in zip(runs, pool.map(StackRun.run, runs), strict=True):
                    found[run.stack] = stack_evidence
                    dump(stack_evidence, REPORT_DIR / f"{run.stack}.json")
    yield found
    if os.environ.get("E2E_DATA_KEEP") != "1":
        shutil.rmtree(work, ignore_errors=True)


def _line(available: dict[str, SparkLine], stack: Stack) -> SparkLine:
    version = stack.config["spark"]["sparkVersion"]
    if version not in available:
        raise pytest.UsageError(
            f"stack {stack.name} runs Spark {version}; twin/spark/ has {sorted(available)}"
        )
    return available[version]


def _minio_binary() -> Path:
    (found,) = sorted(CACHE.glob("minio-*/bin/minio"))
    return found
