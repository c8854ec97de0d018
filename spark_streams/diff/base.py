"""The base side of a diff: the project at a git ref, evaluated by its *own* code in a process
of its own (so a change to the program itself is diffed like a change to a stream). Where the
base's program code is byte for byte the code this process runs (a change to streams or stack
files only, most merge requests), it is evaluated here instead: the same answer, without an
interpreter's start and a second import of the SDKs.

A base from this change on answers with :mod:`spark_streams.evaluation`'s typed model; an
older one, which has no such module, is asked through the ``list --json`` and ``plan --json``
every base has had since the first issue. Which one is decided by the files the base holds,
never by what its process prints.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ValidationError

import spark_streams
from spark_streams.evaluation import Evaluation, StreamRecord, evaluate
from spark_streams.offline import PlannedResource
from spark_streams.problems import InvalidInputError

# A base's reason for not being planned, kept to one line of a note.
REASON_MAX = 600
# What the program imports from a tree: the code a base is evaluated with.
PROGRAM_CODE = ("__main__.py", "components", "spark_streams")


class GitRefError(Exception):
    """The base ref cannot be read (a usage error)."""


def export_ref(project_dir: Path, ref: str, target: Path) -> str:
    """Write the project as it is at ``ref`` into ``target``; returns the commit id."""

    def git(*args: str, cwd: Path = project_dir, env: Mapping[str, str] | None = None) -> bytes:
        result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=False)
        if result.returncode != 0:
            raise GitRefError(result.stderr.decode().strip() or f"git {' '.join(args)} failed")
        return result.stdout

    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    top, prefix = git("rev-parse", "--show-toplevel", "--show-prefix").decode().split("\n")[:2]
    # git writes the files, with its own checks on paths and links, the same on every Python
    # (tarfile's extraction filters arrived in 3.11.4): the project's tree at the ref read into
    # a throwaway index, checked out under target. Run from the top: the index is the project's.
    with tempfile.TemporaryDirectory(prefix="spark-streams-index-") as index_dir:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(index_dir) / "index")}
        git("read-tree", f"{commit}:{prefix}" if prefix else commit, env=env)
        git("checkout-index", "--all", f"--prefix={target}{os.sep}", cwd=Path(top), env=env)
    return commit


class _LegacyList(BaseModel):
    """What an older base's ``list --json`` says that the diff reads."""

    streams: list[StreamRecord]


class _LegacyPlan(BaseModel):
    """What an older base's ``plan --json`` says that the diff reads."""

    resources: list[PlannedResource]


class BaseRun:
    """The base tree's evaluation, running in its own process(es) while this one works."""

    def __init__(self, tree: Path, stack: str, streams_dir: Path | None) -> None:
        self.tree, self.stack, self.streams_dir = tree, stack, streams_dir
        self.has_stack = (tree / f"Pulumi.{stack}.yaml").is_file()
        self.legacy = not (tree / "spark_streams" / "evaluation.py").is_file()
        self.here = self.has_stack and runs_this_code(tree)
        python = [sys.executable, "-m"]
        flags = ["--stack", stack, *(["--streams-dir", str(streams_dir)] if streams_dir else [])]
        commands: list[list[str]] = []
        if not self.has_stack or self.here:
            pass  # nothing to run: every stream of the working tree is added, or it runs here
        elif self.legacy:
            commands = [
                [*python, "spark_streams.cli", command, "--json", *flags]
                for command in ("list", "plan")
            ]
        else:
            commands = [[*python, "spark_streams.evaluation", *flags]]
        self.processes = [
            subprocess.Popen(
                command,
                cwd=tree,
                env={**os.environ, "PYTHONPATH": str(tree)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in commands
        ]

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.communicate()

    def result(self) -> Evaluation:
        """The base side; its ``error`` says why it could not be planned."""
        outputs = [process.communicate() for process in self.processes]
        if not self.has_stack:
            return Evaluation(stack=self.stack)
        if self.here:
            return self._evaluated_here()
        failed = next(
            (err for (_, err), p in zip(outputs, self.processes, strict=True) if p.returncode),
            None,
        )
        if failed is not None:
            return Evaluation(stack=self.stack, error=_one_line(failed))
        try:
            if not self.legacy:
                found = Evaluation.model_validate_json(outputs[0][0])
                error = found.error and _one_line(found.error)
                return found.model_copy(update={"error": error})
            listed = _LegacyList.model_validate_json(outputs[0][0])
            planned = _LegacyPlan.model_validate_json(outputs[1][0])
        except ValidationError as error:
            stderr = " ".join(err for _, err in outputs)
            return Evaluation(stack=self.stack, error=_one_line(stderr or str(error)))
        return Evaluation(
            version=0,
            stack=self.stack,
            streams=tuple(listed.streams),
            resources=tuple(planned.resources),
        )

    def _evaluated_here(self) -> Evaluation:
        # From the tree, as `python -m spark_streams.evaluation` there: paths in its answer
        # (stream files, problems) and a relative streams directory are the tree's.
        with contextlib.chdir(self.tree):
            try:
                return evaluate(Path.cwd(), self.stack, self.streams_dir)
            except InvalidInputError as error:
                return Evaluation(stack=self.stack, error=_one_line(error.report()))


def runs_this_code(tree: Path) -> bool:
    """Whether ``tree``'s program code is exactly the code this process imported."""
    own = Path(spark_streams.__file__).resolve().parent.parent
    return all(_same(tree / name, own / name) for name in PROGRAM_CODE)


def _same(theirs: Path, ours: Path) -> bool:
    if theirs.is_file() or ours.is_file():
        return theirs.is_file() and ours.is_file() and filecmp.cmp(theirs, ours, shallow=False)
    if not (theirs.is_dir() and ours.is_dir()):
        return False
    found = {p.relative_to(theirs) for p in theirs.rglob("*.py")}
    return found == {p.relative_to(ours) for p in ours.rglob("*.py")} and all(
        filecmp.cmp(theirs / p, ours / p, shallow=False) for p in found
    )


def _one_line(text: str) -> str:
    """A failure as one line of a note; its end where it is long (a traceback ends with the
    error, a report with its problems)."""
    line = " ".join(text.split()) or "it failed with no message"
    return line if len(line) <= REASON_MAX else f"...{line[-(REASON_MAX - 3) :]}"
