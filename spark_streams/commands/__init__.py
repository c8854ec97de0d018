"""One module per ``spark-streams`` command: what the command does. :mod:`spark_streams.cli`
parses the flags, calls ``run`` and prints what it returns.

Exit codes: 0 ok, 1 invalid stream or stack config (:class:`InvalidInputError`) or a command
that could not do its job (:class:`CommandError`), 2 a usage error (:class:`UsageError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spark_streams import inputs, stackfile
from spark_streams.problems import did_you_mean
from spark_streams.stackfile import known_stacks, stack_file


class UsageError(Exception):
    """Bad flags, an unknown stack or stream: exit 2."""


class CommandError(Exception):
    """The command could not do its job (e.g. GitLab refused the note): exit 1."""


def project_dir() -> Path:
    """The project the user runs in: the nearest directory with a ``Pulumi.yaml``."""
    for directory in (Path.cwd(), *Path.cwd().parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise UsageError("no Pulumi.yaml here or above; run from the spark-streams project")


def check_stack(project: Path, stack: str) -> None:
    if not stack_file(project, stack).is_file():
        known = known_stacks(project)
        raise UsageError(
            f"no stack '{stack}': {stack_file(project, stack).name} not found "
            f"(known: {', '.join(known) or 'none'}).{did_you_mean(stack, known)}"
        )


def load(project: Path, stack: str, streams_dir: Path | None) -> inputs.Inputs:
    """The stack's inputs, with the verdict: what every command that reads inputs starts with."""
    return inputs.load(project, stackfile.read(project, stack), streams_dir)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )
