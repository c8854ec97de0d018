"""Finding the streams: every ``*.py`` file in the streams directory holds one :class:`Stream`.

Files are compiled and executed directly (no ``__pycache__`` written into the user's directory);
they may import ``_*.py`` helpers beside them. Every failing file is reported, not just the
first one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from spark_streams import model as model_module
from spark_streams.model import Stream
from spark_streams.problems import Problem, display_path, from_validation_error


@dataclass(frozen=True)
class StreamFile:
    path: Path
    stream: Stream
    # When git last added the file (commit time); None: git does not hold it (yet).
    added: int | None = None

    @cached_property
    def label(self) -> str:  # asked for by every check of the stream
        return display_path(self.path)

    def added_order(self) -> tuple[int, str]:
        """Sort key, oldest first: by when git added it (a file it does not hold is newest),
        then by file name where git cannot tell."""
        return (sys.maxsize if self.added is None else self.added, self.path.name)


def stream_paths(directory: Path) -> list[Path]:
    """Stream files, in name order; ``_helpers.py`` and ``__init__.py`` are not streams.

    A ``*.py`` that is not a readable file (a directory, a dangling link) is still listed, so
    that it is reported rather than silently skipped.
    """
    return sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))


def load_streams(directory: Path) -> tuple[list[StreamFile], list[Problem]]:
    if not directory.is_dir():
        return [], [
            Problem(str(directory), None, None, "streams directory not found; pass --streams-dir")
        ]
    paths = stream_paths(directory)
    if not paths:
        # Planned as it is, an empty directory would delete every stream of the stack.
        return [], [
            Problem(
                display_path(directory),
                None,
                None,
                "holds no stream files. Fix: pass --streams-dir (or set streamsDir) to the "
                "directory of stream files; to stop a stream in one stack, keep its file with "
                "stacks={'<stack>': StackOverride(enabled=False)}",
            )
        ]
    loaded: list[tuple[Path, Stream]] = []
    problems: list[Problem] = []
    # Stream files may share constants through `_helpers.py` beside them. Appended, so that
    # nothing there shadows an installed module.
    root = directory.resolve()
    sys.path.append(str(root))
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    modules_before = set(sys.modules)
    try:
        for path in paths:
            stream, found = _load_file(path)
            problems.extend(found)
            if stream is not None:
                loaded.append((path, stream))
    finally:
        sys.path.remove(str(root))
        sys.dont_write_bytecode = write_bytecode
        # Forget those helpers: another streams directory may have its own of the same name.
        for name in set(sys.modules) - modules_before:
            if _loaded_from(sys.modules[name], root):
                del sys.modules[name]
    added = _added_times([path for path, _ in loaded])
    return [
        StreamFile(path, stream, added.get(path.resolve())) for path, stream in loaded
    ], problems


def _added_times(paths: Sequence[Path]) -> dict[Path, int]:
    """When git last added each file: one ``git log`` for them all; nothing outside git."""
    if not paths:
        return {}

    def git(*args: str, cwd: Path) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout

    try:
        top = Path(git("rev-parse", "--show-toplevel", cwd=paths[0].resolve().parent).strip())
        log = git(
            "log",
            "--diff-filter=A",
            "--format=%x00%ct",
            "--name-only",
            "--",
            *(str(p.resolve()) for p in paths),
            cwd=top,
        )
    except (OSError, subprocess.CalledProcessError):
        return {}
    added: dict[Path, int] = {}
    for block in log.split("\0")[1:]:
        stamp, *names = block.strip().splitlines()
        for name in filter(None, names):
            # newest commit first: the first add seen is the latest one
            added.setdefault((top / name).resolve(), int(stamp))
    return added


def _loaded_from(module: object, root: Path) -> bool:
    """The module (or package, namespace packages included) lives under ``root``."""
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(place and Path(place).resolve().is_relative_to(root) for place in places)


def _load_file(path: Path) -> tuple[Stream | None, list[Problem]]:
    label = display_path(path)
    try:
        source = path.read_bytes()
    except OSError as error:
        return None, [
            Problem(
                label,
                None,
                None,
                f"cannot be read ({error.strerror}). Fix: make it a readable Python file, or "
                "remove it",
            )
        ]
    namespace: dict[str, object] = {"__name__": f"streams.{path.stem}", "__file__": str(path)}
    try:
        # Bytes, so that Python itself honours a coding line or reports a bad encoding.
        code = compile(source, str(path), "exec")
        exec(code, namespace)
    except ValidationError as error:
        where = _locate(source, error.title, _failing_line(error, path))
        return None, list(
            from_validation_error(
                error,
                file=label,
                stream=_declared_name(source),
                model=getattr(model_module, error.title, None),
                prefix=where,
                stream_file=True,
            )
        )
    except SyntaxError as error:
        at = f"line {error.lineno}: " if error.lineno else ""
        if error.filename and Path(error.filename) != path:
            at = f"imports {display_path(Path(error.filename))}, {at}"
        return None, [Problem(label, None, None, f"{at}{error.msg}. Fix: correct the syntax")]
    except (Exception, SystemExit) as error:
        # SystemExit too: a stream file must not end the whole plan (or pick its exit code).
        line = _failing_line(error, path)
        at = f"line {line}: " if line else ""
        return None, [
            Problem(
                label,
                _declared_name(source),
                None,
                f"fails to import: {at}{type(error).__name__}: {error}. Fix: make the file "
                "importable (stream files may import installed packages and `_*.py` helpers beside "
                "them)",
            )
        ]
    streams = [value for value in namespace.values() if isinstance(value, Stream)]
    if len(streams) != 1:
        what = "defines no stream" if not streams else f"defines {len(streams)} streams"
        fix = "one file holds exactly one `stream = Stream(name=..., sink=...)`"
        if not streams:
            fix += f"; a file of shared helpers is named with a leading _ (_{path.name})"
        return None, [Problem(label, None, None, f"{what}. Fix: {fix}")]
    return streams[0], []


def _failing_line(error: BaseException, path: Path) -> int | None:
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return line


def _declared_name(source: bytes) -> str | None:
    """The ``name=`` a broken file gives its Stream, so the report can name the stream."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: NUL bytes
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) == "Stream":
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _locate(source: bytes, model: str, line: int | None) -> str:
    """Dotted path (e.g. ``stacks.dev.executor``) of the ``model(...)`` call that failed.

    A nested settings object (``Executor(cores=1.5)``) fails before the Stream exists, so its
    error does not know where it sits; the source does.
    """
    if model in ("Stream", None):
        return ""
    tree = ast.parse(source)
    found: list[str] = []

    def visit(node: ast.AST, path: list[str]) -> None:
        if found:
            return
        if (
            isinstance(node, ast.Call)
            and _callee(node) == model
            and (line is None or node.lineno <= line <= (node.end_lineno or node.lineno))
        ):
            found.append(".".join(path))
            return
        if isinstance(node, ast.keyword) and node.arg:
            visit(node.value, [*path, node.arg])
            return
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                label = str(key.value) if isinstance(key, ast.Constant) else "?"
                visit(value, [*path, label])
            return
        for child in ast.iter_child_nodes(node):
            visit(child, path)

    visit(tree, [])
    return found[0] if found else model.lower()
