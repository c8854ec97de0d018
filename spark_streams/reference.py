"""The settings reference, generated from the models: ``Pulumi.yaml``'s ``config:`` block and the
tables in docs/streams.md, so that neither can drift from what is validated.

``python -m spark_streams.reference`` (``make reference``) rewrites both; ``--check`` says which
is stale and exits 1 (the tests run the check).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from spark_streams import program_conf, settings
from spark_streams.config import SparkSection, StackConfig
from spark_streams.model import StackOverride, Stream
from spark_streams.settings import (
    Deps,
    Driver,
    Executor,
    RestartPolicy,
    StackSparkSettings,
    StreamSettings,
)
from spark_streams.types import Shown

PULUMI_YAML = "Pulumi.yaml"
STREAMS_DOC = "docs/streams.md"


# --- types and defaults, as a reader writes them ---------------------------------------------


def type_name(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """``annotation`` in words: its :class:`~spark_streams.types.Shown` name where it has one."""
    shown = next((m.name for m in metadata if isinstance(m, Shown)), None)
    if shown:
        return shown
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(arguments[0], arguments[1:])
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in arguments)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in arguments if a is not type(None)]
        inner = " or ".join(type_name(a) for a in kept)
        return f"{inner} or none" if len(kept) < len(arguments) else inner
    if origin is dict:
        return f"mapping of {type_name(arguments[0])} to {type_name(arguments[1])}"
    if origin is tuple:
        return f"list of {type_name(arguments[0])}"
    if isinstance(annotation, type) and (
        issubclass(annotation, BaseModel) or hasattr(annotation, "__pydantic_fields__")
    ):
        return annotation.__name__
    names = {str: "string", bool: "boolean", int: "integer", float: "number", Any: "any value"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def shown_default(value: Any) -> str:
    if value is settings.REQUIRED or value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        written = value.model_dump(exclude_defaults=True, by_alias=True)
        return f"`{type(value).__name__}()`" if not written else f"`{written}`"
    if value in ({}, ()):
        return "none"
    if value is None:
        return "none"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _field_default(info: FieldInfo) -> Any:
    if info.is_required():
        return PydanticUndefined
    return info.get_default(call_default_factory=True)


def _fields(cls: Any) -> Mapping[str, FieldInfo]:
    found: Mapping[str, FieldInfo] = getattr(cls, "model_fields", None) or getattr(
        cls, "__pydantic_fields__", {}
    )
    return found


# --- the tables ------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [f"| {' | '.join(header)} |", f"| {' | '.join('---' for _ in header)} |"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def stream_table() -> str:
    """A stream file's fields: its own, then the settings it shares with its stack."""
    declared = {s.name: s for s in settings.settings_of(StreamSettings)}
    rows = []
    for name, info in _fields(Stream).items():
        setting = declared.get(name)
        if setting is None:
            merge = "the stream's own"
            default = shown_default(_field_default(info))
        else:
            merge = setting.declared.rule.value
            default = (
                "the stack's"
                if name in _fields(StackSparkSettings)
                else shown_default(setting.declared.default)
            )
        rows.append(
            (
                f"`{name}`",
                type_name(info.annotation, info.metadata),
                default,
                merge,
                info.description or "",
            )
        )
    extra = _fields(StackOverride)["enabled"]
    rows.append(
        ("`enabled` (StackOverride only)", "boolean", "`true`", "-", extra.description or "")
    )
    return _table(("field", "type", "default", "merge over the stack's", "what it does"), rows)


def spark_table() -> str:
    """The stack's ``spark:`` section: every setting's camelCase key and declared default."""
    rows = [
        (
            f"`{s.camel}`",
            type_name(
                _fields(SparkSection)[s.name].annotation, _fields(SparkSection)[s.name].metadata
            ),
            shown_default(s.declared.default),
            "stack only" if s.name not in _fields(StreamSettings) else s.declared.rule.value,
            s.description,
        )
        for s in settings.settings_of(SparkSection)
    ]
    return _table(("key", "type", "default", "a stream's value", "what it does"), rows)


def group_tables() -> str:
    """The setting groups a stream writes as ``Driver(...)`` and the stack as a mapping."""
    parts = []
    for group in (Driver, Executor, RestartPolicy, Deps):
        rows = [
            (
                f"`{name}` / `{info.alias or name}`",
                type_name(info.annotation, info.metadata),
                shown_default(_field_default(info)),
                info.description or "",
            )
            for name, info in group.model_fields.items()
        ]
        title = f"**`{group.__name__}(...)`**: {(group.__doc__ or '').strip().splitlines()[0]}"
        parts.append(
            f"{title}\n\n{_table(('field / key', 'type', 'default', 'what it does'), rows)}"
        )
    return "\n\n".join(parts)


def _stack_sections() -> Iterator[tuple[str, type[BaseModel]]]:
    for name, info in StackConfig.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield info.alias or name, annotation


