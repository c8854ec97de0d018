"""Install the pinned uv with nothing but the standard library of the Python that runs this.

A stock Debian or Ubuntu python3 has no pip, and no venv with pip until python3-venv is
installed, so the Makefile uses neither: this downloads uv's wheel for this machine from the
package index (PyPI, or the first of $UV_DEFAULT_INDEX, $UV_INDEX_URL, $PIP_INDEX_URL that is
set), checks it against the sha256 pinned in uv.sha256 beside this file, and unpacks the uv
binary. Proxies come from $https_proxy and $no_proxy, CA certificates from $SSL_CERT_FILE.

usage: python3 bootstrap/get_uv.py VERSION DEST   install uv VERSION as the file DEST
       python3 bootstrap/get_uv.py --pin VERSION  pin VERSION's wheels (after a bump)
"""

from __future__ import annotations

import sys

try:
    import base64
    import hashlib
    import io
    import json
    import os
    import platform
    import re
    import ssl
    import tempfile
    import urllib.parse
    import urllib.request
    import zipfile
    from html.parser import HTMLParser
    from pathlib import Path
except ImportError as missing:  # Debian's python3-minimal alone has no json, html or http
    sys.exit(
        f"uv bootstrap: this python3 has no {missing.name} module: install the full python3 "
        "(Debian/Ubuntu: apt-get install python3), or put uv on PATH"
    )

PINS = Path(__file__).with_name("uv.sha256")
PYPI = "https://pypi.org/simple/"
_JSON = "application/vnd.pypi.simple.v1+json"
# Older manylinux tags, by the glibc version they stand for.
_LEGACY = {
    "manylinux1": "manylinux_2_5",
    "manylinux2010": "manylinux_2_12",
    "manylinux2014": "manylinux_2_17",
}


class BootstrapError(Exception):
    """What went wrong, in one line for the user."""


# --- which wheel ----------------------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def _fit(tag: str) -> tuple[int, ...] | None:
    """How closely one platform tag of a wheel fits this machine (higher is closer), or None."""
    machine = platform.machine().lower()
    if sys.platform == "darwin":
        found = re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", tag)
        if not found or found[3] not in (machine, "universal2"):
            return None
        wanted = (int(found[1]), int(found[2]))
        return wanted if wanted <= _version(platform.mac_ver()[0]) else None
    if not sys.platform.startswith("linux"):
        return None
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    for legacy, policy in _LEGACY.items():
        tag = tag.replace(f"{legacy}_", f"{policy}_")
    found = re.fullmatch(r"(manylinux|musllinux)_(\d+)_(\d+)_(\w+)", tag)
    if not found or found[4] != machine:
        return None
    wanted = (int(found[2]), int(found[3]))
    libc, libc_version = platform.libc_ver()
    if found[1] == "manylinux":
        return wanted if libc == "glibc" and wanted <= _version(libc_version) else None
    # musl has been 1.2 for years (Alpine 3.13 on); uv's wheels ask for 1.1.
    return wanted if not libc and _has_musl() and wanted <= (1, 2) else None


def _has_musl() -> bool:
    return any(Path("/lib").glob("ld-musl-*.so.1"))


def pick(version: str, pins: dict[str, str]) -> str:
    """The pinned wheel of uv ``version`` that fits this machine best."""
    prefix = f"uv-{version}-"
    fits: dict[str, tuple[int, ...]] = {}
    for name in pins:
        if name.startswith(prefix) and name.endswith(".whl"):
            tags = name.removesuffix(".whl").rsplit("-", 1)[-1].split(".")
            scores = [score for score in map(_fit, tags) if score is not None]
            if scores:
                fits[name] = max(scores)
    if fits:
        return max(fits, key=fits.__getitem__)
    if not any(name.startswith(prefix) for name in pins):
        raise BootstrapError(
            f"{PINS} pins no uv {version}: run python3 bootstrap/get_uv.py --pin {version}"
        )
    libc = " ".join(platform.libc_ver()).strip() or "no glibc"
    raise BootstrapError(
        f"uv {version} has no wheel for {sys.platform} {platform.machine()} ({libc}): "
        "install uv (https://docs.astral.sh/uv/) and put it on PATH"
    )


def read_pins() -> dict[str, str]:
    """Wheel file name -> sha256, from uv.sha256 (`sha256sum`'s format)."""
    pins = {}
    for line in PINS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            pins[name] = digest
    return pins


# --- the index ------------------------------------------------------------------------------


