"""Comparing two evaluated trees: which streams start, stop, restart or move to a new
checkpoint, what that means for their data and IAM access, and which shared resources change.
Pure: the sides come from :mod:`.base` and :mod:`spark_streams.evaluation`; costs are added by
:mod:`.pricing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from components import IAM_ROLE, IAM_ROLE_POLICY, SPARK_APPLICATION
from spark_streams.diff.result import (
    DIFF_VERSION,
    Consequence,
    DiffResult,
    FieldChange,
    SharedChange,
    SharedChanges,
    StreamChange,
    StreamChanges,
)
from spark_streams.evaluation import Evaluation, StreamRecord
from spark_streams.offline import PlannedResource
from spark_streams.problems import InvalidInputError, Problem

# Effective fields that say where a stream is, not what it is: what they change shows in the
# stream's resources instead. And `capacity`, no field at all: `list --json` (how an older base
# is asked) adds it, and the diff prices both sides itself.
_NOT_FIELDS = {"file", "stack", "identity", "aws_region", "capacity"}


@dataclass(frozen=True)
class Side:
    """One evaluated tree, its streams by identity and its resources by URN."""

    streams: dict[str, StreamRecord]
    resources: dict[str, PlannedResource]

    @classmethod
    def of(cls, evaluation: Evaluation) -> Side:
        return cls(
            {s.identity: s for s in evaluation.streams},
            {r.urn: r for r in evaluation.resources},
        )


def not_comparable(after: Side, *, stack: str, base: str, commit: str, reason: str) -> DiffResult:
    """The result when the base cannot be planned (e.g. a merge request that fixes main)."""
    return DiffResult(
        version=DIFF_VERSION,
        stack=stack,
        base=base,
        base_commit=commit,
        base_error=reason,
        not_comparable=tuple(
            StreamChange(
                name=s.name,
                identity=identity,
                consequences=(
                    Consequence(
                        kind="not-comparable",
                        text="not compared: the base could not be planned, so what changes for "
                        "this stream is unknown; read `pulumi preview --diff`",
                    ),
                ),
            )
            for identity, s in sorted(after.streams.items())
        ),
    )


def compare(
    old: Side,
    new: Side,
    *,
    stack: str,
    base: str,
    commit: str,
) -> DiffResult:
    """What changes from ``old`` to ``new`` (unpriced: :mod:`.pricing` adds the costs);
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
    return DiffResult(
        version=DIFF_VERSION,
        stack=stack,
        base=base,
        base_commit=commit,
        streams=StreamChanges(added=tuple(added), removed=tuple(removed), changed=tuple(changed)),
        other=_shared(old, new),
    )


def _added(new: Side, identity: str) -> StreamChange:
    s = new.streams[identity]
    state = "is created suspended" if s.suspend else "starts from its source's starting offsets"
    return StreamChange(
        name=s.name,
        identity=identity,
        consequences=(
            Consequence(
                "start",
                f"{state}: new SparkApplication, IAM role and service account; writes to "
                f"{s.sink.uri}, new checkpoint {s.checkpoint.uri}",
            ),
        ),
    )


def _rename_hint(entry: StreamChange, old: Side, gone: Sequence[str]) -> StreamChange:
    """An added stream beside removed ones may be a rename that forgot ``renamed_from``: the
    exact value to paste, per removed stream."""
    options = " or ".join(
        f"renamed_from={_chain(old.streams[identity])} (replaces '{old.streams[identity].name}')"
        for identity in gone
    )
    hint = Consequence(
        "maybe-rename",
        f"if it is a rename, write {options} in its file: it then keeps that stream's role and "
        "checkpoint instead of starting over",
    )
    return StreamChange(entry.name, entry.identity, (*entry.consequences, hint))


def _chain(stream: StreamRecord) -> str:
    """Every name a stream had, its identity first: what a rename of it must list."""
    names = [*stream.renamed_from, stream.name]
    return f"({', '.join(repr(n) for n in names)},)" if len(names) == 1 else repr(tuple(names))


def _check_renames(old: Side, new: Side, gone: Sequence[str]) -> None:
    problems = []
    for added in (new.streams[i] for i in sorted(set(new.streams) - set(old.streams))):
        earlier = set(added.renamed_from)
        for identity in gone:
            removed = old.streams[identity]
            later_names = {removed.name, *removed.renamed_from[1:]}
            if earlier & later_names and identity not in earlier:
                problems.append(
                    Problem(
                        added.file,
                        added.name,
                        "renamed_from",
                        f"names stream '{removed.name}' by a later name, not by its identity "
                        f"'{identity}': the stream would start over on a new checkpoint and "
                        f"sink. Fix: renamed_from={_chain(removed)}",
                    )
                )
    if problems:
        raise InvalidInputError(problems)


