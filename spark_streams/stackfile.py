"""The one reader of a stack's config: ``Pulumi.<stack>.yaml`` offline, Pulumi's config under the
engine. Both give a :class:`StackSource`: our keys as plain values, which of them are secret,
and the text that must never be shown (ciphertexts, anything under ``secrets``).

Encrypted values cannot be read without the stack's secrets provider, so they come back as
:data:`SECRET_PLACEHOLDER`: only their presence matters here. A value under ``secrets`` that
is *not* the placeholder sits in git in plain text, and the config model refuses it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spark_streams.problems import InvalidInputError, Problem, display_path

PROJECT = "spark-streams"
SECRET_PLACEHOLDER = "[secret]"
_PREFIX = f"{PROJECT}:"
# What YAML may hold in a stack file: what `pulumi config` writes and reads back.
_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class StackSource:
    stack: str
    # Where problems with the config point (the stack file, as the user would write its path).
    file: str
    values: dict[str, Any]
    secret_keys: frozenset[str]
    # Ciphertexts and every value under `secrets`: masked wherever text leaves the machine.
    sensitive: tuple[str, ...]


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def known_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def read(project_dir: Path, stack: str) -> StackSource:
    """The stack file, or :class:`InvalidInputError` saying what is wrong with it."""
    path = stack_file(project_dir, stack)
    label = display_path(path)

    def refuse(field: str | None, message: str) -> InvalidInputError:
        return InvalidInputError([Problem(label, None, field, message)])

    try:
        # Bytes: PyYAML reports a bad encoding as a YAMLError, with where it is.
        document = yaml.safe_load(path.read_bytes()) or {}
    except OSError as error:
        raise refuse(None, f"cannot be read ({error.strerror})") from None
    except yaml.reader.ReaderError as error:
        raise refuse(
            None, f"byte {error.position}: not UTF-8 ({error.reason}). Fix: save it as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        at = f"line {where.line + 1}: " if where else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise refuse(None, f"{at}{problem}. Fix: correct the YAML syntax") from None
    if not isinstance(document, dict):
        raise refuse(None, "is not a mapping. Fix: start the file with `config:`")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise refuse(
            "config",
            "is not a mapping. Fix: write one `spark-streams:<key>: <value>` per line under "
            "`config:` (see Pulumi.yaml)",
        )
    problems = [
        Problem(label, None, key.removeprefix(_PREFIX), message) for key, message in _not_plain(raw)
    ]
    if problems:
        raise InvalidInputError(problems)
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in raw.items():
        if isinstance(key, str) and key.startswith(_PREFIX):
            name = key.removeprefix(_PREFIX)
            values[name], is_secret = _unwrap_secure(value)
            if is_secret:
                secret.add(name)
    sensitive = [*leaves(raw.get(f"{_PREFIX}secrets")), *_ciphertexts(raw)]
    return StackSource(stack, label, values, frozenset(secret), tuple(sensitive))


def from_engine(project_dir: Path) -> StackSource:
    """Our keys as the Pulumi engine hands them to the program.

    Every key of ours that is set, known or not, so that a typo is reported, not ignored.
    Pulumi marks the whole ``secrets`` object secret as soon as one value in it is, so only the
    stack file tells a plain value beside encrypted ones: the file is asked that, and only that.
    """
    import pulumi  # only under the engine: the offline commands never need it here

    from spark_streams import sdk

    stack = pulumi.get_stack()
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for key in sorted(k for k in sdk.config_keys() if k.startswith(_PREFIX)):
        name = key.removeprefix(_PREFIX)
        # The raw getter: pulumi.Config warns on reading a secret, and we only need its keys.
        values[name] = config_value(pulumi.runtime.get_config(key) or "")
        if pulumi.runtime.is_config_secret(key):
            secret.add(name)
    path = stack_file(project_dir, stack)
    on_disk = read(project_dir, stack) if path.is_file() else None
    if isinstance(values.get("secrets"), dict) and "secrets" in secret:
        written = on_disk.values.get("secrets") if on_disk else None
        written = written if isinstance(written, dict) else {}
        # The engine's value says whether a secret is set (a `--config-file` other than the
        # project's may set what the project's file declares null); the file, whether a set
        # value is in plain text.
        values["secrets"] = {
            k: None if v is None else (written.get(k) or SECRET_PLACEHOLDER)
            for k, v in values["secrets"].items()
        }
    return StackSource(
        stack,
        display_path(path),
        values,
        frozenset(secret),
        on_disk.sensitive if on_disk else (),
    )


def config_value(raw: str) -> Any:
    """A config value as the program reads it: objects and lists arrive as JSON text.

    Every other key of ours is a string, so ``clusterName: "1234"`` stays the string "1234".
    """
    if raw.startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(raw)
    return raw


def config_string(value: Any) -> str:
    """How ``pulumi config`` hands a value to a program: strings as-is, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _not_plain(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """Values a YAML tag turned into something Pulumi config cannot hold (bytes, dates, sets)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _not_plain(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _not_plain(item, f"{path}[{index}]")
    elif not isinstance(value, _PLAIN):
        yield (
            path,
            f"is a YAML {type(value).__name__}, not a string, number, boolean, list or mapping. "
            "Fix: remove the YAML tag (e.g. !!binary) and write the value in quotes",
        )


def _unwrap_secure(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_PLACEHOLDER, True
        pairs = {k: _unwrap_secure(v) for k, v in value.items()}
        return {k: p[0] for k, p in pairs.items()}, any(p[1] for p in pairs.values())
    if isinstance(value, list):
        items = [_unwrap_secure(v) for v in value]
        return [p[0] for p in items], any(p[1] for p in items)
    return value, False


def _ciphertexts(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            yield str(value["secure"])
        else:
            for item in value.values():
                yield from _ciphertexts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ciphertexts(item)


def leaves(value: Any) -> Iterable[str]:
    """Every scalar in ``value`` as text; JSON text is opened too (``pulumi config --json``
    may hold an object as a JSON string)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    elif value is not None:
        text = str(value)
        yield text
        if text.startswith(("{", "[")):
            with contextlib.suppress(json.JSONDecodeError):
                yield from leaves(json.loads(text))
