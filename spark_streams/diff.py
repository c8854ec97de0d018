"""Stream-level semantic diff between the program at a git ref and the working tree.

Both sides are evaluated with the offline plan (``plan --json``) and the effective settings
(``list --json``); the base runs its *own* code from a temporary export of the ref, so a change
to the program itself is diffed like a change to a stream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from spark_streams.problems import InvalidInputError, Problem

APP = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = "kubernetes:core/v1:ServiceAccount"
# Effective fields that say where a stream is, not what it is: what they change shows in the
# stream's resources instead.
_NOT_FIELDS = {"file", "stack", "identity", "aws_region"}


class GitRefError(Exception):
    """The base ref cannot be read (a usage error)."""


@dataclass(frozen=True)
class Side:
    """One evaluated program: effective streams by identity and resources by URN."""

    streams: dict[str, dict[str, Any]]
    resources: dict[str, dict[str, Any]]

    @classmethod
    def empty(cls) -> Side:
        return cls({}, {})

    @classmethod
    def from_outputs(cls, listing: Mapping[str, Any], plan: Mapping[str, Any]) -> Side:
        return cls(
            {s["identity"]: s for s in listing["streams"]},
            {r["urn"]: r for r in plan["resources"]},
        )


def evaluate(project_dir: Path, stack: str, streams_dir: str | None, label: str) -> Side:
    """Run ``list --json`` and ``plan --json`` of the program in ``project_dir`` (its own code)."""
    extra = ["--streams-dir", streams_dir] if streams_dir else []
    env = {**os.environ, "PYTHONPATH": str(project_dir)}
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spark_streams.cli",
                command,
                "--json",
                "--stack",
                stack,
                *extra,
            ],
            cwd=project_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in ("list", "plan")
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode == 2 and "no stack" in err:
            return Side.empty()  # the stack does not exist there: everything in it is added
        if process.returncode != 0:
            raise InvalidInputError([Problem(label, None, None, err.strip() or "failed")])
        outputs.append(json.loads(out))
    return Side.from_outputs(outputs[0], outputs[1])


def export_ref(project_dir: Path, ref: str, target: Path) -> str:
    """Write the project as it is at ``ref`` into ``target``; returns the commit id."""

    def git(*args: str) -> bytes:
        result = subprocess.run(["git", *args], cwd=project_dir, capture_output=True, check=False)
        if result.returncode != 0:
            raise GitRefError(result.stderr.decode().strip() or f"git {' '.join(args)} failed")
        return result.stdout

    commit = git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    prefix = git("rev-parse", "--show-prefix").decode().strip()
    archive = git("archive", "--format=tar", f"{commit}:{prefix}" if prefix else commit)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return commit


def diff(project_dir: Path, stack: str, base: str, streams_dir: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spark-streams-base-") as tmp:
        commit = export_ref(project_dir, base, Path(tmp))
        # Both sides at once: each is a few seconds of mostly single-core work.
        with ThreadPoolExecutor(max_workers=2) as pool:
            old = pool.submit(evaluate, Path(tmp), stack, streams_dir, f"the program at {base}")
            new = pool.submit(evaluate, project_dir, stack, streams_dir, "the working tree")
            before, after = old.result(), new.result()
    return compare(before, after, stack=stack, base=base, commit=commit)


def compare(old: Side, new: Side, *, stack: str, base: str, commit: str) -> dict[str, Any]:
    added = [_added(new, i) for i in sorted(set(new.streams) - set(old.streams))]
    removed = [_removed(old, i) for i in sorted(set(old.streams) - set(new.streams))]
    if removed:
        added = [_rename_hint(entry, removed) for entry in added]
    changed = [
        entry
        for i in sorted(set(old.streams) & set(new.streams))
        if (entry := _changed(old, new, i)) is not None
    ]
    other = _other(old, new)
    return {
        "stack": stack,
        "base": base,
        "base_commit": commit,
        "changed": bool(added or removed or changed or any(other.values())),
        "streams": {"added": added, "removed": removed, "changed": changed},
        "other": other,
    }


def _consequence(kind: str, text: str) -> dict[str, str]:
    return {"kind": kind, "text": text}


def _added(new: Side, identity: str) -> dict[str, Any]:
    s = new.streams[identity]
    state = "is created suspended" if s["suspend"] else "starts from its source's starting offsets"
    return {
        "name": s["name"],
        "identity": identity,
        "consequences": [
            _consequence(
                "start",
                f"{state}: new SparkApplication, IAM role and service account; writes to "
                f"{_uri(s['sink'])}, new checkpoint {_uri(s['checkpoint'])}",
            )
        ],
    }


def _rename_hint(entry: dict[str, Any], removed: list[dict[str, Any]]) -> dict[str, Any]:
    """An added stream beside removed ones may be a rename that forgot ``renamed_from``."""
    names = ", ".join(f"'{r['name']}'" for r in removed)
    hint = _consequence(
        "maybe-rename",
        f"if it replaces {names}, write renamed_from=('<old name>',) in its file: it then keeps "
        "that stream's role and checkpoint instead of starting over",
    )
    return {**entry, "consequences": [*entry["consequences"], hint]}


def _removed(old: Side, identity: str) -> dict[str, Any]:
    s = old.streams[identity]
    return {
        "name": s["name"],
        "identity": identity,
        "consequences": [
            _consequence(
                "stop",
                "stops: its SparkApplication, IAM role and service account are deleted",
            ),
            _consequence(
                "data-kept",
                f"its data ({_uri(s['sink'])}) and checkpoint ({_uri(s['checkpoint'])}) are "
                "kept; adding the stream back resumes from that checkpoint",
            ),
        ],
    }


def _changed(old: Side, new: Side, identity: str) -> dict[str, Any] | None:
    before, after = old.streams[identity], new.streams[identity]
    fields = [
        {"field": path, "old": a, "new": b}
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
            {"field": ".".join(filter(None, [kind.rsplit(":", 1)[-1], path])), "old": a, "new": b}
            for kind, change in sorted(resources.items())
            for path, a, b in change
        ]
    consequences: list[dict[str, str]] = []
    if before["name"] != after["name"]:
        consequences.append(
            _consequence(
                "rename",
                f"renamed from {before['name']}: keeps its IAM role and checkpoint; its "
                "Kubernetes objects are recreated under the new name",
            )
        )
    if before["checkpoint"] != after["checkpoint"]:
        consequences.append(
            _consequence(
                "checkpoint",
                f"checkpoint moves to {_uri(after['checkpoint'])}: the stream starts again from "
                "its source's starting offsets (the old checkpoint is kept)",
            )
        )
    if before["sink"] != after["sink"] and before["checkpoint"] == after["checkpoint"]:
        consequences.append(
            _consequence(
                "sink",
                f"new output goes to {_uri(after['sink'])}; what is in {_uri(before['sink'])} "
                "stays there. The checkpoint is kept, and Spark does not support a new output "
                "directory for a file sink under an old checkpoint: raise "
                "`checkpoint_generation` too unless the sink is a table format that allows it",
            )
        )
    same_checkpoint = before["checkpoint"] == after["checkpoint"]
    if before["suspend"] != after["suspend"]:
        consequences.append(
            _consequence("suspend", "is paused (spec.suspend); nothing is deleted")
            if after["suspend"]
            else _consequence(
                "resume",
                "resumes from its checkpoint"
                if same_checkpoint
                else "resumes on its new checkpoint",
            )
        )
    elif APP in resources and not after["suspend"]:
        consequences.append(
            _consequence(
                "restart",
                "the SparkApplication is resubmitted: the stream restarts"
                + (" from its checkpoint" if same_checkpoint else ""),
            )
        )
    if ROLE in resources or POLICY in resources:
        consequences.append(_consequence("iam", "its IAM access changes (role trust or policy)"))
    return {
        "name": after["name"],
        "identity": identity,
        "renamed_from": before["name"] if before["name"] != after["name"] else None,
        "fields": fields,
        "consequences": consequences,
    }


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


def _other(old: Side, new: Side) -> dict[str, list[dict[str, Any]]]:
    # Matched by type and logical name, not URN: a base evaluated by older code may spell URNs
    # differently (parent chain), and that is no change to the resource.
    def shared(side: Side) -> dict[str, dict[str, Any]]:
        return {
            f"{r['type']}::{r['name']}": r for r in side.resources.values() if r["stream"] is None
        }

    before, after = shared(old), shared(new)

    def brief(r: Mapping[str, Any]) -> dict[str, Any]:
        return {"urn": r["urn"], "type": r["type"], "name": r["name"]}

    return {
        "added": [brief(after[u]) for u in sorted(set(after) - set(before))],
        "removed": [brief(before[u]) for u in sorted(set(before) - set(after))],
        "changed": [
            {
                **brief(after[u]),
                "fields": [
                    path for path, _, _ in _field_changes(before[u]["inputs"], after[u]["inputs"])
                ],
            }
            for u in sorted(set(before) & set(after))
            if before[u]["inputs"] != after[u]["inputs"]
        ],
    }


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


def markdown(result: Mapping[str, Any]) -> str:
    """The diff as a merge-request note section: streams first, in words."""
    streams, other = result["streams"], result["other"]
    counts = [
        f"{len(streams[k])} stream{'s' if len(streams[k]) != 1 else ''} {k}"
        for k in ("added", "changed", "removed")
        if streams[k]
    ]
    other_count = sum(len(v) for v in other.values())
    if other_count:
        counts.append(f"{other_count} shared resource{'s' if other_count != 1 else ''} changed")
    lines = [
        f"### Streams in `{result['stack']}` compared with `{result['base']}` "
        f"({result['base_commit'][:10]})",
        "",
        f"**{', '.join(counts)}.**" if counts else "**No change.**",
    ]
    for title, key in (("Added", "added"), ("Changed", "changed"), ("Removed", "removed")):
        if not streams[key]:
            continue
        lines += ["", f"#### {title}"]
        for entry in streams[key]:
            renamed = f" (was `{entry['renamed_from']}`)" if entry.get("renamed_from") else ""
            lines.append(f"- **`{entry['name']}`**{renamed}")
            for field in entry.get("fields", []):
                lines.append(
                    f"  - `{field['field']}`: `{_show(field['old'])}` → `{_show(field['new'])}`"
                )
            for consequence in entry["consequences"]:
                lines.append(
                    f"  - ⚠️ {consequence['text']}"
                    if consequence["kind"] in _ALERTING
                    else f"  - {consequence['text']}"
                )
    if other_count:
        lines += [
            "",
            "#### Shared resources",
            "",
            "| change | type | name | fields |",
            "| --- | --- | --- | --- |",
        ]
        for key in ("added", "changed", "removed"):
            for r in other[key]:
                fields = ", ".join(f"`{f}`" for f in r.get("fields", [])[:8])
                lines.append(f"| {key} | `{r['type']}` | `{r['name']}` | {fields} |")
    return "\n".join(lines) + "\n"


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
