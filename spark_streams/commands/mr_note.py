"""``spark-streams mr-note``: create or update this stack's preview note on the merge request:
the stream diff in words, its cost, then ``pulumi preview --diff``, secrets masked.

The stack's inputs get the same verdict as in every other command: invalid inputs still get
their note (saying so, with every problem), and then the command fails.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from spark_streams import diff, evaluation, gitlab_notes, mrnote, stackfile
from spark_streams.commands import CommandError, UsageError, load
from spark_streams.inputs import Inputs
from spark_streams.problems import InvalidInputError

# Environment variables whose values never appear in a note.
MASKED_ENV = (
    "GITLAB_TOKEN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
# Where mr-note keeps the full note by default (git-ignored).
NOTES_DIR = ".spark-streams"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None


def run(
    project: Path,
    *,
    stack: str,
    streams_dir: Path | None,
    preview: Path,
    diff_file: Path | None,
    output: Path | None,
    secrets_from: Path | None,
    mask_env: Sequence[str],
    dry_run: bool,
    environ: Mapping[str, str] = os.environ,
) -> str:
    source = stackfile.read(project, stack)
    secrets = [environ[name] for name in (*MASKED_ENV, *mask_env) if environ.get(name)]
    secrets += source.sensitive
    if secrets_from:
        try:
            from_config = mrnote.secret_values_from_config(_read(secrets_from))
        except ValueError as error:
            raise CommandError(f"--secrets-from {secrets_from}: {error}") from None
        declared = source.values.get("secrets")
        has = sorted(declared) if isinstance(declared, dict) else sorted(source.secret_keys)
        if not from_config and has:
            print(
                f"spark-streams: warning: --secrets-from {secrets_from} holds no secret "
                f"value, but the stack has secrets ({', '.join(has)}): "
                "they cannot be masked (was `pulumi config --show-secrets` able to decrypt?)",
                file=sys.stderr,
            )
        secrets += from_config
    failure: str | None = None
    found: diff.DiffResult | str | None
    try:
        loaded = load(project, stack, streams_dir)
    except InvalidInputError as error:
        failure = f"the stack's streams or config are invalid: {_one_line(error)}"
        found = f"_{failure}_\n"
    else:
        if diff_file:
            text = _read(diff_file)
            try:
                found = mrnote.read_diff(text) or text
            except ValueError as error:
                raise CommandError(f"--diff {diff_file}: {error}") from None
        else:
            found, failure = _diff_of_merge_request(project, loaded, streams_dir, environ)
    # The full note goes where --output says; else, unless this is a dry run, to a git-ignored
    # directory of the project.
    target = output or (None if dry_run else project / NOTES_DIR / f"mr-note-{stack}.md")
    artifact = environ.get("CI_JOB_URL")
    note, full = mrnote.build(
        stack,
        _read(preview),
        found,
        secrets,
        f"{artifact}/artifacts/file/{output}" if artifact and output else None,
    )
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(full)
    if dry_run:
        if failure:
            print(f"spark-streams: {failure}", file=sys.stderr)
            sys.stdout.write(note)
            raise CommandError("the stream diff could not be computed (see the note)")
        return note
    try:
        request = gitlab_notes.MergeRequest.from_env(environ)
    except ValueError as error:
        raise UsageError(str(error)) from None
    try:
        action, note_id = gitlab_notes.upsert_note(request, mrnote.marker(stack), note)
    except gitlab_notes.NoteError as error:
        raise CommandError(f"{error}; the full note is in {target}") from None
    posted = f"{action} note {note_id} on merge request !{request.iid} ({len(note)} characters)"
    if failure:
        # Posted first: the preview deserves its note. Then the job fails.
        raise CommandError(f"{posted}; but {failure}")
    return posted + "\n"


def _one_line(error: InvalidInputError) -> str:
    return " ".join("; ".join(str(p) for p in error.problems).split())


def _diff_of_merge_request(
    project: Path, loaded: Inputs, streams_dir: Path | None, environ: Mapping[str, str]
) -> tuple[diff.DiffResult | str | None, str | None]:
    """Without ``--diff``, in a merge request pipeline: ``(the diff against the MR's base,
    None)``, or ``(a one-line note, why)`` when it cannot be computed."""
    base = environ.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if not base:
        return None, None
    try:
        here = evaluation.of_inputs(loaded)
        result = diff.diff(project, loaded.stack, base, streams_dir, here)
    except diff.GitRefError as error:
        why = f"no stream diff against {base[:12]}: {' '.join(str(error).split())}"
        return f"_{why}_\n", why
    return result, None
