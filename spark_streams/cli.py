"""``spark-streams``: start a stream, and list, render, plan and diff a stack offline.

``list`` is pure Python; ``render`` and ``plan`` import Pulumi only once the input is valid.
Exit codes: 0 ok, 1 invalid stream or stack config, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import yaml

from components import HELM_RELEASE
from spark_streams import capacity, inputs, stackfile
from spark_streams.problems import InvalidInputError, did_you_mean, display_path
from spark_streams.settings import AppType
from spark_streams.stackfile import known_stacks, stack_file

if TYPE_CHECKING:
    from spark_streams.diff import DiffResult
    from spark_streams.offline import Plan
    from spark_streams.resolve import EffectiveStream

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class CommandError(Exception):
    """The command could not do its job (e.g. GitLab refused the note): exit 1."""


# Environment variables whose values never appear in a note.
MASKED_ENV = (
    "GITLAB_TOKEN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = _parser().parse_known_args(argv)
    if extra:
        # The subcommand's own usage, not the top level's, for a flag it does not know.
        args.parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        project_dir = _project_dir()
        stack = getattr(args, "stack", None)
        if stack is not None and not stack_file(project_dir, stack).is_file():
            known = known_stacks(project_dir)
            raise UsageError(
                f"no stack '{stack}': {stack_file(project_dir, stack).name} not found "
                f"(known: {', '.join(known) or 'none'}).{did_you_mean(stack, known)}"
            )
        output: str = args.handler(project_dir, args)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spark-streams",
        description="Offline view of the spark-streams Pulumi program (no cloud access).",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="the versions of this tool, the SDK and the chart"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, *, stack: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(parser=sub)
        if stack:
            sub.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
        sub.add_argument(
            "--streams-dir",
            type=Path,
            default=None,
            help="directory of stream files (default: the stack's streamsDir, streams/)",
        )
        return sub

    new = command("new", "write a stream file to start from, valid as written", stack=False)
    new.add_argument("name", help="the stream's name, e.g. orders-eu (a Kubernetes name)")
    new.add_argument("--type", choices=get_args(AppType), help="default: the stack's type")
    new.add_argument("--main-class", help="Scala/Java: the class the job starts with")
    new.add_argument(
        "--file", help="the job's file: local:///... in the image, s3a://... (Python and R)"
    )
    new.add_argument("--topic", help="a Kafka topic, passed to the job as --topic")
    new.add_argument("--owner", help="the team that runs it (a stack may require one)")
    new.set_defaults(handler=_new)
    listing = command("list", "the streams and their effective settings")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument(
        "--by",
        choices=GROUPINGS,
        help="also sum the costs by this stream attribute (owner: once streams have one)",
    )
    listing.set_defaults(handler=_list)
    render = command("render", "every Kubernetes object, as multi-document YAML")
    render.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="NAME",
        help="only this stream's objects (repeatable)",
    )
    render.set_defaults(handler=_render)
    plan = command("plan", "every resource the program registers, run under Pulumi's mocks")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.set_defaults(handler=_plan)
    diff = command("diff", "what changes, stream by stream, against a git ref (offline)")
    diff.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    diff.add_argument("--json", action="store_true", help="machine-readable output")
    diff.set_defaults(handler=_diff)
    note = command("mr-note", "create or update this stack's preview note on the merge request")
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
    note.set_defaults(handler=_mr_note)
    return parser


def _project_dir() -> Path:
    for directory in (Path.cwd(), *Path.cwd().parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise UsageError("no Pulumi.yaml here or above; run from the spark-streams project")


def _inputs(project_dir: Path, args: argparse.Namespace) -> inputs.Inputs:
    return inputs.load(project_dir, stackfile.read(project_dir, args.stack), args.streams_dir)


def offline_plan(project_dir: Path, args: argparse.Namespace) -> Plan:
    loaded = _inputs(project_dir, args)
    from spark_streams import offline  # Pulumi loads only for a valid input

    return offline.plan(loaded)


def _list(project_dir: Path, args: argparse.Namespace) -> str:
    loaded = _inputs(project_dir, args)
    streams, pricing = loaded.streams, loaded.config.pricing
    costs = capacity.stream_costs(streams, pricing)
    total = capacity.total_cost(costs.values(), pricing.currency)
    groups = _cost_groups(streams, costs, args.by, pricing.currency) if args.by else None
    if args.json:
        payload: dict[str, Any] = {
            "stack": args.stack,
            "streams": [{**s.to_json(), "capacity": costs[s.identity].to_json()} for s in streams],
            "total": total.to_json(),
            "disabled": list(loaded.disabled),
        }
        if groups is not None:
            payload[f"by_{args.by}"] = [
                {args.by: g.key, "streams": list(g.streams), "capacity": g.cost.to_json()}
                for g in groups
            ]
        return json.dumps(payload, indent=2) + "\n"
    rows = [
        (
            "STREAM",
            "EXECUTORS",
            "CORES",
            "MEMORY",
            "RESTART",
            # what the stack asks for, not what runs now (only the cluster knows that)
            "DESIRED",
            "SINK",
            *_cost_header(pricing.currency),
        )
    ]
    for s in streams:
        rows.append(
            (
                s.name,
                str(s.executor.instances),
                str(s.executor.cores),
                s.executor.memory,
                s.restart_policy.type,
                "suspended" if s.suspend else "running",
                s.sink.uri,
                *_cost_cells(costs[s.identity]),
            )
        )
    rows += [(name, "-", "-", "-", "-", "disabled", "-", "-", "-", "-") for name in loaded.disabled]
    disabled = f", {len(loaded.disabled)} disabled" if loaded.disabled else ""
    return (
        _table(rows)
        + f"{len(streams)} streams in stack {args.stack}{disabled}\n"
        + _cost_summary(total, groups, args.by)
    )


# --- costs in `list` (issue #16; docs/cost.md) ----------------------------------------------

GROUPINGS = ("owner",)


def _cost_header(currency: str) -> tuple[str, str, str]:
    return ("CPU", "GiB", f"{currency}/MONTH")


def _cost_cells(cost: capacity.Cost) -> tuple[str, str, str]:
    return (f"{cost.cpu:g}", f"{cost.memory_gib:.1f}", f"{cost.monthly_cost:,.2f}")


def _cost_groups(
    streams: Sequence[EffectiveStream],
    costs: dict[str, capacity.Cost],
    attribute: str,
    currency: str,
) -> list[capacity.CostGroup]:
    if not any(hasattr(s, attribute) for s in streams):
        raise UsageError(
            f"--by {attribute}: streams have no {attribute} yet (see docs/cost.md); "
            "the costs can be grouped once they do"
        )
    return capacity.group_costs(streams, costs, attribute, currency)


def _cost_summary(
    total: capacity.Cost, groups: list[capacity.CostGroup] | None, attribute: str | None
) -> str:
    lines = ""
    if groups is not None and attribute is not None:
        rows = [(attribute.upper(), "STREAMS", *_cost_header(total.currency))]
        rows += [(g.key, str(len(g.streams)), *_cost_cells(g.cost)) for g in groups]
        lines = "\n" + _table(rows)
    return (
        f"{lines}Total requested: {total.cpu:g} CPU, {total.memory_gib:.1f} GiB, "
        f"{total.currency} {total.monthly_cost:,.2f} a month (requests at the stack's prices, "
        "not usage: see docs/cost.md)\n"
    )


def _new(project_dir: Path, args: argparse.Namespace) -> str:
    from pydantic import TypeAdapter, ValidationError

    from spark_streams import scaffold
    from spark_streams.discovery import load_streams
    from spark_streams.types import StreamName, TeamName

    try:
        TypeAdapter(StreamName).validate_python(args.name)
        if args.owner is not None:
            TypeAdapter(TeamName).validate_python(args.owner)
    except ValidationError as error:
        raise UsageError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None
    if args.type in ("Python", "R") and not args.file:
        raise UsageError(f"a {args.type} stream needs --file local:///path/in/the/image.py")
    directory = args.streams_dir or project_dir / "streams"
    taken = {
        name: item.label
        for item in load_streams(directory)[0]
        for name in (item.stream.name, *item.stream.renamed_from)
    }
    if args.name in taken:
        raise UsageError(f"stream '{args.name}' exists already, in {taken[args.name]}")
    # Each stack file read once: for the owner it may require, then to plan the new file.
    sources = {stack: stackfile.read(project_dir, stack) for stack in known_stacks(project_dir)}
    if not args.owner:
        requiring = [
            s for s, source in sources.items() if source.values.get("requireOwner") is True
        ]
        if requiring:
            raise UsageError(
                f"stack {', '.join(requiring)} requires every stream to name its owner: pass "
                "--owner <team>"
            )
    new = scaffold.NewStream(
        args.name, args.type, args.main_class, args.file, args.topic, args.owner
    )
    try:
        path = scaffold.write(directory, new)
    except FileExistsError:
        raise UsageError(
            f"{directory / scaffold.file_name(args.name)} exists already; pick another name"
        ) from None
    # Planned as written in every stack, or not left behind.
    label = display_path(path)
    for source in sources.values():
        try:
            inputs.load(project_dir, source, args.streams_dir)
        except InvalidInputError as error:
            mine = [p for p in error.problems if p.file == label]
            if mine:
                path.unlink()
                raise InvalidInputError(mine) from None
    first = next(iter(sources))
    return (
        f"wrote {label}\n"
        "next:\n"
        "  1. say what it does in its first line, and set what differs from the stack\n"
        f"  2. spark-streams list --stack {first}    its effective settings\n"
        f"  3. spark-streams plan --stack {first}    every resource it adds\n"
        "  4. commit it on a branch: the merge request shows each stack's preview\n"
    )


class _VersionAction(argparse.Action):
    """Like argparse's, but reads the stack files only when asked and does not wrap lines."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:
        super().__init__(option_strings, dest, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version())
        parser.exit()


