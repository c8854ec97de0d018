"""Inputs of the Pulumi program: the stack config and the effective streams, validated together.

The Pulumi program and the offline planner both call :func:`load_inputs`. The planner validates
before it starts the program and hands its result over with :func:`preloaded`, so a plan reads
and checks the stream files once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spark_streams.config import (
    StackConfig,
    known_stacks,
    parse_stack_config,
    stack_file,
)
from spark_streams.discovery import load_streams
from spark_streams.problems import InvalidInputError, Problem, display_path
from spark_streams.resolve import EffectiveStream, check_names, resolve_all

Inputs = tuple[StackConfig, list[EffectiveStream]]
_Key = tuple[Path, str, str, Path | None]
_preloaded: dict[_Key, Inputs] = {}


def _key(project_dir: Path, stack: str, values: dict[str, Any], streams_dir: Path | None) -> _Key:
    return (
        project_dir.resolve(),
        stack,
        json.dumps(values, sort_keys=True),
        streams_dir.resolve() if streams_dir else None,
    )


@contextmanager
def preloaded(
    project_dir: Path,
    stack: str,
    values: dict[str, Any],
    streams_dir: Path | None,
    inputs: Inputs,
) -> Iterator[None]:
    """Within the block, :func:`load_inputs` with these arguments returns ``inputs``."""
    key = _key(project_dir, stack, values, streams_dir)
    _preloaded[key] = inputs
    try:
        yield
    finally:
        del _preloaded[key]


def load_inputs(
    project_dir: Path, stack: str, values: dict[str, Any], streams_dir: Path | None = None
) -> Inputs:
    """Everything the program needs, or :class:`InvalidInputError` with every problem found."""
    ready = _preloaded.get(_key(project_dir, stack, values, streams_dir))
    if ready is not None:
        return ready
    problems: list[Problem] = []
    config: StackConfig | None = None
    try:
        config = parse_stack_config(values, file=display_path(stack_file(project_dir, stack)))
    except InvalidInputError as error:
        problems.extend(error.problems)
    directory = streams_dir or project_dir / (config.streams_dir if config else "streams")
    files, found = load_streams(directory)
    problems.extend(found)
    if config is None:
        # What can be checked without the stack config still is: all problems at once.
        raise InvalidInputError([*problems, *check_names(files)])
    try:
        streams = resolve_all(files, config, stack, known_stacks(project_dir))
    except InvalidInputError as error:
        problems.extend(error.problems)
    if problems:
        raise InvalidInputError(problems)
    return config, streams
