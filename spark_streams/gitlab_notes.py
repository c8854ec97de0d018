"""One note per merge request and stack, created or updated in place through python-gitlab."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import gitlab
import requests

# Retries after the first attempt of each API call (python-gitlab backs off 0.1 s, 0.2 s, ...).
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
    """Create the note holding ``marker`` or update it; returns ``(action, note id)``.

    python-gitlab retries rate limits (honouring ``Retry-After``), 5xx answers and network
    errors, :data:`RETRIES` times per call with backoff. The body is complete before the one
    create or update call, so a failure never leaves a half-written note.
    """
    client = gitlab.Gitlab(
        request.api_url.removesuffix("/").removesuffix("/api/v4"),
        private_token=request.token,
        timeout=30,
        retry_transient_errors=True,
    )
    merge_request = client.projects.get(request.project_id, lazy=True).mergerequests.get(
        request.iid, lazy=True
    )
    try:
        ours = [
            note
            for note in merge_request.notes.list(iterator=True, per_page=100, max_retries=RETRIES)
            if marker in note.body
        ]
        if not ours:
            created = merge_request.notes.create({"body": body}, max_retries=RETRIES)
            return "created", int(created.id)
        note_id = int(ours[0].id)
        if ours[0].body == body:
            return "unchanged", note_id
        merge_request.notes.update(note_id, {"body": body}, max_retries=RETRIES)
        return "updated", note_id
    except gitlab.exceptions.GitlabError as error:
        raise NoteError(f"GitLab answered {error.response_code}: {error.error_message}") from None
    except requests.RequestException as error:
        raise NoteError(f"GitLab unreachable: {error}") from None
