"""One note per merge request and stack, created or updated in place through python-gitlab."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import gitlab
import requests

T = TypeVar("T")
RETRIABLE = {429, 500, 502, 503, 504}


class NoteError(Exception):
    """GitLab could not be reached or refused the note, after retries."""


@dataclass(frozen=True)
class MergeRequest:
    api_url: str  # CI_API_V4_URL, e.g. https://gitlab.example.com/api/v4
    project_id: str
    iid: int
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MergeRequest:
        names = ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "GITLAB_TOKEN")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise ValueError(
                f"missing {', '.join(missing)}; run in a GitLab merge request pipeline with "
                "GITLAB_TOKEN set to a token with the api scope"
            )
        return cls(
            env["CI_API_V4_URL"],
            env["CI_PROJECT_ID"],
            int(env["CI_MERGE_REQUEST_IID"]),
            env["GITLAB_TOKEN"],
        )


def upsert_note(
    request: MergeRequest,
    marker: str,
    body: str,
    attempts: int = 4,
    backoff: float = 1.0,
) -> tuple[str, int]:
    """Create the note holding ``marker`` or update it; returns ``(action, note id)``.

    The body is complete before the one create or update call, so a failure never leaves a
    half-written note.
    """
    client = gitlab.Gitlab(
        request.api_url.removesuffix("/").removesuffix("/api/v4"),
        private_token=request.token,
        timeout=30,
    )
    merge_request = client.projects.get(request.project_id, lazy=True).mergerequests.get(
        request.iid, lazy=True
    )

    def existing() -> list[tuple[int, str]]:
        return [(n.id, n.body) for n in merge_request.notes.list(iterator=True, per_page=100)]

    ours = [(nid, text) for nid, text in _retry(existing, attempts, backoff) if marker in text]
    if not ours:
        note = _retry(lambda: merge_request.notes.create({"body": body}), attempts, backoff)
        return "created", int(note.id)
    note_id, current = ours[0]
    if current == body:
        return "unchanged", note_id
    _retry(lambda: merge_request.notes.update(note_id, {"body": body}), attempts, backoff)
    return "updated", note_id


def _retry(call: Callable[[], T], attempts: int, backoff: float) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except gitlab.exceptions.GitlabError as error:
            code = error.response_code
            if code not in RETRIABLE or attempt == attempts:
                raise NoteError(f"GitLab answered {code}: {error.error_message}") from None
        except requests.RequestException as error:
            if attempt == attempts:
                raise NoteError(f"GitLab unreachable: {error}") from None
        time.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
