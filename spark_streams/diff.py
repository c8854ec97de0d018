"""Stream-level semantic diff between the program at a git ref and the working tree.

Each side is the effective streams and the offline plan of one tree. The working tree is
evaluated in this process; the base in one other process running the base's *own* code from a
temporary export of the ref (so a change to the program itself is diffed like a change to a
stream), at the same time. A base that cannot be planned still gives a result: the working
tree's streams, marked as not comparable, and why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components import HELM_RELEASE, IAM_ROLE, IAM_ROLE_POLICY, SERVICE_ACCOUNT, SPARK_APPLICATION
from spark_streams.capacity import Cost, stream_cost, total_cost
from spark_streams.pricing import PricingConfig, WarnAbove, parse_warn_above
from spark_streams.problems import InvalidInputError, Problem
from spark_streams.resolve import EffectiveStream

# Effective fields that say where a stream is, not what it is: what they change shows in the
# stream's resources instead. And `capacity`, no field at all: `list --json` (how an older base
# is asked) adds it, and the diff prices both sides itself.
_NOT_FIELDS = {"file", "stack", "identity", "aws_region", "capacity"}
# A base's reason for not being planned, kept to one line of a note.
_REASON_MAX = 600


class GitRefError(Exception):
    """The base ref cannot be read (a usage error)."""


# --- the two sides --------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One evaluated tree: effective streams by identity and planned resources by URN.

    Plain JSON values, not models: the base side comes from another version of this code.
    """

    streams: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]
    # The stack's prices, known for the side this process evaluated.
    pricing: PricingConfig | None = None

    @classmethod
    def empty(cls) -> Side:
        return cls({}, {})

    @classmethod
    def from_json(cls, streams: Sequence[Mapping[str, Any]], resources: Sequence[Any]) -> Side:
        return cls({s["identity"]: dict(s) for s in streams}, {r["urn"]: r for r in resources})


def evaluate_here(project_dir: Path, stack: str, streams_dir: Path | None) -> Side:
    """The tree at ``project_dir`` with the code of this process: one load, one plan.

    :class:`InvalidInputError` when it cannot be planned; an empty side when it has no such
    stack (everything in the other side is then added or removed).
    """
    from spark_streams import inputs, offline, stackfile

    if not stackfile.stack_file(project_dir, stack).is_file():
        return Side.empty()
    loaded = inputs.load(project_dir, stackfile.read(project_dir, stack), streams_dir)
    planned = offline.plan(loaded)
    # Through JSON, like the base side, so that both compare alike (tuples become lists).
    document = json.loads(
        json.dumps(
            {
                "streams": [s.to_json() for s in loaded.streams],
                "resources": planned.to_json()["resources"],
            }
        )
    )
    side = Side.from_json(document["streams"], document["resources"])
    return Side(side.streams, side.resources, loaded.config.pricing)


# Run in the base tree by its own interpreter path. Code from this change on has
# `evaluate_here` (one load of the stream files); older code is asked through its CLI.
_BASE_PROGRAM = """
import contextlib, io, json, sys
from pathlib import Path

stack, streams_dir = sys.argv[1], (Path(sys.argv[2]) if len(sys.argv) > 2 else None)
try:
    from spark_streams.diff import evaluate_here
except ImportError:
    evaluate_here = None
if evaluate_here is not None:
    from spark_streams.problems import InvalidInputError
    try:
        side = evaluate_here(Path.cwd(), stack, streams_dir)
    except InvalidInputError as error:
        print(json.dumps({"error": error.report()}))
    else:
        print(json.dumps({"streams": list(side.streams.values()),
                          "resources": list(side.resources.values())}))
    sys.exit(0)
from spark_streams import cli
extra = ["--streams-dir", sys.argv[2]] if len(sys.argv) > 2 else []
found = {}
for command, key in (("list", "streams"), ("plan", "resources")):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([command, "--json", "--stack", stack, *extra])
    if code == 2 and "no stack" in err.getvalue():
        found = {"streams": [], "resources": []}
        break
    if code != 0:
        found = {"error": err.getvalue().strip() or f"{command} failed"}
        break
    found[key] = json.loads(out.getvalue())[key]
print(json.dumps(found))
"""


