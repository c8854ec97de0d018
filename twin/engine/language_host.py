"""The twin's stand-in for ``pulumi-language-python``, the Python language host.

The real host is a Go program that the registries do not serve (docs/twin.md), so the CLI the
twin builds would have no way to run a Python program or a Python policy pack. This one sits
next to the twin's CLI only (.twin/pulumi/cli/, where an installation bundles the real one) and
serves what the CLI asks of a language host, as the real one answers it (read from
pulumi/pulumi's ``sdk/python/cmd/pulumi-language-python``):

- ``GetRequiredPackages``: the Pulumi packages installed in the project's environment, from their
  ``pulumi-plugin.json`` (``GetRequiredPlugins`` is unimplemented, as in the real host);
- ``Run``: the project's own ``__main__.py``, run with ``runpy`` by the Python SDK's own inline
  language runtime (the Automation API's), in this process, which is the project's ``.venv``
  interpreter;
- ``RunPlugin``: a policy pack, ``python -u -m pulumi.policy ENGINE PACK_DIR`` in the pack's own
  virtualenv, made as the real host makes it (uv projects: ``uv sync --inexact`` into it);
- ``InstallDependencies`` (``pulumi install``): ``uv sync`` for uv projects, a venv and
  ``pip install -r requirements.txt`` otherwise.

What the real host does and this one does not: ``uv sync --inexact`` before each run of the
program (the twin's ``make sync`` has made the environment), debugging, type checkers, code
generation, and the policy proxy that passes the stack's config to a pack as environment
variables (the project's pack reads none).
"""

from __future__ import annotations

import json
import os
import queue
import runpy
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any, cast

import grpc
import pulumi
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from spark_streams import sdk
from twin.engine.plugin import serve

# Python packages that are Pulumi packages without a plugin (the real host's list).
_WITHOUT_PLUGINS = frozenset({"pulumi-policy", "pulumi-esc-sdk"})
_ANALYZER = "analyzer"


@dataclass(frozen=True)
class Toolchain:
    """How the real host would run Python for a program or plugin directory."""

    kind: str  # "uv" or "pip"
    root: Path
    virtualenv: Path

    @property
    def python(self) -> Path:
        return self.virtualenv / "bin" / "python"

    def environment(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        """The process environment with the virtualenv activated, as the real host sets it."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
        env["VIRTUAL_ENV"] = str(self.virtualenv)
        env["PATH"] = f"{self.virtualenv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def uv(self, *args: str) -> list[str]:
        uv = shutil.which("uv")
        if uv is None:
            raise RuntimeError(
                "Could not find `uv` executable: the twin puts the project's on PATH"
            )
        return [uv, *args]


def _search_up(start: Path, name: str) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / name).exists():
            return directory
    return None


def resolve_toolchain(root: Path, program: Path, options: Mapping[str, Any]) -> Toolchain:
    """The real host's rule: ``toolchain: uv`` (or none, with a ``uv.lock`` in or above the
    program) is uv, whose virtualenv is ``virtualenv`` (relative to the root) or, unset, the
    ``.venv`` beside the nearest ``uv.lock``/``pyproject.toml``; otherwise pip, in
    ``virtualenv``."""
    chosen = options.get("toolchain")
    virtualenv = options.get("virtualenv")
    if chosen not in (None, "uv", "pip"):
        raise ValueError(f"the twin's language host supports no toolchain {chosen!r}")
    if chosen == "uv" or (chosen is None and _search_up(program, "uv.lock") is not None):
        if virtualenv:
            venv = root / str(virtualenv)
        else:
            project = _search_up(root, "uv.lock") or _search_up(root, "pyproject.toml") or root
            venv = project / os.environ.get("UV_PROJECT_ENVIRONMENT", ".venv")
        return Toolchain("uv", root, venv)
    return Toolchain("pip", root, root / str(virtualenv or "venv"))


def _options(info: language_pb2.ProgramInfo) -> dict[str, Any]:
    return json_format.MessageToDict(info.options)


def required_packages() -> list[plugin_pb2.PackageDependency]:
    """The resource plugins of the Pulumi packages installed in this interpreter's environment."""
    found = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or name.lower().replace("_", "-") in _WITHOUT_PLUGINS:
            continue
        spec = next((f for f in dist.files or () if f.name == "pulumi-plugin.json"), None)
        plugin: dict[str, Any] = json.loads(spec.read_text()) if spec else {}
        if not plugin and not name.startswith("pulumi-"):
            continue
        if plugin and not plugin.get("resource"):
            continue
        version = str(plugin.get("version") or dist.version)
        found.append(
            plugin_pb2.PackageDependency(
                name=str(plugin.get("name") or name.removeprefix("pulumi-")),
                version=version if version.startswith("v") else f"v{version}",
                kind="resource",
                server=str(plugin.get("server", "")),
            )
        )
    return sorted(found, key=lambda p: p.name)


