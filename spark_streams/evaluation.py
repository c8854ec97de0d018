"""One tree evaluated for a stack: its effective streams and its offline plan, as one typed,
versioned model, the same in the process that makes it and in the one that reads it.

The stream-level diff evaluates the working tree in its own process and the base in another,
with the base's own code: ``python -m spark_streams.evaluation --stack S`` there prints an
:class:`Evaluation` as JSON, and :meth:`Evaluation.model_validate_json` reads it back here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from spark_streams.offline import PlannedResource
from spark_streams.pricing import PricingConfig
from spark_streams.problems import InvalidInputError
from spark_streams.resolve import EffectiveStream, S3Location

# Bumped when what an Evaluation holds changes meaning; 0 is a base from before this model,
# read through its `list --json` and `plan --json` (:mod:`spark_streams.diff.base`).
EVALUATION_VERSION = 1


class StreamRecord(BaseModel):
    """One effective stream as a diff reads either side: the fields the comparison decides by,
    typed, and every other effective setting kept as the tree wrote it (a base from another
    version of this code may have settings this one does not know)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    identity: str
    file: str
    suspend: bool
    renamed_from: tuple[str, ...]
    checkpoint_generation: int
    sink: S3Location
    checkpoint: S3Location

    def settings(self) -> dict[str, Any]:
        """Every effective setting, as JSON values."""
        dumped: dict[str, Any] = self.model_dump(mode="json")
        return dumped

    @classmethod
    def of(cls, stream: EffectiveStream) -> StreamRecord:
        return cls.model_validate(stream.to_json())


class Evaluation(BaseModel):
    """A tree's streams and resources for one stack, or why it cannot be planned."""

    model_config = ConfigDict(frozen=True)

    version: int = EVALUATION_VERSION
    stack: str
    streams: tuple[StreamRecord, ...] = ()
    resources: tuple[PlannedResource, ...] = ()
    # The stack's prices, where this code read the stack (the working tree prices both sides).
    pricing: PricingConfig | None = None
    # Set when the tree cannot be planned: the report of every problem.
    error: str | None = None


def evaluate(project_dir: Path, stack: str, streams_dir: Path | None) -> Evaluation:
    """The tree at ``project_dir``: one load of its inputs, one offline plan.

    :class:`InvalidInputError` when it cannot be planned; no streams and no resources when it
    has no such stack (everything on the other side is then added or removed).
    """
    from spark_streams import inputs, offline, stackfile

    if not stackfile.stack_file(project_dir, stack).is_file():
        return Evaluation(stack=stack)
    loaded = inputs.load(project_dir, stackfile.read(project_dir, stack), streams_dir)
    return Evaluation(
        stack=stack,
        streams=tuple(StreamRecord.of(s) for s in loaded.streams),
        resources=tuple(offline.plan(loaded).resources),
        pricing=loaded.config.pricing,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The base side of a diff: this tree's :class:`Evaluation` on stdout, as JSON."""
    parser = argparse.ArgumentParser(prog="python -m spark_streams.evaluation")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--streams-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        found = evaluate(Path.cwd(), args.stack, args.streams_dir)
    except InvalidInputError as error:
        found = Evaluation(stack=args.stack, error=error.report())
    sys.stdout.write(found.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