def stack_table() -> str:
    """Every key of a stack file, and each section's own keys."""
    rows = [
        (
            f"`{info.alias or name}`",
            type_name(info.annotation, info.metadata),
            shown_default(_field_default(info)),
            info.description or "",
        )
        for name, info in StackConfig.model_fields.items()
    ]
    parts = [_table(("key", "type", "default", "what it is"), rows)]
    for key, section in _stack_sections():
        section_rows = [
            (
                f"`{key}.{info.alias or name}`",
                type_name(info.annotation, info.metadata),
                shown_default(_field_default(info)),
                info.description or "",
            )
            for name, info in section.model_fields.items()
        ]
        parts.append(_table(("key", "type", "default", "what it is"), section_rows))
    return "\n\n".join(parts)


def conf_table() -> str:
    """The conf the program writes: the defaults a stream may change, the keys it owns."""
    defaults = [
        (f"`{key}`", f"`{value}`") for key, value in program_conf.SPARK_DEFAULTS.items()
    ] + [
        (f"`{program_conf.HADOOP_PREFIX}{key}`", f"`{value}`")
        for key, value in program_conf.HADOOP_DEFAULTS.items()
    ]
    owned = [(f"`{_readable(o.pattern)}`", o.instead) for o in program_conf.OWNED]
    return (
        "Defaults a stream's `spark_conf` may change:\n\n"
        + _table(("key", "default"), defaults)
        + "\n\nKeys the program owns (refused in `spark_conf`, with what to write instead):\n\n"
        + _table(("keys", "write instead"), owned)
    )


def _readable(pattern: str) -> str:
    """A key pattern as a reader scans it: ``spark.kubernetes.(driver|executor).label.*``."""
    text = pattern.replace("(?:", "(").replace("\\.", ".").replace(".+", "*")
    return text.replace("<bucket>", "<stack bucket>").replace("|", "\\|")


TABLES = {
    "stream": stream_table,
    "groups": group_tables,
    "spark": spark_table,
    "stack": stack_table,
    "conf": conf_table,
}


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


def streams_doc(current: str) -> str:
    """docs/streams.md with each ``<!-- reference:NAME -->`` block regenerated."""
    for name, make in TABLES.items():
        start, end = f"<!-- reference:{name} -->", f"<!-- /reference:{name} -->"
        pattern = re.compile(rf"{re.escape(start)}.*?{re.escape(end)}", re.DOTALL)
        if not pattern.search(current):
            raise ValueError(f"{STREAMS_DOC} has no {start} ... {end} block")
        # A function, so that backslashes in the tables are not read as group references.
        current = pattern.sub(_literal(f"{start}\n\n{make()}\n\n{end}"), current)
    return current


# --- Pulumi.yaml -----------------------------------------------------------------------------


def _pulumi_type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return "boolean"
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "object"
    if hasattr(annotation, "__pydantic_fields__"):
        return "object"
    return "string"


def _keys_of(section: Any) -> str:
    keys = []
    for name, info in _fields(section).items():
        key = info.alias or name
        if typing.get_origin(info.annotation) is Literal:
            key += ": " + "|".join(str(a) for a in typing.get_args(info.annotation))
        keys.append(key)
    return "{" + ", ".join(keys) + "}"


def pulumi_config() -> dict[str, dict[str, Any]]:
    """The ``config:`` block: every stack key's type, default and description."""
    block: dict[str, dict[str, Any]] = {}
    for name, info in StackConfig.model_fields.items():
        annotation = info.annotation
        kind = _pulumi_type(annotation)
        description = info.description or ""
        if kind == "object" and isinstance(annotation, type):
            description = f"{description}: {_keys_of(annotation)}"
        entry: dict[str, Any] = {"type": kind}
        if not info.is_required():
            default = _field_default(info)
            # Objects default to {}: the program fills in each section's own defaults.
            entry["default"] = {} if kind == "object" else default
        entry["description"] = description
        block[info.alias or name] = entry
    return block


_PULUMI_HEAD = """\
# Keys of the `spark-streams:` namespace, generated from spark_streams/config.py by
# `make reference` (a test checks it is current). `type: object` needs Pulumi CLI 3.186 or newer;
# a key without a default is required by `pulumi up`.
"""


def pulumi_yaml(current: str) -> str:
    """``Pulumi.yaml`` with its project head kept and the ``config:`` block regenerated."""
    head = current.split("\n# Keys of the `spark-streams:` namespace", 1)[0]
    head = head.split("\nconfig:", 1)[0].rstrip("\n") + "\n"
    body = yaml.safe_dump({"config": pulumi_config()}, sort_keys=False, width=100_000)
    return head + _PULUMI_HEAD + body


# --- the command -----------------------------------------------------------------------------

TARGETS = {PULUMI_YAML: pulumi_yaml, STREAMS_DOC: streams_doc}


def stale(project_dir: Path) -> list[str]:
    """The generated files that differ from what the models say."""
    return [
        name
        for name, make in TARGETS.items()
        if (text := (project_dir / name).read_text()) != make(text)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spark_streams.reference", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say what is stale (exit 1)")
    args = parser.parse_args(argv)
    project_dir = Path(__file__).resolve().parent.parent
    found = stale(project_dir)
    if args.check:
        for name in found:
            print(f"{name} is stale: run `make reference`", file=sys.stderr)
        return 1 if found else 0
    for name in found:
        path = project_dir / name
        path.write_text(TARGETS[name](path.read_text()))
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