class Index:
    """The package index, as pip and uv would be told of it; a login in its URL is sent as
    basic auth to its own host only."""

    def __init__(self) -> None:
        variables = ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
        url = next((os.environ[v] for v in variables if os.environ.get(v)), PYPI)
        parts = urllib.parse.urlsplit(url.rstrip("/") + "/")
        self.host = parts.hostname or ""
        self.auth = None
        if parts.username:
            login = f"{parts.username}:{parts.password or ''}"
            self.auth = "Basic " + base64.b64encode(urllib.parse.unquote(login).encode()).decode()
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        self.url = urllib.parse.urlunsplit(parts)

    def get(self, url: str, accept: str = "*/*") -> tuple[bytes, str, str]:
        """The body, content type and final URL of ``url``."""
        headers = {"Accept": accept, "User-Agent": "spark-streams-bootstrap"}
        if self.auth and urllib.parse.urlsplit(url).hostname == self.host:
            headers["Authorization"] = self.auth
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read(), response.headers.get_content_type(), response.geturl()
        except OSError as error:  # URLError, HTTPError, timeouts, certificates
            if isinstance(getattr(error, "reason", None), ssl.SSLCertVerificationError):
                hint = "CA certificates: apt-get install ca-certificates, or SSL_CERT_FILE"
            else:
                hint = "behind a proxy: set https_proxy; a mirror: UV_INDEX_URL"
            raise BootstrapError(
                f"cannot download {url}: {error} ({hint}; or put uv on PATH)"
            ) from None

    def files(self) -> dict[str, tuple[str, str | None]]:
        """uv's files (from the JSON or the HTML simple API): name -> (URL, sha256 if given)."""
        body, content_type, page = self.get(self.url + "uv/", f"{_JSON}, text/html;q=0.1")
        if content_type == _JSON:
            entries = json.loads(body)["files"]
            links = [(entry["filename"], entry["url"]) for entry in entries]
            digests = {entry["filename"]: entry["hashes"].get("sha256") for entry in entries}
        else:
            parser = _Anchors()
            parser.feed(body.decode())
            links = parser.links
            digests = {}
        found: dict[str, tuple[str, str | None]] = {}
        for name, link in links:
            url, _, fragment = urllib.parse.urljoin(page, link).partition("#")
            digest = digests.get(name) or fragment.removeprefix("sha256=") or None
            found[name] = (url, digest if digest and len(digest) == 64 else None)
        return found


class _Anchors(HTMLParser):
    """The links of a PEP 503 project page: (file name, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._href = dict(attrs).get("href") if tag == "a" else None

    def handle_data(self, data: str) -> None:
        if self._href and data.strip():
            self.links.append((data.strip(), self._href))
            self._href = None


# --- the two commands -----------------------------------------------------------------------


def install(version: str, dest: Path) -> None:
    pins = read_pins()
    name = pick(version, pins)
    index = Index()
    url = index.files().get(name, (None, None))[0]
    if url is None:
        raise BootstrapError(f"{index.url}uv/ does not list {name}")
    wheel = index.get(url)[0]
    digest = hashlib.sha256(wheel).hexdigest()
    if digest != pins[name]:
        raise BootstrapError(f"{url} has sha256 {digest}, but {PINS} pins {pins[name]}")
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        member = f"uv-{version}.data/scripts/uv"
        if member not in archive.namelist():
            raise BootstrapError(f"{name} has no {member}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Written beside DEST, then renamed: an interrupted run leaves no half binary there.
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as out:
            out.write(archive.read(member))
    os.chmod(out.name, 0o755)
    os.replace(out.name, dest)


def pin(version: str) -> None:
    """Pin the index's sha256 of every wheel of uv ``version`` (as `uv lock` trusts it)."""
    prefix = f"uv-{version}-"
    found = {n: d for n, (_, d) in Index().files().items() if n.startswith(prefix)}
    wheels = {name: digest for name, digest in sorted(found.items()) if name.endswith(".whl")}
    if not wheels or None in wheels.values():
        raise BootstrapError(f"the index lists no wheels of uv {version} with their sha256")
    lines = [f"# uv {version}'s wheels: python3 bootstrap/get_uv.py --pin {version}"]
    lines += [f"{digest}  {name}" for name, digest in wheels.items()]
    PINS.write_text("\n".join(lines) + "\n")
    print(f"{PINS}: {len(wheels)} wheels of uv {version}")


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "--pin":
            pin(argv[1])
        elif len(argv) == 2 and not argv[0].startswith("-"):
            install(argv[0], Path(argv[1]))
        else:
            print(__doc__.split("usage: ")[1].rstrip(), file=sys.stderr)
            return 2
    except BootstrapError as error:
        print(f"uv bootstrap: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