def _version() -> str:
    from importlib.metadata import version

    return (
        f"spark-streams {version('spark-streams')}, pulumi SDK {version('pulumi')}, "
        f"spark-operator chart {_chart_versions()}"
    )


def _chart_versions() -> str:
    """The operator chart each stack pins, read from the stack files here (if any)."""
    try:
        project_dir = _project_dir()
    except UsageError:
        return "unknown (no Pulumi.yaml here)"
    pinned: dict[str, list[str]] = {}
    for stack in known_stacks(project_dir):
        try:
            operator = stackfile.read(project_dir, stack).values.get("operator")
        except InvalidInputError:
            continue
        if isinstance(operator, dict):
            pinned.setdefault(str(operator.get("chartVersion")), []).append(stack)
    return "; ".join(f"{v} ({', '.join(s)})" for v, s in sorted(pinned.items())) or "unknown"


def _render(project_dir: Path, args: argparse.Namespace) -> str:
    plan = offline_plan(project_dir, args)
    chosen = set(args.stream)
    unknown = chosen - {r.stream for r in plan.resources}
    if unknown:
        known = sorted({r.stream for r in plan.resources if r.stream})
        raise UsageError(
            f"no stream {', '.join(sorted(unknown))} in stack {args.stack} (known: "
            f"{', '.join(known)}).{did_you_mean(sorted(unknown)[0], known)}"
        )
    documents = sorted(
        (
            r.inputs
            for r in plan.resources
            if r.type.startswith("kubernetes:")
            and r.type != HELM_RELEASE
            and (not chosen or r.stream in chosen)
        ),
        key=_apply_order,
    )
    header = (
        f"# Offline render of stack {args.stack} (Pulumi mocks, no cloud access).\n"
        "# The spark-operator Helm release is installed by Helm and not expanded here;\n"
        "# <unknown: ...> marks values only AWS knows, [secret] a secret value.\n"
    )
    return header + yaml.safe_dump_all(documents, sort_keys=True, explicit_start=True)


