"""One note per merge request and stack, created or updated in place through python-gitlab."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gitlab
import requests

# Attempts after the first, each listing the notes again (backoff 0.5 s, 1 s, 2 s).
RETRIES = 3


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


def upsert_note(request: MergeRequest, marker: str, body: str) -> tuple[str, int]:
    """Create the note that starts with ``marker`` or update it; returns ``(action, note id)``.

    Each attempt lists the notes again before it writes, so a create whose answer was lost (the
    note exists, GitLab said 502) is found and updated, never posted twice. Rate limits (429)
    are waited out by python-gitlab; 5xx answers GitLab's client counts as transient, refused
    connections and time-outs are retried here,
    :data:`RETRIES` times with backoff. The body is complete before the one create or update
    call, so a failure never leaves a half-written note.
    """
    client = gitlab.Gitlab(
        request.api_url.removesuffix("/").removesuffix("/api/v4"),
        private_token=request.token,
        timeout=30,
        retry_transient_errors=False,
    )
    merge_request = client.projects.get(request.project_id, lazy=True).mergerequests.get(
        request.iid, lazy=True
    )
    attempt = 0
    while True:
        try:
            return _upsert_once(merge_request, marker, body)
        except gitlab.exceptions.GitlabError as error:
            if error.response_code not in _TRANSIENT or attempt == RETRIES:
                raise NoteError(
                    f"GitLab answered {error.response_code}: {error.error_message}"
                ) from None
        except _NETWORK as error:
            if attempt == RETRIES:
                raise NoteError(f"GitLab unreachable: {error}") from None
        except requests.RequestException as error:  # e.g. a malformed CI_API_V4_URL
            raise NoteError(f"GitLab unreachable: {error}") from None
        time.sleep(BACKOFF_SECONDS * 2**attempt)
        attempt += 1


# Answers and failures after which the same request may succeed (python-gitlab's own lists).
_TRANSIENT = frozenset(gitlab.const.RETRYABLE_TRANSIENT_ERROR_CODES)
_NETWORK = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
BACKOFF_SECONDS = 0.5


def _upsert_once(merge_request: Any, marker: str, body: str) -> tuple[str, int]:
    # Our note starts with the marker; a reviewer quoting it ("> <!-- ...") is not ours.
    ours = [
        note
        for note in merge_request.notes.list(iterator=True, per_page=100)
        if note.body.startswith(marker)
    ]
    if not ours:
        created = merge_request.notes.create({"body": body})
        return "created", int(created.id)
    note_id = int(ours[0].id)
    if ours[0].body == body:
        return "unchanged", note_id
    merge_request.notes.update(note_id, {"body": body})
    return "updated", note_id
