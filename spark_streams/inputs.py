"""The program's inputs: the stack config and the effective streams, validated together.

The one way in, for the CLI and for ``__main__.py`` alike: a :class:`StackSource` and the
stream files become :class:`Inputs`, or :class:`InvalidInputError` with every problem found.
Each stream file is executed once per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spark_streams.config import StackConfig, parse_stack_config
from spark_streams.discovery import load_streams
from spark_streams.problems import InvalidInputError, Problem
from spark_streams.resolve import EffectiveStream, check_streams, resolve_all
from spark_streams.stackfile import StackSource, from_engine, known_stacks


@dataclass(frozen=True)
class Inputs:
    stack: str
    config: StackConfig
    streams: tuple[EffectiveStream, ...]
    # Streams whose file leaves them out of this stack (StackOverride(enabled=False)).
    disabled: tuple[str, ...] = ()


def load(project_dir: Path, source: StackSource, streams_dir: Path | None = None) -> Inputs:
    """Everything the program needs, or :class:`InvalidInputError` with every problem found."""
    problems: list[Problem] = []
    config: StackConfig | None = None
    try:
        config = parse_stack_config(source.values, file=source.file)
    except InvalidInputError as error:
        problems.extend(error.problems)
    directory = streams_dir or project_dir / (config.streams_dir if config else "streams")
    files, found = load_streams(directory)
    problems.extend(found)
    stacks = known_stacks(project_dir)
    if config is None:
        # What can be checked without the stack config still is: all problems at once.
        raise InvalidInputError([*problems, *check_streams(files, stacks)])
    try:
        streams = resolve_all(files, config, source.stack, stacks)
    except InvalidInputError as error:
        problems.extend(error.problems)
    if problems:
        raise InvalidInputError(problems)
    disabled = tuple(
        f.stream.name
        for f in files
        if (override := f.stream.stacks.get(source.stack)) and not override.enabled
    )
    return Inputs(source.stack, config, tuple(streams), disabled)


def for_engine(project_dir: Path) -> Inputs:
    """:func:`load` under ``pulumi up``: a user's mistake stops the program with the report of
    every problem, and no traceback."""
    import pulumi

    try:
        return load(project_dir, from_engine(project_dir))
    except InvalidInputError as error:
        raise pulumi.RunError(error.report()) from None
