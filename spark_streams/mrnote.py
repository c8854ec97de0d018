"""The merge-request note: stream diff first, then ``pulumi preview --diff``, secrets masked.

Pure text building; posting it is :mod:`spark_streams.gitlab_notes`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from spark_streams.diff import MARKDOWN_START, DiffResult, markdown
from spark_streams.stackfile import SECRET_PLACEHOLDER, leaves

# GitLab refuses notes longer than this many characters.
GITLAB_NOTE_LIMIT = 1_000_000
# Short values would mask ordinary words ("true", "dev"); real secrets are longer.
MIN_MASKED_LENGTH = 4


def marker(stack: str) -> str:
    """Hidden line identifying the note of one stack, so each run updates it in place."""
    return f"<!-- spark-streams:mr-note stack={stack} -->"


def diff_section(text: str) -> str:
    """``spark-streams diff`` output: JSON is rendered, its markdown taken as it is.

    :class:`ValueError` for anything else.
    """
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        if not text.startswith(MARKDOWN_START):
            raise ValueError(
                "neither `spark-streams diff --json` output nor its markdown (which starts "
                f"with {MARKDOWN_START!r})"
            ) from None
        return text.strip() + "\n"
    try:
        return markdown(DiffResult.from_json(value))
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"JSON that is not `spark-streams diff --json` output ({type(error).__name__}: {error})"
        ) from None


_CONFIG_SHAPE = (
    'the output of `pulumi config --show-secrets --json`: {"<project>:<key>": {"value": ..., '
    '"secret": true|false}, ...}'
)


def secret_values_from_config(config_json: str) -> list[str]:
    """Secret values in ``pulumi config --show-secrets --json`` output; :class:`ValueError`
    saying what was expected when it is not that."""
    try:
        document: Any = json.loads(config_json)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"not JSON ({error.msg}, line {error.lineno}); expected {_CONFIG_SHAPE}"
        ) from None
    entries = document.values() if isinstance(document, dict) else None
    if entries is None or not all(isinstance(e, dict) and "secret" in e for e in entries):
        raise ValueError(f"not the expected shape; expected {_CONFIG_SHAPE}")
    values: list[str] = []
    for entry in entries:
        if entry["secret"]:
            values.extend(leaves(entry.get("objectValue", entry.get("value"))))
    return values


def mask(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_MASKED_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, SECRET_PLACEHOLDER)
    return text


def build(
    stack: str,
    preview: str,
    diff: str | None,
    secrets: Iterable[str],
    artifact_url: str | None,
    limit: int = GITLAB_NOTE_LIMIT,
) -> tuple[str, str]:
    """``(note, full_text)``: the note fits ``limit``; ``full_text`` is never truncated.

    ``diff`` is the stream diff's section, as markdown (see :func:`diff_section`).
    """
    secrets = list(secrets)
    head = "\n".join(
        [
            marker(stack),
            f"## Pulumi preview of stack `{stack}`",
            "",
            diff if diff is not None else "_No stream diff was given._\n",
        ]
    )
    preview = mask(preview, secrets)
    lines = preview.count("\n") + (0 if preview.endswith("\n") else 1)

    def fold(body: str, note: str = "") -> str:
        return (
            f"{head}\n<details><summary><code>pulumi preview --diff</code> ({lines} lines)"
            f"</summary>\n\n```diff\n{body.rstrip()}\n```\n{note}</details>\n"
        )

    full = mask(fold(preview), secrets)
    if len(full) <= limit:
        return full, full
    where = f"the job artifact: {artifact_url}" if artifact_url else "the CI job's artifacts"
    note = f"\n**Truncated to fit GitLab's note limit; the full preview is in {where}.**\n"
    room = limit - len(fold("", note)) - 1
    cut = preview[: max(room, 0)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return mask(fold(cut, note), secrets), full
