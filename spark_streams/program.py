"""Inputs of the Pulumi program: the stack config and the effective streams, validated together.

The Pulumi program and the offline planner both call :func:`load_inputs`; it memoises per
process so that ``spark-streams plan`` validates once, before the program runs.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from spark_streams.config import (
    StackConfig,
    known_stacks,
    parse_stack_config,
    stack_file,
)
from spark_streams.discovery import display_path, load_streams
from spark_streams.problems import InvalidInputError, Problem
from spark_streams.resolve import EffectiveStream, resolve_all

Inputs = tuple[StackConfig, list[EffectiveStream]]


def load_inputs(
    project_dir: Path, stack: str, values: dict[str, Any], streams_dir: Path | None = None
) -> Inputs:
    """Everything the program needs, or :class:`InvalidInputError` with every problem found."""
    return _load(
        project_dir.resolve(),
        stack,
        json.dumps(values, sort_keys=True),
        streams_dir.resolve() if streams_dir else None,
    )


@lru_cache(maxsize=8)
def _load(project_dir: Path, stack: str, values_json: str, streams_dir: Path | None) -> Inputs:
    problems: list[Problem] = []
    config: StackConfig | None = None
    try:
        config = parse_stack_config(
            json.loads(values_json), file=display_path(stack_file(project_dir, stack))
        )
    except InvalidInputError as error:
        problems.extend(error.problems)
    directory = streams_dir or project_dir / (config.streams_dir if config else "streams")
    files, found = load_streams(directory)
    problems.extend(found)
    if config is None:
        raise InvalidInputError(problems)
    try:
        streams = resolve_all(files, config, stack, known_stacks(project_dir))
    except InvalidInputError as error:
        problems.extend(error.problems)
    if problems:
        raise InvalidInputError(problems)
    return config, streams
