"""``spark-streams``: start a stream, and list, render, plan and diff a stack offline.

This module parses the flags, calls the command's module (:mod:`spark_streams.commands`) and
prints what it returns. ``list`` is pure Python; ``render`` and ``plan`` import Pulumi only once
the input is valid. Exit codes: 0 ok, 1 invalid stream or stack config (or a command that could
not do its job), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import get_args

from spark_streams.commands import CommandError, UsageError, check_stack, project_dir
from spark_streams.commands.list import GROUPINGS
from spark_streams.problems import InvalidInputError
from spark_streams.settings import AppType

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

Handler = Callable[[Path, argparse.Namespace], str]


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if extra:
        # The subcommand's own usage, not the top level's, for a flag it does not know.
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        project = project_dir()
        if getattr(args, "stack", None) is not None:
            check_stack(project, args.stack)
        handler: Handler = args.handler
        output = handler(project, args)
    except UsageError as error:
        print(f"spark-streams: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidInputError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_INVALID
    except CommandError as error:
        print(f"spark-streams: {error}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(output)
    return EXIT_OK


def _new(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import new

    request = new.NewStream(
        args.name, args.type, args.main_class, args.file, args.topic, args.owner
    )
    return new.run(project, stack=args.stack, streams_dir=args.streams_dir, new=request)


def _list(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import list as listing

    return listing.run(
        project, stack=args.stack, streams_dir=args.streams_dir, json_out=args.json, by=args.by
    )


def _render(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import render

    return render.run(project, stack=args.stack, streams_dir=args.streams_dir, streams=args.stream)


def _plan(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import plan

    return plan.run(project, stack=args.stack, streams_dir=args.streams_dir, json_out=args.json)


def _diff(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import diff

    return diff.run(
        project, stack=args.stack, streams_dir=args.streams_dir, base=args.base, json_out=args.json
    )


def _mr_note(project: Path, args: argparse.Namespace) -> str:
    from spark_streams.commands import mr_note

    return mr_note.run(
        project,
        stack=args.stack,
        streams_dir=args.streams_dir,
        preview=args.preview,
        diff_file=args.diff,
        output=args.output,
        secrets_from=args.secrets_from,
        mask_env=args.mask_env,
        dry_run=args.dry_run,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spark-streams",
        description="Offline view of the spark-streams Pulumi program (no cloud access).",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="the versions of this tool, the SDK and the chart"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, help_text: str, handler: Handler, *, stack: bool = True
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(parser=sub, handler=handler)
        if stack:
            sub.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
        sub.add_argument(
            "--streams-dir",
            type=Path,
            default=None,
            help="directory of stream files (default: the stack's streamsDir, streams/)",
        )
        return sub

    new = command("new", "write a stream file to start from, valid as written", _new, stack=False)
    new.add_argument("name", help="the stream's name, e.g. orders-eu (a Kubernetes name)")
    new.add_argument(
        "--stack",
        help="the stack whose streamsDir gets the file (needed when stacks name different ones)",
    )
    new.add_argument("--type", choices=get_args(AppType), help="default: the stack's type")
    new.add_argument("--main-class", help="Scala/Java: the class the job starts with")
    new.add_argument(
        "--file", help="the job's file: local:///... in the image, s3a://... (Python and R)"
    )
    new.add_argument("--topic", help="a Kafka topic, passed to the job as --topic")
    new.add_argument("--owner", help="the team that runs it (a stack may require one)")
    listing = command("list", "the streams and their effective settings", _list)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument(
        "--by", choices=GROUPINGS, help="also sum the costs by this stream attribute"
    )
    render = command("render", "every Kubernetes object, as multi-document YAML", _render)
    render.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="NAME",
        help="only this stream's objects (repeatable)",
    )
    plan = command("plan", "every resource the program registers, run under Pulumi's mocks", _plan)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    diff = command("diff", "what changes, stream by stream, against a git ref (offline)", _diff)
    diff.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    note = command(
        "mr-note", "create or update this stack's preview note on the merge request", _mr_note
    )
    note.add_argument("--preview", type=Path, required=True, help="`pulumi preview --diff` output")
    note.add_argument(
        "--diff",
        type=Path,
        help="`spark-streams diff` output (JSON or markdown); default: the diff against "
        "$CI_MERGE_REQUEST_DIFF_BASE_SHA when set",
    )
    note.add_argument("--output", type=Path, help="where to write the full note (job artifact)")
    note.add_argument(
        "--secrets-from",
        type=Path,
        help="`pulumi config --show-secrets --json` output: its secret values are masked",
    )
    note.add_argument(
        "--mask-env", action="append", default=[], metavar="VAR", help="also mask this variable"
    )
    note.add_argument("--dry-run", action="store_true", help="print the note, post nothing")
    return parser


class _VersionAction(argparse.Action):
    """Like argparse's, but reads the stack files only when asked and does not wrap lines."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from spark_streams.commands import version

        print(version.run())
        parser.exit()


if __name__ == "__main__":
    sys.exit(main())
