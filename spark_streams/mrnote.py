"""The merge-request note: stream diff first, then ``pulumi preview --diff``, secrets masked.

Pure text building; posting it is :mod:`spark_streams.gitlab_notes`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

import yaml

from spark_streams.config import PROJECT, SECRET_PLACEHOLDER
from spark_streams.diff import markdown

# GitLab refuses notes longer than this many characters.
GITLAB_NOTE_LIMIT = 1_000_000
# Short values would mask ordinary words ("true", "dev"); real secrets are longer.
MIN_MASKED_LENGTH = 4


def marker(stack: str) -> str:
    """Hidden line identifying the note of one stack, so each run updates it in place."""
    return f"<!-- spark-streams:mr-note stack={stack} -->"


def diff_section(text: str) -> str:
    """``spark-streams diff`` output: JSON is rendered, markdown taken as it is."""
    try:
        result: Any = json.loads(text)
    except json.JSONDecodeError:
        return text.strip() + "\n"
    return markdown(result)


def secret_values_from_config(config_json: str) -> list[str]:
    """Secret values in ``pulumi config --show-secrets --json`` output."""
    document: dict[str, Any] = json.loads(config_json)
    values: list[str] = []
    for entry in document.values():
        if isinstance(entry, dict) and entry.get("secret"):
            values.extend(_leaves(entry.get("objectValue", entry.get("value"))))
    return values


def secret_values_from_stack_file(stack_yaml: str) -> list[str]:
    """What ``Pulumi.<stack>.yaml`` itself holds of the stack's secrets.

    Every ``secure:`` ciphertext, and every value under ``spark-streams:secrets`` - which should
    all be ciphertexts, but a value pasted there in plain text must not reach a note either.
    """
    config: dict[str, Any] = (yaml.safe_load(stack_yaml) or {}).get("config") or {}
    values = list(_leaves(config.get(f"{PROJECT}:secrets")))

    def ciphertexts(value: Any) -> Iterable[str]:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                yield str(value["secure"])
            else:
                for item in value.values():
                    yield from ciphertexts(item)
        elif isinstance(value, list):
            for item in value:
                yield from ciphertexts(item)

    return values + list(ciphertexts(config))


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        text = str(value)
        yield text
        # `pulumi config --json` may hold an object as a JSON string
        if text.startswith(("{", "[")):
            with contextlib.suppress(json.JSONDecodeError):
                yield from _leaves(json.loads(text))


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
    """``(note, full_text)``: the note fits ``limit``; ``full_text`` is never truncated."""
    secrets = list(secrets)
    head = "\n".join(
        [
            marker(stack),
            f"## Pulumi preview of stack `{stack}`",
            "",
            diff_section(diff) if diff is not None else "_No stream diff was given._\n",
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
