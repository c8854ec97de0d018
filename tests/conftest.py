"""Shared fixtures: the project, stream files in temporary directories, offline plans."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spark_streams.config import StackConfig, parse_stack_config, read_stack_values
from spark_streams.offline import Plan, PlannedResource

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _in_project() -> Iterator[None]:
    """The CLI finds the project from the working directory, as a user runs it."""
    before = Path.cwd()
    os.chdir(PROJECT)
    yield
    os.chdir(before)


def stack_config(stack: str = "dev") -> StackConfig:
    values, _ = read_stack_values(PROJECT, stack)
    return parse_stack_config(values, file=f"Pulumi.{stack}.yaml")


@pytest.fixture
def streams_dir(tmp_path: Path) -> Path:
    """A copy of the example streams that a test may change."""
    target = tmp_path / "streams"
    shutil.copytree(PROJECT / "streams", target)
    return target


StreamWriter = Callable[[str, str], Path]


@pytest.fixture
def write_stream(streams_dir: Path) -> StreamWriter:
    def write(filename: str, body: str) -> Path:
        path = streams_dir / filename
        path.write_text(textwrap.dedent(body))
        return path

    return write


def by_type(plan: Plan, type_: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == type_]


def one(plan: Plan, type_: str, name: str) -> PlannedResource:
    matches = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"{type_} {name}: {len(matches)} found"
    return matches[0]