def _run_main(program_dir: Path, entry_point: str) -> None:
    """The project's ``__main__.py``, as the real host's executor runs it: the program's
    directory first on ``sys.path``, run as ``__main__``."""
    entry = program_dir / entry_point
    main = entry / "__main__.py" if entry.is_dir() else entry
    sys.path.insert(0, str(program_dir))
    try:
        runpy.run_path(str(main), run_name="__main__")
    finally:
        sys.path.remove(str(program_dir))


class Streamed:
    """A command run with its stdout and stderr read as it writes them: iterate for
    ("stdout" | "stderr", chunk), then ``returncode`` holds its exit code."""

    def __init__(self, command: list[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.command = command
        self.process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.returncode: int | None = None

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

        def pump(name: str, pipe: IO[bytes]) -> None:
            for chunk in iter(lambda: pipe.read1(65536), b""):  # type: ignore[attr-defined]
                chunks.put((name, chunk))
            chunks.put((name, b""))

        pipes = {"stdout": self.process.stdout, "stderr": self.process.stderr}
        for name, pipe in pipes.items():
            assert pipe is not None
            threading.Thread(target=pump, args=(name, pipe), daemon=True).start()
        open_pipes = len(pipes)
        while open_pipes:
            name, chunk = chunks.get()
            if chunk:
                yield name, chunk
            else:
                open_pipes -= 1
        self.returncode = self.process.wait()


class StandInLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(  # noqa: N802 - gRPC method names
        self, request: language_pb2.LanguageHandshakeRequest, context: grpc.ServicerContext
    ) -> language_pb2.LanguageHandshakeResponse:
        self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        # Build metadata names the stand-in wherever the CLI shows plugin versions.
        return plugin_pb2.PluginInfo(version=f"{metadata.version('pulumi')}+twin.stand-in")

    def GetRequiredPackages(  # noqa: N802
        self, request: language_pb2.GetRequiredPackagesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPackagesResponse:
        info = request.info
        tc = resolve_toolchain(
            Path(info.root_directory), Path(info.program_directory), _options(info)
        )
        if Path(sys.prefix).resolve() != tc.virtualenv.resolve():
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the twin's language host runs in {sys.prefix}, not the program's virtualenv "
                f"{tc.virtualenv}: run `make sync` and start it from there",
            )
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages())

    def Run(  # noqa: N802
        self, request: language_pb2.RunRequest, context: grpc.ServicerContext
    ) -> language_pb2.RunResponse:
        program_dir = Path(request.info.program_directory or request.program)
        entry_point = request.info.entry_point or "."
        os.chdir(request.pwd or program_dir)
        reported: list[pulumi.RunError] = []

        def program() -> None:
            try:
                _run_main(program_dir, entry_point)
            except pulumi.RunError as error:
                reported.append(error)
                raise

        server = sdk.inline_language_server(program)
        # The SDK's servicer is synchronous: it returns the response itself.
        response = cast(language_pb2.RunResponse, server.Run(request, cast(Any, context)))
        if reported and response.error:
            # The SDK's inline server has logged the program's RunError already and returns it
            # as the error too, which the CLI would print a second time as "an unhandled
            # error"; the real host's program reports it once and bails.
            return language_pb2.RunResponse(bail=True)
        return response

    def RunPlugin(  # noqa: N802
        self, request: language_pb2.RunPluginRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.RunPluginResponse]:
        info = request.info
        program_dir = Path(info.program_directory)
        tc = resolve_toolchain(Path(info.root_directory), program_dir, _options(info))
        extra = dict(e.split("=", 1) for e in request.env if "=" in e)
        env = tc.environment(extra)
        if tc.kind == "uv":
            # As the real host before running anything with uv: an inexact sync into the
            # plugin's virtualenv (the project that uv finds from there).
            sync = subprocess.run(
                tc.uv("sync", "--inexact"),
                cwd=tc.root,
                env={**env, "UV_PROJECT_ENVIRONMENT": str(tc.virtualenv)},
                capture_output=True,
                check=False,
            )
            if sync.returncode != 0:
                context.abort(
                    grpc.StatusCode.UNKNOWN,
                    f"error creating virtual environment: {sync.stderr.decode(errors='replace')}",
                )
        if request.kind == _ANALYZER:
            command = [str(tc.python), "-u", "-m", "pulumi.policy", *request.args, str(program_dir)]
            cwd = program_dir
        else:
            command = [str(tc.python), str(program_dir), *request.args]
            cwd = Path(request.pwd or program_dir)
        if not tc.python.exists():
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"problem executing plugin program: {tc.python} does not exist (run "
                f"`pulumi install` in {program_dir})",
            )
        run = Streamed(command, cwd, env)
        for name, chunk in run:
            if name == "stdout":
                yield language_pb2.RunPluginResponse(stdout=chunk)
            else:
                yield language_pb2.RunPluginResponse(stderr=chunk)
        yield language_pb2.RunPluginResponse(exitcode=run.returncode or 0)

    def InstallDependencies(  # noqa: N802
        self, request: language_pb2.InstallDependenciesRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.InstallDependenciesResponse]:
        info = request.info
        directory = Path(info.program_directory or request.directory)
        tc = resolve_toolchain(Path(info.root_directory or directory), directory, _options(info))
        if tc.kind == "uv":
            steps = [
                (
                    tc.uv("sync"),
                    {**tc.environment(), "UV_PROJECT_ENVIRONMENT": str(tc.virtualenv)},
                )
            ]
        else:
            steps = [
                ([sys.executable, "-m", "venv", str(tc.virtualenv)], dict(os.environ)),
                (
                    [str(tc.python), "-m", "pip", "install", "-r", "requirements.txt"],
                    tc.environment(),
                ),
            ]
        for command, env in steps:
            run = Streamed(command, directory, env)
            for name, chunk in run:
                if name == "stdout":
                    yield language_pb2.InstallDependenciesResponse(stdout=chunk)
                else:
                    yield language_pb2.InstallDependenciesResponse(stderr=chunk)
            if run.returncode:
                context.abort(
                    grpc.StatusCode.UNKNOWN,
                    f"installing dependencies failed: {' '.join(command)} exited {run.returncode}",
                )

    def About(  # noqa: N802
        self, request: language_pb2.AboutRequest, context: grpc.ServicerContext
    ) -> language_pb2.AboutResponse:
        version = ".".join(str(p) for p in sys.version_info[:3])
        return language_pb2.AboutResponse(executable=sys.executable, version=version)


def main(argv: list[str]) -> None:
    # As the real host: flags first (ignored), the engine's address last.
    positional = [a for a in argv if not a.startswith("-")]
    engine_address = positional[-1] if positional else ""
    host = StandInLanguageHost(engine_address)
    serve(
        lambda server: language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server),
        engine_address or None,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
