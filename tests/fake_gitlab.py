"""A local stand-in for GitLab's merge-request Notes API: list (paginated), create, update."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOKEN = "glpat-test-token-value"
_NOTES = re.compile(
    r"^/api/v4/projects/(?P<project>[^/]+)/merge_requests/(?P<iid>\d+)/notes(?:/(?P<note>\d+))?$"
)


@dataclass
class FakeGitLab:
    url: str = ""
    notes: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    # status codes to answer the next requests with, instead of serving them
    failures: list[int] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # creates to carry out and then answer 502 to, as if the answer were lost on the way
    lost_create_answers: int = 0
    page_size: int = 2
    next_id: int = 1000

    def mr_notes(self, project: str = "42", iid: int = 7) -> list[dict[str, Any]]:
        return self.notes.setdefault((project, iid), [])


def _handler(state: FakeGitLab) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            parsed = urlparse(self.path)
            state.requests.append((method, parsed.path))
            if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                self._send(401, {"message": "401 Unauthorized"})
                return
            if state.failures:
                self._send(state.failures.pop(0), {"message": "injected failure"})
                return
            match = _NOTES.match(parsed.path)
            if match is None:
                self._send(404, {"message": "404 Not Found"})
                return
            notes = state.mr_notes(match["project"], int(match["iid"]))
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if method == "GET" and match["note"] is None:
                query = parse_qs(parsed.query)
                page = int(query.get("page", ["1"])[0])
                size = min(int(query.get("per_page", ["20"])[0]), state.page_size)
                chunk = notes[(page - 1) * size : page * size]
                headers = {}
                if page * size < len(notes):
                    link = f"{state.url}{parsed.path}?page={page + 1}&per_page={size}"
                    headers = {"Link": f'<{link}>; rel="next"', "X-Next-Page": str(page + 1)}
                self._send(200, chunk, headers)
            elif method == "POST" and match["note"] is None:
                state.next_id += 1
                note = {"id": state.next_id, "body": payload["body"], "system": False}
                notes.append(note)
                if state.lost_create_answers:
                    state.lost_create_answers -= 1
                    self._send(502, {"message": "502 Bad Gateway"})
                    return
                self._send(201, note)
            elif method == "PUT" and match["note"] is not None:
                found = [n for n in notes if n["id"] == int(match["note"])]
                if not found:
                    self._send(404, {"message": "404 Note Not Found"})
                    return
                found[0]["body"] = payload["body"]
                self._send(200, found[0])
            else:
                self._send(405, {"message": "405 Method Not Allowed"})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@contextmanager
def serve() -> Iterator[FakeGitLab]:
    state = FakeGitLab()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
