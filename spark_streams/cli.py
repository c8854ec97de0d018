"""``spark-streams``: list, render and plan a stack offline.

``list`` is pure Python; ``render`` and ``plan`` import Pulumi only once the input is valid.
Exit codes: 0 ok, 1 invalid stream or stack config, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from components import HELM_RELEASE
from spark_streams import capacity, inputs, stackfile
from spark_streams.problems import InvalidInputError
from spark_streams.stackfile import known_stacks, stack_file

if TYPE_CHECKING:
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
    args = _parser().parse_args(argv)
    try:
        project_dir = _project_dir()
        if not stack_file(project_dir, args.stack).is_file():
            raise UsageError(
                f"no stack '{args.stack}': {stack_file(project_dir, args.stack).name} not found "
                f"(known: {', '.join(known_stacks(project_dir)) or 'none'})"
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
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
        sub.add_argument(
            "--streams-dir",
            type=Path,
            default=None,
            help="directory of stream files (default: the stack's streamsDir, streams/)",
        )
        return sub

    listing = command("list", "the streams and their effective settings")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument(
        "--by",
        choices=GROUPINGS,
        help="also sum the costs by this stream attribute (owner: once streams have one)",
    )
    listing.set_defaults(handler=_list)
    render = command("render", "every Kubernetes object, as multi-document YAML")
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
            "streams": [
                {**s.model_dump(mode="json"), "capacity": costs[s.identity].to_json()}
                for s in streams
            ],
            "total": total.to_json(),
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
            "STATE",
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
    return (
        _table(rows)
        + f"{len(streams)} streams in stack {args.stack}\n"
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


def _render(project_dir: Path, args: argparse.Namespace) -> str:
    plan = offline_plan(project_dir, args)
    documents = sorted(
        (
            r.inputs
            for r in plan.resources
            if r.type.startswith("kubernetes:") and r.type != HELM_RELEASE
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

    secrets = [os.environ[name] for name in (*MASKED_ENV, *args.mask_env) if os.environ.get(name)]
    secrets += stackfile.read(project_dir, args.stack).sensitive
    if args.secrets_from:
        secrets += mrnote.secret_values_from_config(_read(args.secrets_from))
    output = args.output or Path(f"mr-note-{args.stack}.md")
    artifact = os.environ.get("CI_JOB_URL")
    try:
        note, full = mrnote.build(
            args.stack,
            _read(args.preview),
            _read(args.diff) if args.diff else _diff_of_merge_request(project_dir, args),
            secrets,
            f"{artifact}/artifacts/file/{output}" if artifact else None,
        )
    except ValueError as error:
        raise UsageError(f"--diff {args.diff}: {error}") from None
    output.write_text(full)
    if args.dry_run:
        return note
    try:
        request = gitlab_notes.MergeRequest.from_env(os.environ)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        action, note_id = gitlab_notes.upsert_note(request, mrnote.marker(args.stack), note)
    except gitlab_notes.NoteError as error:
        raise CommandError(f"{error}; the full note is in {output}") from None
    return f"{action} note {note_id} on merge request !{request.iid} ({len(note)} characters)\n"


def _diff_of_merge_request(project_dir: Path, args: argparse.Namespace) -> str | None:
    """Without ``--diff``, in a merge request pipeline: the diff against the MR's base."""
    import os

    from spark_streams import diff

    base = os.environ.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if not base:
        return None
    try:
        return json.dumps(diff.diff(project_dir, args.stack, base, args.streams_dir).to_json())
    except (diff.GitRefError, InvalidInputError) as error:
        # The preview still deserves its note; say why the stream diff is missing.
        reason = error.report() if isinstance(error, InvalidInputError) else str(error)
        return f"_No stream diff against `{base}`:_\n\n```\n{reason}\n```\n"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


if __name__ == "__main__":
    sys.exit(main())