class _BaseRun:
    """The base tree's evaluation, running in its own process while this one works."""

    def __init__(self, tree: Path, stack: str, streams_dir: Path | None) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _BASE_PROGRAM,
                stack,
                *([str(streams_dir)] if streams_dir else []),
            ],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def result(self) -> Side | str:
        """The base side, or why it could not be planned."""
        out, err = self.process.communicate()
        try:
            found = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        except json.JSONDecodeError:
            found = None
        if not isinstance(found, dict):
            return err.strip().splitlines()[-1] if err.strip() else "it failed with no message"
        if "error" in found:
            return str(found["error"])
        return Side.from_json(found["streams"], found["resources"])


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


def diff(project_dir: Path, stack: str, base: str, streams_dir: Path | None) -> DiffResult:
    """The working tree against ``base``; :class:`InvalidInputError` if the working tree is
    invalid, :class:`GitRefError` if ``base`` cannot be read."""
    with tempfile.TemporaryDirectory(prefix="spark-streams-base-") as tmp:
        commit = export_ref(project_dir, base, Path(tmp))
        base_run = _BaseRun(Path(tmp), stack, streams_dir)
        try:
            after = evaluate_here(project_dir, stack, streams_dir)
        finally:
            before = base_run.result()
    if isinstance(before, str):
        return not_comparable(after, stack=stack, base=base, commit=commit, reason=before)
    # The working tree's prices for both sides: what a change costs is then what it changes in
    # requests, not a change of prices. The defaults when the working tree has no such stack.
    pricing = after.pricing or PricingConfig()
    return compare(before, after, stack=stack, base=base, commit=commit, pricing=pricing)


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Consequence:
    kind: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class CapacityChange:
    """A stream's requests and their cost before and after; ``None`` where it is not (or where
    the base's cost is unknown)."""

    old: Cost | None
    new: Cost | None

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old.to_json() if self.old else None,
            "new": self.new.to_json() if self.new else None,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CapacityChange:
        old, new = value["old"], value["new"]
        return cls(Cost.from_json(old) if old else None, Cost.from_json(new) if new else None)


@dataclass(frozen=True)
class StreamChange:
    """A stream added, removed or changed (only a changed one has fields and a former name)."""

    name: str
    identity: str
    consequences: tuple[Consequence, ...]
    fields: tuple[FieldChange, ...] = ()
    renamed_from: str | None = None
    capacity: CapacityChange | None = None  # None: not priced (e.g. the base was not planned)

    @property
    def kinds(self) -> set[str]:
        return {c.kind for c in self.consequences}


@dataclass(frozen=True)
class UnchangedCost:
    """A stream the change leaves alone, for the picture of the whole stack."""

    name: str
    identity: str
    cost: Cost


