"""bootstrap/get_uv.py, the Makefile's uv when none is on PATH: the wheel it picks for a
machine, the pins it holds for the Makefile's uv, and an install from a local index (HTML and
JSON simple API) that refuses a wheel whose sha256 is not the pinned one."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import platform
import re
import stat
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bootstrap import get_uv
from tests.conftest import PROJECT

VERSION = re.search(r"^UV_VERSION := (\S+)$", (PROJECT / "Makefile").read_text(), re.M)


def _machine(
    monkeypatch: pytest.MonkeyPatch,
    system: str,
    machine: str,
    libc: tuple[str, str] = ("", ""),
    mac: str = "",
    musl: bool = False,
) -> None:
    monkeypatch.setattr(sys, "platform", system)
    monkeypatch.setattr(platform, "machine", lambda: machine)
    monkeypatch.setattr(platform, "libc_ver", lambda: libc)
    monkeypatch.setattr(platform, "mac_ver", lambda: (mac, ("", "", ""), ""))
    monkeypatch.setattr(get_uv, "_has_musl", lambda: musl)


@pytest.mark.parametrize(
    ("system", "machine", "libc", "mac", "musl", "wheel"),
    [
        (
            "linux",
            "x86_64",
            ("glibc", "2.36"),
            "",
            False,
            "manylinux_2_17_x86_64.manylinux2014_x86_64",
        ),
        ("linux", "aarch64", ("glibc", "2.39"), "", False, "manylinux_2_28_aarch64"),
        (
            "linux",
            "aarch64",
            ("glibc", "2.17"),
            "",
            False,
            "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64",
        ),
        ("linux", "x86_64", ("", ""), "", True, "musllinux_1_1_x86_64"),
        ("darwin", "arm64", ("", ""), "14.5", False, "macosx_11_0_arm64"),
        ("darwin", "x86_64", ("", ""), "10.15.7", False, "macosx_10_12_x86_64"),
    ],
)
def test_the_makefile_uv_is_pinned_and_picked_for_each_common_machine(
    monkeypatch: pytest.MonkeyPatch,
    system: str,
    machine: str,
    libc: tuple[str, str],
    mac: str,
    musl: bool,
    wheel: str,
) -> None:
    assert VERSION, "the Makefile declares UV_VERSION"
    _machine(monkeypatch, system, machine, libc, mac, musl)
    picked = get_uv.pick(VERSION[1], get_uv.read_pins())
    assert picked == f"uv-{VERSION[1]}-py3-none-{wheel}.whl"


def test_a_machine_without_a_wheel_or_a_version_without_pins_is_told_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pins = get_uv.read_pins()
    _machine(monkeypatch, "linux", "x86_64", ("glibc", "2.12"))
    with pytest.raises(get_uv.BootstrapError, match=r"no wheel for linux x86_64 .*put it on PATH"):
        get_uv.pick("0.13.8", pins)
    with pytest.raises(get_uv.BootstrapError, match=r"pins no uv 0\.0\.1: run .* --pin 0\.0\.1"):
        get_uv.pick("0.0.1", pins)


# --- an install from a local index ----------------------------------------------------------

WHEEL = "uv-9.9.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
BINARY = b"#!/bin/sh\necho uv 9.9.9\n"


def _wheel() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("uv-9.9.9.dist-info/METADATA", "Name: uv\nVersion: 9.9.9\n")
        archive.writestr("uv-9.9.9.data/scripts/uv", BINARY)
    return out.getvalue()


class _Index(http.server.BaseHTTPRequestHandler):
    """/simple/uv/ as HTML or JSON (by the query's choice), and the wheel under /files/."""

    wheel = b""
    json_api = False
    logins: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.logins.append(self.headers.get("Authorization", ""))
        if self.path == "/simple/uv/":
            if self.json_api and "application/vnd.pypi.simple.v1+json" in self.headers["Accept"]:
                files = [{"filename": WHEEL, "url": f"../../files/{WHEEL}", "hashes": {}}]
                self._send(json.dumps({"files": files}).encode(), get_uv._JSON)
            else:
                page = f'<html><body><a href="../../files/{WHEEL}#sha256=x">{WHEEL}</a></body>'
                self._send(page.encode(), "text/html")
        elif self.path == f"/files/{WHEEL}":
            self._send(self.wheel, "application/octet-stream")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type[_Index]]:
    """A local index of uv 9.9.9, pinned in a pins file of the test's own."""

    class Handler(_Index):
        wheel = _wheel()
        logins: ClassVar[list[str]] = []

    handler = Handler
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    pins = tmp_path / "uv.sha256"
    pins.write_text(f"{hashlib.sha256(handler.wheel).hexdigest()}  {WHEEL}\n")
    monkeypatch.setattr(get_uv, "PINS", pins)
    monkeypatch.setenv("UV_INDEX_URL", f"http://user:secret@127.0.0.1:{server.server_port}/simple")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    _machine(monkeypatch, "linux", "x86_64", ("glibc", "2.36"))
    yield handler
    server.shutdown()


@pytest.mark.parametrize("json_api", [False, True], ids=["html", "json"])
def test_install_unpacks_the_pinned_wheel_binary(
    index: type[_Index], tmp_path: Path, json_api: bool
) -> None:
    index.json_api = json_api
    dest = tmp_path / ".tools" / "uv-9.9.9" / "bin" / "uv"
    get_uv.install("9.9.9", dest)
    assert dest.read_bytes() == BINARY
    assert dest.stat().st_mode & stat.S_IXUSR
    # The login in the index's URL, sent to the index and not written into any URL.
    assert index.logins == ["Basic dXNlcjpzZWNyZXQ="] * 2


def test_install_refuses_a_wheel_that_is_not_the_pinned_one(
    index: type[_Index], tmp_path: Path
) -> None:
    index.wheel = index.wheel + b"tampered"
    dest = tmp_path / "uv"
    with pytest.raises(get_uv.BootstrapError, match=rf"{re.escape(WHEEL)} has sha256 .* pins"):
        get_uv.install("9.9.9", dest)
    assert not dest.exists()
