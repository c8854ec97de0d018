"""Shared fixtures: the project, stream files in temporary directories, offline plans."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import settings

from spark_streams import checks, inputs, stackfile
from spark_streams.config import StackConfig, parse_stack_config
from spark_streams.problems import Problem
from spark_streams.resolve import EffectiveStream

PROJECT = Path(__file__).resolve().parent.parent

# Properties, not timings: a loaded CI machine must not fail an example for being slow.
settings.register_profile("spark-streams", deadline=None)
settings.load_profile("spark-streams")


@pytest.fixture(autouse=True)
def _in_project() -> Iterator[None]:
    """The CLI finds the project from the working directory, as a user runs it."""
    before = Path.cwd()
    os.chdir(PROJECT)
    yield
    os.chdir(before)


def stack_values(stack: str = "dev") -> dict[str, Any]:
    return stackfile.read(PROJECT, stack).values


def stack_config(stack: str = "dev") -> StackConfig:
    return parse_stack_config(stack_values(stack), file=f"Pulumi.{stack}.yaml")


def stack_problems(values: dict[str, Any], stack: str) -> list[Problem]:
    """The verdict on a stack config alone (no streams)."""
    file = f"Pulumi.{stack}.yaml"
    config = parse_stack_config(values, file=file)
    return checks.verdict([], [], config, stack, file, ["dev", "prod"])


def effective_streams(stack: str) -> tuple[EffectiveStream, ...]:
    return inputs.load(PROJECT, stackfile.read(PROJECT, stack)).streams


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


class Resource(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Resource)
R_co = TypeVar("R_co", bound=Resource, covariant=True)


class Resources(Protocol[R_co]):
    """A plan, or what a component registered under mocks."""

    @property
    def resources(self) -> Sequence[R_co]: ...


def by_type(plan: Resources[R], type_: str) -> list[R]:
    return [r for r in plan.resources if r.type == type_]


def one(plan: Resources[R], type_: str, name: str) -> R:
    matches = [r for r in plan.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"{type_} {name}: {len(matches)} found"
    return matches[0]
