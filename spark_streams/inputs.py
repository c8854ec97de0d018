"""The program's inputs: the stack config and the effective streams, with the one verdict.

The one way in, for every command and for ``__main__.py`` alike: a :class:`StackSource` and
the stream files become :class:`Inputs`, or :class:`InvalidInputError` with every problem found
(:mod:`spark_streams.checks`). Each stream file is executed once per call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spark_streams import checks
from spark_streams.config import StackConfig, parse_stack_config
from spark_streams.discovery import StreamFile, load_streams
from spark_streams.problems import InvalidInputError, Problem
from spark_streams.resolve import EffectiveStream, enabled_in, resolve_all
from spark_streams.stackfile import StackSource, from_engine, known_stacks


@dataclass(frozen=True)
class Inputs:
    stack: str
    config: StackConfig
    streams: tuple[EffectiveStream, ...]
    # Streams whose file leaves them out of this stack (StackOverride(enabled=False)).
    disabled: tuple[str, ...] = ()


def streams_directory(project_dir: Path, config: StackConfig | None) -> Path:
    """Where a stack's stream files are: its ``streamsDir``, relative to the project."""
    return project_dir / (config.streams_dir if config else "streams")


def load(project_dir: Path, source: StackSource, streams_dir: Path | None = None) -> Inputs:
    """Everything the program needs, or :class:`InvalidInputError` with every problem found."""
    problems: list[Problem] = []
    config: StackConfig | None = None
    try:
        config = parse_stack_config(source.values, file=source.file)
    except InvalidInputError as error:
        problems.extend(error.problems)
    files, found = load_streams(streams_dir or streams_directory(project_dir, config))
    problems.extend(found)
    stacks = known_stacks(project_dir)
    if config is None:
        # What can be checked without the stack config still is: all problems at once.
        raise InvalidInputError([*problems, *checks.without_config(files, stacks)])
    try:
        streams = resolve_checked(files, config, source.stack, stacks, source.file)
    except InvalidInputError as error:
        problems.extend(error.problems)
    if problems:
        raise InvalidInputError(problems)
    return Inputs(source.stack, config, tuple(streams), _disabled(files, source.stack))


def resolve_checked(
    files: Sequence[StreamFile],
    config: StackConfig,
    stack: str,
    known_stacks: Iterable[str],
    stack_file: str | None = None,
) -> list[EffectiveStream]:
    """The effective streams of ``stack`` if the verdict finds nothing wrong, else
    :class:`InvalidInputError` with every problem."""
    streams = resolve_all(files, config, stack)
    file = stack_file or f"Pulumi.{stack}.yaml"
    problems = checks.verdict(files, streams, config, stack, file, known_stacks)
    if problems:
        raise InvalidInputError(problems)
    return streams


def _disabled(files: Sequence[StreamFile], stack: str) -> tuple[str, ...]:
    return tuple(f.stream.name for f in files if not enabled_in(f, stack))


def for_engine(project_dir: Path) -> Inputs:
    """:func:`load` under ``pulumi up``: a user's mistake stops the program with the report of
    every problem, and no traceback. A secret the stack declares without a value stops it too:
    offline commands never need secret values, a deploy does."""
    import pulumi

    source = from_engine(project_dir)
    try:
        loaded = load(project_dir, source)
        unset = [
            Problem(
                source.file,
                None,
                f"secrets.{key}",
                "has no value in this stack. Fix: pulumi config set --secret --path "
                f"'secrets.{key}' <value> --stack {source.stack}",
            )
            for key in loaded.config.unset_secrets
            if any(key in s.secrets.values() for s in loaded.streams)
        ]
        if unset:
            raise InvalidInputError(unset)
    except InvalidInputError as error:
        raise pulumi.RunError(error.report()) from None
    return loaded