# kubectl-apply order: what others live in or refer to comes first.
_KIND_ORDER = ["Namespace", "Role", "RoleBinding", "Secret", "ServiceAccount"]


def _apply_order(document: dict[str, Any]) -> tuple[int, str]:
    kind = document.get("kind", "")
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    return rank, f"{kind}/{document.get('metadata', {}).get('name', '')}"


def _plan(project_dir: Path, args: argparse.Namespace) -> str:
    plan = offline_plan(project_dir, args)
    if args.json:
        return json.dumps(plan.to_json()) + "\n"
    rows = [("TYPE", "NAME", "STREAM", "PROTECT")]
    for r in plan.resources:
        rows.append((r.type, r.name, r.stream or "-", "yes" if r.protect else ""))
    streams = {r.stream for r in plan.resources if r.stream}
    return (
        f"Offline plan of stack {args.stack}: the program run under Pulumi's mocks, no cloud "
        "access.\n<unknown: ...> values are known only after `pulumi up`.\n\n"
        + _table(rows)
        + f"\n{len(plan.resources)} resources, {len(streams)} streams.\n"
    )


def _diff(project_dir: Path, args: argparse.Namespace) -> str:
    from spark_streams import diff

    try:
        result = diff.diff(project_dir, args.stack, args.base, args.streams_dir)
    except diff.GitRefError as error:
        raise UsageError(f"cannot read --base {args.base}: {error}") from None
    if args.json:
        return json.dumps(result.to_json(), indent=2) + "\n"
    return diff.markdown(result)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def _mr_note(project_dir: Path, args: argparse.Namespace) -> str:
    import os

    from spark_streams import gitlab_notes, mrnote

    source = stackfile.read(project_dir, args.stack)
    secrets = [os.environ[name] for name in (*MASKED_ENV, *args.mask_env) if os.environ.get(name)]
    secrets += source.sensitive
    if args.secrets_from:
        try:
            from_config = mrnote.secret_values_from_config(_read(args.secrets_from))
        except ValueError as error:
            raise CommandError(f"--secrets-from {args.secrets_from}: {error}") from None
        if not from_config and source.secret_keys:
            print(
                f"spark-streams: warning: --secrets-from {args.secrets_from} holds no secret "
                f"value, but the stack has secrets ({', '.join(sorted(source.secret_keys))}): "
                "they cannot be masked (was `pulumi config --show-secrets` able to decrypt?)",
                file=sys.stderr,
            )
        secrets += from_config
    diff_failure: str | None = None
    diff: DiffResult | str | None
    if args.diff:
        text = _read(args.diff)
        try:
            diff = mrnote.read_diff(text) or text
        except ValueError as error:
            raise CommandError(f"--diff {args.diff}: {error}") from None
    else:
        diff, diff_failure = _diff_of_merge_request(project_dir, args)
    # The full note goes where --output says; else, unless this is a dry run, to a git-ignored
    # directory of the project.
    output = args.output or (
        None if args.dry_run else project_dir / NOTES_DIR / f"mr-note-{args.stack}.md"
    )
    artifact = os.environ.get("CI_JOB_URL")
    note, full = mrnote.build(
        args.stack,
        _read(args.preview),
        diff,
        secrets,
        f"{artifact}/artifacts/file/{args.output}" if artifact and args.output else None,
    )
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(full)
    if args.dry_run:
        if diff_failure:
            print(f"spark-streams: {diff_failure}", file=sys.stderr)
            sys.stdout.write(note)
            raise CommandError("the stream diff could not be computed (see the note)")
        return note
    try:
        request = gitlab_notes.MergeRequest.from_env(os.environ)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        action, note_id = gitlab_notes.upsert_note(request, mrnote.marker(args.stack), note)
    except gitlab_notes.NoteError as error:
        raise CommandError(f"{error}; the full note is in {output}") from None
    posted = f"{action} note {note_id} on merge request !{request.iid} ({len(note)} characters)"
    if diff_failure:
        # Posted first: the preview deserves its note. Then the job fails.
        raise CommandError(f"{posted}; but {diff_failure}")
    return posted + "\n"


# Where mr-note keeps the full note by default (git-ignored).
NOTES_DIR = ".spark-streams"


def _diff_of_merge_request(
    project_dir: Path, args: argparse.Namespace
) -> tuple[DiffResult | str | None, str | None]:
    """Without ``--diff``, in a merge request pipeline: ``(the diff against the MR's base,
    None)``, or ``(a one-line note, why)`` when it cannot be computed."""
    import os

    from spark_streams import diff

    base = os.environ.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if not base:
        return None, None
    try:
        result = diff.diff(project_dir, args.stack, base, args.streams_dir)
    except (diff.GitRefError, InvalidInputError) as error:
        reason = (
            "; ".join(str(p) for p in error.problems)
            if isinstance(error, InvalidInputError)
            else str(error)
        )
        why = f"no stream diff against {base[:12]}: {' '.join(reason.split())}"
        return f"_{why}_\n", why
    return result, None


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