@dataclass(frozen=True)
class CostChange:
    """The stack's monthly cost before and after; ``old_monthly`` is ``None`` when the base's
    streams cannot be read by this code (a base from an older spark-streams), and
    ``unknown`` then says why."""

    old_monthly: float | None
    new_monthly: float | None
    currency: str
    warn_above: WarnAbove | None = None
    unchanged: tuple[UnchangedCost, ...] = ()
    unknown: str | None = None

    @property
    def delta_monthly(self) -> float | None:
        if self.old_monthly is None or self.new_monthly is None:
            return None
        return self.new_monthly - self.old_monthly

    @property
    def warning(self) -> bool:
        """The rise crosses the stack's ``pricing.warnAbove``."""
        if self.warn_above is None or self.old_monthly is None or self.new_monthly is None:
            return False
        return self.warn_above.exceeded(self.old_monthly, self.new_monthly)

    def to_json(self) -> dict[str, Any]:
        return {
            "old_monthly": self.old_monthly,
            "new_monthly": self.new_monthly,
            "delta_monthly": self.delta_monthly,
            "currency": self.currency,
            "warn_above": None if self.warn_above is None else str(self.warn_above),
            "unknown": self.unknown,
            "unchanged": [
                {"name": u.name, "identity": u.identity, "capacity": u.cost.to_json()}
                for u in self.unchanged
            ],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CostChange:
        def money(key: str) -> float | None:
            found = value[key]
            return None if found is None else float(found)

        warn_above = value.get("warn_above")
        return cls(
            old_monthly=money("old_monthly"),
            new_monthly=money("new_monthly"),
            currency=str(value["currency"]),
            warn_above=None if warn_above is None else parse_warn_above(warn_above),
            unchanged=tuple(
                UnchangedCost(str(u["name"]), str(u["identity"]), Cost.from_json(u["capacity"]))
                for u in value.get("unchanged", [])
            ),
            unknown=value.get("unknown"),
        )


@dataclass(frozen=True)
class SharedChange:
    """A resource shared by the streams; ``fields`` for a changed one."""

    urn: str
    type: str
    name: str
    fields: tuple[str, ...] | None = None

    @property
    def meaning(self) -> str:
        """What the change does, in words a reviewer of a stream change reads."""
        return _MEANINGS.get(self.type, "its settings change")


# What changing one of the shared resources does, by resource type.
_K8S, _S3 = "kubernetes:", "aws:s3/"
_MEANINGS = {
    f"{_K8S}apps/v1:Deployment": "the History Server restarts, to read the new list of "
    "stream directories",
    f"{_K8S}core/v1:Service": "the History Server's address changes",
    f"{_K8S}monitoring.coreos.com/v1:PrometheusRule": "alert rules are updated for the current "
    "streams",
    f"{_K8S}monitoring.coreos.com/v1:PodMonitor": "what Prometheus scrapes changes",
    HELM_RELEASE: "the spark-operator release is upgraded (Helm); running streams keep running",
    f"{_K8S}core/v1:Namespace": "the namespace's labels change (e.g. its Pod Security level)",
    f"{_K8S}rbac.authorization.k8s.io/v1:Role": "what drivers may do in the namespace changes",
    f"{_K8S}rbac.authorization.k8s.io/v1:RoleBinding": "who holds the drivers' permissions changes",
    f"{_K8S}core/v1:Secret": "the streams' secret changes; a stream reads it when it next starts",
    SERVICE_ACCOUNT: "the History Server's identity changes",
    IAM_ROLE: "the History Server's IAM role changes",
    IAM_ROLE_POLICY: "what the History Server may read changes",
    f"{_S3}bucket:Bucket": "a bucket changes",
    f"{_S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration": "how long event logs "
    "and old object versions are kept changes",
    "aws:kms/key:Key": "the buckets' KMS key changes",
}


@dataclass(frozen=True)
class DiffResult:
    stack: str
    base: str
    base_commit: str
    added: tuple[StreamChange, ...] = ()
    removed: tuple[StreamChange, ...] = ()
    changed: tuple[StreamChange, ...] = ()
    shared_added: tuple[SharedChange, ...] = ()
    shared_removed: tuple[SharedChange, ...] = ()
    shared_changed: tuple[SharedChange, ...] = ()
    # Set when the base could not be planned: why, and the working tree's streams.
    base_error: str | None = None
    not_comparable: tuple[StreamChange, ...] = ()
    # What the change costs; None when it was not priced (a diff from before issue #16).
    cost: CostChange | None = None

    @property
    def streams_by_kind(self) -> dict[str, tuple[StreamChange, ...]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}

    @property
    def any_change(self) -> bool:
        return bool(
            self.base_error
            or self.added
            or self.removed
            or self.changed
            or self.shared_added
            or self.shared_removed
            or self.shared_changed
        )

    def to_json(self) -> dict[str, Any]:
        def stream(entry: StreamChange, *, changed: bool = False) -> dict[str, Any]:
            value: dict[str, Any] = {"name": entry.name, "identity": entry.identity}
            if changed:
                value["renamed_from"] = entry.renamed_from
                value["fields"] = [vars(f) for f in entry.fields]
            value["consequences"] = [vars(c) for c in entry.consequences]
            if entry.capacity is not None:
                value["capacity"] = entry.capacity.to_json()
            return value

        def shared(entry: SharedChange) -> dict[str, Any]:
            value: dict[str, Any] = {"urn": entry.urn, "type": entry.type, "name": entry.name}
            if entry.fields is not None:
                value["fields"] = list(entry.fields)
            return value

        return {
            "stack": self.stack,
            "base": self.base,
            "base_commit": self.base_commit,
            "changed": self.any_change,
            "streams": {
                "added": [stream(e) for e in self.added],
                "removed": [stream(e) for e in self.removed],
                "changed": [stream(e, changed=True) for e in self.changed],
            },
            "other": {
                "added": [shared(e) for e in self.shared_added],
                "removed": [shared(e) for e in self.shared_removed],
                "changed": [shared(e) for e in self.shared_changed],
            },
            "base_error": self.base_error,
            "not_comparable": [stream(e) for e in self.not_comparable],
            "cost": None if self.cost is None else self.cost.to_json(),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DiffResult:
        """Read back :meth:`to_json` output (e.g. a ``--diff`` file); ``KeyError``,
        ``TypeError`` or ``ValueError`` when it is not one."""

        def stream(entry: Mapping[str, Any]) -> StreamChange:
            return StreamChange(
                name=str(entry["name"]),
                identity=str(entry["identity"]),
                consequences=tuple(
                    Consequence(str(c["kind"]), str(c["text"])) for c in entry["consequences"]
                ),
                fields=tuple(
                    FieldChange(str(f["field"]), f["old"], f["new"])
                    for f in entry.get("fields", [])
                ),
                renamed_from=entry.get("renamed_from"),
                capacity=CapacityChange.from_json(entry["capacity"])
                if entry.get("capacity") is not None
                else None,
            )

        def shared(entry: Mapping[str, Any]) -> SharedChange:
            fields = entry.get("fields")
            return SharedChange(
                str(entry["urn"]),
                str(entry["type"]),
                str(entry["name"]),
                tuple(str(f) for f in fields) if fields is not None else None,
            )

        streams, other = value["streams"], value["other"]
        return cls(
            stack=str(value["stack"]),
            base=str(value["base"]),
            base_commit=str(value["base_commit"]),
            added=tuple(stream(e) for e in streams["added"]),
            removed=tuple(stream(e) for e in streams["removed"]),
            changed=tuple(stream(e) for e in streams["changed"]),
            shared_added=tuple(shared(e) for e in other["added"]),
            shared_removed=tuple(shared(e) for e in other["removed"]),
            shared_changed=tuple(shared(e) for e in other["changed"]),
            base_error=value.get("base_error"),
            not_comparable=tuple(stream(e) for e in value.get("not_comparable", [])),
            cost=CostChange.from_json(value["cost"]) if value.get("cost") is not None else None,
        )


def not_comparable(after: Side, *, stack: str, base: str, commit: str, reason: str) -> DiffResult:
    """The result when the base cannot be planned (e.g. a merge request that fixes main)."""
    line = " ".join(reason.split())
    if len(line) > _REASON_MAX:
        line = f"{line[: _REASON_MAX - 3]}..."
    return DiffResult(
        stack=stack,
        base=base,
        base_commit=commit,
        base_error=line,
        not_comparable=tuple(
            StreamChange(
                name=s["name"],
                identity=identity,
                consequences=(
                    Consequence(
                        "not-comparable",
                        "not compared: the base could not be planned, so what changes for this "
                        "stream is unknown; read `pulumi preview --diff`",
                    ),
                ),
            )
            for identity, s in sorted(after.streams.items())
        ),
    )


# --- comparing two sides --------------------------------------------------------------------


def compare(
    old: Side,
    new: Side,
    *,
    stack: str,
    base: str,
    commit: str,
    pricing: PricingConfig | None = None,
) -> DiffResult:
    """What changes from ``old`` to ``new``, priced when ``pricing`` is given;
    :class:`InvalidInputError` for a ``renamed_from`` that names a removed stream without its
    identity (it would start over, not rename)."""
    gone = sorted(set(old.streams) - set(new.streams))
    added = [_added(new, i) for i in sorted(set(new.streams) - set(old.streams))]
    removed = [_removed(old, i) for i in gone]
    _check_renames(old, new, gone)
    if removed:
        added = [_rename_hint(entry, old, gone) for entry in added]
    changed = [
        entry
        for i in sorted(set(old.streams) & set(new.streams))
        if (entry := _changed(old, new, i)) is not None
    ]
    shared_added, shared_removed, shared_changed = _shared(old, new)
    result = DiffResult(
        stack=stack,
        base=base,
        base_commit=commit,
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        shared_added=shared_added,
        shared_removed=shared_removed,
        shared_changed=shared_changed,
    )
    return result if pricing is None else _priced(result, old, new, pricing)


# --- what it costs ---------------------------------------------------------------------------


def _side_costs(side: Side, pricing: PricingConfig) -> dict[str, Cost] | str:
    """Each stream's cost by identity, or why the side's streams cannot be priced.

    The streams are JSON from another version of the code: this code reads them back as its
    own effective streams, and a shape it does not know leaves the side's cost unknown.
    """
    costs: dict[str, Cost] = {}
    for identity, fields in side.streams.items():
        try:
            costs[identity] = stream_cost(EffectiveStream.from_json(fields), pricing)
        except ValidationError:
            return (
                f"stream '{fields.get('name')}' of the base is in a shape this version of "
                "spark-streams does not read"
            )
        except ValueError as error:
            return f"stream '{fields.get('name')}': {error}"
    return costs


def _priced(result: DiffResult, old: Side, new: Side, pricing: PricingConfig) -> DiffResult:
    before, after = _side_costs(old, pricing), _side_costs(new, pricing)
    known_before = before if isinstance(before, dict) else {}
    known_after = after if isinstance(after, dict) else {}

    def priced(entries: tuple[StreamChange, ...]) -> tuple[StreamChange, ...]:
        return tuple(
            replace(
                e,
                capacity=CapacityChange(known_before.get(e.identity), known_after.get(e.identity)),
            )
            for e in entries
        )

    listed = {e.identity for entries in result.streams_by_kind.values() for e in entries}
    currency = pricing.currency
    cost = CostChange(
        old_monthly=total_cost(before.values(), currency).monthly_cost
        if isinstance(before, dict)
        else None,
        new_monthly=total_cost(after.values(), currency).monthly_cost
        if isinstance(after, dict)
        else None,
        currency=currency,
        warn_above=pricing.warn_above,
        unchanged=tuple(
            UnchangedCost(new.streams[i]["name"], i, known_after[i])
            for i in sorted(known_after)
            if i not in listed
        ),
        unknown=next((why for why in (before, after) if isinstance(why, str)), None),
    )
    return replace(
        result,
        added=priced(result.added),
        removed=priced(result.removed),
        changed=priced(result.changed),
        cost=cost,
    )


def _added(new: Side, identity: str) -> StreamChange:
    s = new.streams[identity]
    state = "is created suspended" if s["suspend"] else "starts from its source's starting offsets"
    return StreamChange(
        name=s["name"],
        identity=identity,
        consequences=(
            Consequence(
                "start",
                f"{state}: new SparkApplication, IAM role and service account; writes to "
                f"{_uri(s['sink'])}, new checkpoint {_uri(s['checkpoint'])}",
            ),
        ),
    )


def _rename_hint(entry: StreamChange, old: Side, gone: Sequence[str]) -> StreamChange:
    """An added stream beside removed ones may be a rename that forgot ``renamed_from``: the
    exact value to paste, per removed stream."""
    options = " or ".join(
        f"renamed_from={_chain(old.streams[identity])} (replaces '{old.streams[identity]['name']}')"
        for identity in gone
    )
    hint = Consequence(
        "maybe-rename",
        f"if it is a rename, write {options} in its file: it then keeps that stream's role and "
        "checkpoint instead of starting over",
    )
    return StreamChange(entry.name, entry.identity, (*entry.consequences, hint))


def _chain(stream: Mapping[str, Any]) -> str:
    """Every name a stream had, its identity first: what a rename of it must list."""
    names = [*stream["renamed_from"], stream["name"]]
    return f"({', '.join(repr(n) for n in names)},)" if len(names) == 1 else repr(tuple(names))


def _check_renames(old: Side, new: Side, gone: Sequence[str]) -> None:
    problems = []
    for added in (new.streams[i] for i in sorted(set(new.streams) - set(old.streams))):
        earlier = set(added["renamed_from"])
        for identity in gone:
            removed = old.streams[identity]
            later_names = {removed["name"], *removed["renamed_from"][1:]}
            if earlier & later_names and identity not in earlier:
                problems.append(
                    Problem(
                        added["file"],
                        added["name"],
                        "renamed_from",
                        f"names stream '{removed['name']}' by a later name, not by its identity "
                        f"'{identity}': the stream would start over on a new checkpoint and "
                        f"sink. Fix: renamed_from={_chain(removed)}",
                    )
                )
    if problems:
        raise InvalidInputError(problems)


def _removed(old: Side, identity: str) -> StreamChange:
    s = old.streams[identity]
    state = "was paused (not running)" if s["suspend"] else "stops"
    return StreamChange(
        name=s["name"],
        identity=identity,
        consequences=(
            Consequence(
                "stop", f"{state}: its SparkApplication, IAM role and service account are deleted"
            ),
            Consequence(
                "data-kept",
                f"its data ({_uri(s['sink'])}) and checkpoint ({_uri(s['checkpoint'])}) are "
                f"kept; adding it back resumes from that checkpoint only with the same identity "
                f"(renamed_from={_chain(s)} if its name changes) and checkpoint_generation="
                f"{s['checkpoint_generation']}",
            ),
        ),
    )


def _changed(old: Side, new: Side, identity: str) -> StreamChange | None:
    before, after = old.streams[identity], new.streams[identity]
    fields = [
        FieldChange(path, a, b)
        for path, a, b in _field_changes(
            {k: v for k, v in before.items() if k not in _NOT_FIELDS},
            {k: v for k, v in after.items() if k not in _NOT_FIELDS},
        )
    ]
    resources = _stream_resources(old, new, identity)
    if not fields and not resources:
        return None
    if not fields:
        # The program changed, not the stream file: say what changes in its resources.
        fields = [
            FieldChange(".".join(filter(None, [kind.rsplit(":", 1)[-1], path])), a, b)
            for kind, change in sorted(resources.items())
            for path, a, b in change
        ]
    consequences: list[Consequence] = []
    if before["name"] != after["name"]:
        consequences.append(
            Consequence(
                "rename",
                f"renamed from {before['name']}: keeps its IAM role and checkpoint; its "
                "Kubernetes objects are recreated under the new name",
            )
        )
    same_checkpoint = before["checkpoint"] == after["checkpoint"]
    if not same_checkpoint:
        consequences.append(
            Consequence(
                "checkpoint",
                f"checkpoint moves to {_uri(after['checkpoint'])}: the stream starts again from "
                "its source's starting offsets (the old checkpoint is kept)",
            )
        )
    if before["sink"] != after["sink"] and same_checkpoint:
        consequences.append(
            Consequence(
                "sink",
                f"new output goes to {_uri(after['sink'])}; what is in {_uri(before['sink'])} "
                "stays there. The checkpoint is kept, and Spark does not support a new output "
                "directory for a file sink under an old checkpoint: raise "
                "`checkpoint_generation` too unless the sink is a table format that allows it",
            )
        )
    if before["suspend"] != after["suspend"]:
        consequences.append(
            Consequence("suspend", "is paused (spec.suspend); nothing is deleted")
            if after["suspend"]
            else Consequence(
                "resume",
                "resumes from its checkpoint"
                if same_checkpoint
                else "resumes on its new checkpoint",
            )
        )
    elif SPARK_APPLICATION in resources and not after["suspend"]:
        consequences.append(
            Consequence(
                "restart",
                "the SparkApplication is resubmitted: the stream restarts"
                + (" from its checkpoint" if same_checkpoint else ""),
            )
        )
    if IAM_ROLE in resources or IAM_ROLE_POLICY in resources:
        consequences.append(Consequence("iam", "its IAM access changes (role trust or policy)"))
    return StreamChange(
        name=after["name"],
        identity=identity,
        consequences=tuple(consequences),
        fields=tuple(fields),
        renamed_from=before["name"] if before["name"] != after["name"] else None,
    )


def _stream_resources(old: Side, new: Side, identity: str) -> dict[str, list[tuple[str, Any, Any]]]:
    """The stream's resources whose inputs differ, by type, with what differs."""

    def mine(side: Side) -> dict[str, dict[str, Any]]:
        name = side.streams[identity]["name"]
        return {r["type"]: r for r in side.resources.values() if r["stream"] == name}

    before, after = mine(old), mine(new)
    changes = {
        t: list(
            _field_changes((before.get(t) or {}).get("inputs"), (after.get(t) or {}).get("inputs"))
        )
        for t in set(before) | set(after)
    }
    return {t: change for t, change in changes.items() if change}


def _shared(
    old: Side, new: Side
) -> tuple[tuple[SharedChange, ...], tuple[SharedChange, ...], tuple[SharedChange, ...]]:
    # Matched by type and logical name, not URN: a base evaluated by older code may spell URNs
    # differently (parent chain), and that is no change to the resource.
    def shared(side: Side) -> dict[str, dict[str, Any]]:
        return {
            f"{r['type']}::{r['name']}": r for r in side.resources.values() if r["stream"] is None
        }

    before, after = shared(old), shared(new)

    def brief(r: Mapping[str, Any], fields: tuple[str, ...] | None = None) -> SharedChange:
        return SharedChange(r["urn"], r["type"], r["name"], fields)

    return (
        tuple(brief(after[k]) for k in sorted(set(after) - set(before))),
        tuple(brief(before[k]) for k in sorted(set(before) - set(after))),
        tuple(
            brief(
                after[k],
                tuple(
                    path for path, _, _ in _field_changes(before[k]["inputs"], after[k]["inputs"])
                ),
            )
            for k in sorted(set(before) & set(after))
            if before[k]["inputs"] != after[k]["inputs"]
        ),
    )


def _field_changes(old: Any, new: Any, path: str = "") -> Iterable[tuple[str, Any, Any]]:
    """Leaf-level (dotted path, old, new) differences; lists compare whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            yield from _field_changes(
                old.get(key), new.get(key), f"{path}.{key}" if path else str(key)
            )
    elif old != new:
        yield path, old, new


def _uri(location: Mapping[str, str]) -> str:
    return f"s3a://{location['bucket']}/{location['prefix']}"


# --- markdown -------------------------------------------------------------------------------


def markdown(result: DiffResult, *, with_cost: bool = True) -> str:
    """The diff as a merge-request note section: streams first, in words; their cost in a table
    unless ``with_cost`` is false (the note shows it above)."""
    shared = {
        "added": result.shared_added,
        "changed": result.shared_changed,
        "removed": result.shared_removed,
    }
    counts = [
        f"{len(entries)} stream{'s' if len(entries) != 1 else ''} {kind}"
        for kind, entries in result.streams_by_kind.items()
        if entries
    ]
    shared_count = sum(len(v) for v in shared.values())
    if shared_count:
        counts.append(f"{shared_count} shared resource{'s' if shared_count != 1 else ''} changed")
    lines = [
        f"{MARKDOWN_START}`{result.stack}` compared with `{result.base}` "
        f"({result.base_commit[:10]})",
        "",
    ]
    if result.base_error:
        lines.append(
            f"**The base could not be planned, so nothing was compared:** {result.base_error}"
        )
        sections: dict[str, tuple[StreamChange, ...]] = {"Not compared": result.not_comparable}
    else:
        lines.append(f"**{', '.join(counts)}.**" if counts else "**No change.**")
        sections = {
            title.capitalize(): entries for title, entries in result.streams_by_kind.items()
        }
        if with_cost:
            lines += cost_table(result)
    for title, entries in sections.items():
        if not entries:
            continue
        lines += ["", f"#### {title}"]
        for entry in entries:
            renamed = f" (was `{entry.renamed_from}`)" if entry.renamed_from else ""
            lines.append(f"- **`{entry.name}`**{renamed}")
            for change in entry.fields:
                lines.append(f"  - `{change.field}`: `{_show(change.old)}` → `{_show(change.new)}`")
            for consequence in entry.consequences:
                mark = "⚠️ " if consequence.kind in _ALERTING else ""
                lines.append(f"  - {mark}{consequence.text}")
    if shared_count:
        lines += [
            "",
            "#### Shared resources",
            "",
            "| change | type | name | what it does | fields |",
            "| --- | --- | --- | --- | --- |",
        ]
        for kind, resources in shared.items():
            for r in resources:
                fields = ", ".join(f"`{f}`" for f in (r.fields or ())[:8])
                lines.append(f"| {kind} | `{r.type}` | `{r.name}` | {r.meaning} | {fields} |")
    return "\n".join(lines) + "\n"


MARKDOWN_START = "### Streams in "
_ALERTING = {"checkpoint", "stop", "restart", "sink", "suspend"}


def _show(value: Any) -> str:
    if isinstance(value, list):
        text = f"[{', '.join(_show(v) for v in value)}]"
    elif isinstance(value, dict) and set(value) == {"bucket", "prefix"}:
        text = _uri(value)  # an S3 location, as the job sees it
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


_SHOWN = 240


def money(amount: float, currency: str, *, cents: bool = True) -> str:
    """``$1,234.56``; ``-$312`` without cents; codes without a symbol after: ``1,234.56 CHF``."""
    digits = f"{abs(amount):,.{2 if cents else 0}f}"
    sign = "-" if round(amount, 2 if cents else 0) < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {currency}"


_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def cost_table(result: DiffResult) -> list[str]:
    """Markdown lines: each added, removed and changed stream's requests and monthly cost
    before and after, and the stack's total; nothing when the diff was not priced."""
    cost = result.cost
    if cost is None:
        return []
    lines = [
        "",
        f"#### Monthly cost ({cost.currency}, requests at the stack's prices; see docs/cost.md)",
    ]
    if cost.unknown:
        lines += ["", f"_Before is unknown: {cost.unknown}._"]
    if not any(result.streams_by_kind.values()) and cost.new_monthly is not None:
        return [*lines, "", f"No stream changes: {money(cost.new_monthly, cost.currency)} a month."]
    lines += [
        "",
        "| stream | change | CPU | memory (GiB) | monthly cost |",
        "| --- | --- | --- | --- | --- |",
    ]

    def span(old: float | None, new: float | None, show: Callable[[float], str]) -> str:
        if old is not None and new is not None and round(old, 2) == round(new, 2):
            return show(new)
        return f"{'—' if old is None else show(old)} → {'—' if new is None else show(new)}"

    def amount(value: float) -> str:
        return money(value, cost.currency)

    columns: tuple[tuple[Callable[[Cost], float], Callable[[float], str]], ...] = (
        (lambda c: c.cpu, _number),
        (lambda c: c.memory_gib, _number),
        (lambda c: c.monthly_cost, amount),
    )
    for kind, entries in result.streams_by_kind.items():
        for entry in entries:
            change = entry.capacity or CapacityChange(None, None)
            old, new = change.old, change.new
            cells = [
                span(None if old is None else pick(old), None if new is None else pick(new), show)
                for pick, show in columns
            ]
            lines.append(f"| `{entry.name}` | {kind} | {' | '.join(cells)} |")
    delta = cost.delta_monthly
    change_text = (
        ""
        if delta is None or round(delta, 2) == 0
        else f" ({'+' if delta > 0 else ''}{amount(delta)})"
    )
    lines.append(
        f"| **total** | | | | **{span(cost.old_monthly, cost.new_monthly, amount)}**{change_text} |"
    )
    return lines


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