def _removed(old: Side, identity: str) -> StreamChange:
    s = old.streams[identity]
    state = "was paused (not running)" if s.suspend else "stops"
    return StreamChange(
        name=s.name,
        identity=identity,
        consequences=(
            Consequence(
                "stop", f"{state}: its SparkApplication, IAM role and service account are deleted"
            ),
            Consequence(
                "data-kept",
                f"its data ({s.sink.uri}) and checkpoint ({s.checkpoint.uri}) are "
                f"kept; adding it back resumes from that checkpoint only with the same identity "
                f"(renamed_from={_chain(s)} if its name changes) and checkpoint_generation="
                f"{s.checkpoint_generation}",
            ),
        ),
    )


def _changed(old: Side, new: Side, identity: str) -> StreamChange | None:
    before, after = old.streams[identity], new.streams[identity]
    fields = [
        FieldChange(path, a, b)
        for path, a, b in _field_changes(
            {k: v for k, v in before.settings().items() if k not in _NOT_FIELDS},
            {k: v for k, v in after.settings().items() if k not in _NOT_FIELDS},
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
    if before.name != after.name:
        consequences.append(
            Consequence(
                "rename",
                f"renamed from {before.name}: keeps its IAM role and checkpoint; its "
                "Kubernetes objects are recreated under the new name",
            )
        )
    same_checkpoint = before.checkpoint == after.checkpoint
    if not same_checkpoint:
        consequences.append(
            Consequence(
                "checkpoint",
                f"checkpoint moves to {after.checkpoint.uri}: the stream starts again from "
                "its source's starting offsets (the old checkpoint is kept)",
            )
        )
    if before.sink != after.sink and same_checkpoint:
        consequences.append(
            Consequence(
                "sink",
                f"new output goes to {after.sink.uri}; what is in {before.sink.uri} "
                "stays there. The checkpoint is kept, and Spark does not support a new output "
                "directory for a file sink under an old checkpoint: raise "
                "`checkpoint_generation` too unless the sink is a table format that allows it",
            )
        )
    if before.suspend != after.suspend:
        consequences.append(
            Consequence("suspend", "is paused (spec.suspend); nothing is deleted")
            if after.suspend
            else Consequence(
                "resume",
                "resumes from its checkpoint"
                if same_checkpoint
                else "resumes on its new checkpoint",
            )
        )
    elif SPARK_APPLICATION in resources and not after.suspend:
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
        name=after.name,
        identity=identity,
        consequences=tuple(consequences),
        fields=tuple(fields),
        renamed_from=before.name if before.name != after.name else None,
    )


def _stream_resources(old: Side, new: Side, identity: str) -> dict[str, list[tuple[str, Any, Any]]]:
    """The stream's resources whose inputs differ, by type, with what differs."""

    def mine(side: Side) -> dict[str, PlannedResource]:
        name = side.streams[identity].name
        return {r.type: r for r in side.resources.values() if r.stream == name}

    before, after = mine(old), mine(new)
    changes = {
        t: list(
            _field_changes(
                before[t].inputs if t in before else None, after[t].inputs if t in after else None
            )
        )
        for t in set(before) | set(after)
    }
    return {t: change for t, change in changes.items() if change}


def _shared(old: Side, new: Side) -> SharedChanges:
    # Matched by type and logical name, not URN: a base evaluated by older code may spell URNs
    # differently (parent chain), and that is no change to the resource.
    def shared(side: Side) -> dict[str, PlannedResource]:
        return {f"{r.type}::{r.name}": r for r in side.resources.values() if r.stream is None}

    before, after = shared(old), shared(new)

    def brief(r: PlannedResource, fields: tuple[str, ...] | None = None) -> SharedChange:
        return SharedChange(r.urn, r.type, r.name, fields)

    return SharedChanges(
        added=tuple(brief(after[k]) for k in sorted(set(after) - set(before))),
        removed=tuple(brief(before[k]) for k in sorted(set(before) - set(after))),
        changed=tuple(
            brief(
                after[k],
                tuple(path for path, _, _ in _field_changes(before[k].inputs, after[k].inputs)),
            )
            for k in sorted(set(before) & set(after))
            if before[k].inputs != after[k].inputs
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
