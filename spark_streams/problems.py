"""Problems in user input, collected and reported together with where they are and the fix."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# pydantic error types -> what to do about them
_FIXES = {
    "missing": "add it",
    "missing_keyword_argument": "add it",
    "unexpected_keyword_argument": "remove it or fix its spelling",
    "extra_forbidden": "remove it or fix its spelling",
    "int_type": "write a whole number (e.g. 2)",
    "int_from_float": "write a whole number (e.g. 2)",
    "int_parsing": "write a whole number (e.g. 2)",
    "greater_than_equal": "use a larger number",
    "greater_than": "use a larger number",
    "less_than_equal": "use a smaller number",
    "literal_error": "use one of the values listed",
    "string_type": "write a string in quotes",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "dict_type": "write a mapping",
    "tuple_type": "write a list",
    "list_type": "write a list",
}


def display_path(path: Path) -> str:
    """``path`` as the user would write it: relative to where they run the command."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``candidates``, or nothing."""
    near = closest(word, candidates)
    return f" Did you mean '{near}'?" if near else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stream file or the stack config."""

    file: str
    stream: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.stream:
            parts.append(f"stream '{self.stream}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        # One line per problem, whatever a stream file's exception said.
        return f"{': '.join(parts)}: {' '.join(self.message.split())}"


class InvalidInputError(Exception):
    """Raised with every problem found; nothing has been registered when it is raised."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        plural = "s" if count != 1 else ""
        head = f"{count} problem{plural} in the streams or stack config; nothing was planned:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


def from_validation_error(
    error: ValidationError,
    *,
    file: str,
    stream: str | None,
    model: type | None = None,
    prefix: str = "",
    stream_file: bool = False,
) -> Iterable[Problem]:
    """One problem per pydantic error; ``stream_file`` words fixes as Python, else as YAML.

    ``model`` is the class that failed, so that a misspelt field gets the closest real one.
    """
    for detail in error.errors():
        message = _describe(detail, stream_file)
        if detail["type"] in _UNKNOWN_FIELD and model is not None:
            *where, unknown = detail["loc"]
            hint = did_you_mean(str(unknown), _field_names(model, where, stream_file))
            message = message.replace(". Fix:", f".{hint} Fix:", 1)
        yield Problem(file, stream, _field_path(prefix, detail), message)


_UNKNOWN_FIELD = ("unexpected_keyword_argument", "extra_forbidden")


def _field_names(model: Any, path: Sequence[str | int], stream_file: bool) -> list[str]:
    """The fields a user may write at ``path`` inside ``model``: Python names in a stream
    file, the YAML (camelCase) names in the stack file."""
    for part in path:
        if isinstance(part, int):
            continue
        fields = _fields(model)
        found = next((f for n, f in fields.items() if part in (n, f.alias)), None)
        if found is None:
            # a mapping's key (e.g. the stack name in `stacks`): the model stays
            continue
        model = _model_in(found.annotation)
        if model is None:
            return []
    return [name if stream_file else (f.alias or name) for name, f in _fields(model).items()]


def _fields(model: Any) -> dict[str, Any]:
    fields = getattr(model, "model_fields", None) or getattr(model, "__pydantic_fields__", None)
    return dict(fields or {})


def _model_in(annotation: Any) -> Any:
    """The settings class inside ``X | None``, ``tuple[X, ...]`` or ``dict[str, X]``."""
    if _fields(annotation):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, dict, typing.Annotated):
        for argument in typing.get_args(annotation):
            inner = _model_in(argument)
            if inner is not None:
                return inner
    return None


def _field_path(prefix: str, detail: ErrorDetails) -> str | None:
    # pydantic puts validator/union branch names in loc; keep only the user's field names
    path = prefix
    for part in detail["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            continue  # a mapping's key: the message says it is the key that is wrong
        elif not part.startswith(("function-", "lax-", "strict-")):
            path = f"{path}.{part}" if path else part
    return path or None


_SETTINGS_GROUP = ("model_type", "model_attributes_type", "dataclass_type")


def _describe(detail: ErrorDetails, stream_file: bool) -> str:
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] in _SETTINGS_GROUP:
        # In a stream file the group is written as its class; in the stack file as a mapping.
        name = (detail.get("ctx") or {}).get("class_name", "")
        if stream_file and name:
            return f"Input should be {name}(...); got {detail['input']!r}. Fix: write {name}(...)"
        return (
            f"Input should be a mapping; got {detail['input']!r}. Fix: write a mapping of its "
            "settings (see Pulumi.yaml)"
        )
    if detail["type"] == "tuple_type" and stream_file and isinstance(detail["input"], str):
        # ("s3://...") is a string in parentheses; the tuple needs its comma.
        return (
            f"Input should be a tuple; got the string {detail['input']!r}. Fix: a one-element "
            f"tuple needs a trailing comma: ({detail['input']!r},)"
        )
    if detail["type"].startswith("int_") and detail["loc"][-1:] == ("cores",):
        fraction = "core_request" if stream_file else "coreRequest"
        return (
            f"{message}; got {detail['input']!r}. Fix: cores are whole CPUs (Spark needs an "
            f"integer): write a whole number, and for a fraction of a CPU set {fraction} "
            "(e.g. '500m' or '1.5')"
        )
    if detail["type"] == "literal_error":
        quote = "; quote it" if not isinstance(detail["input"], str) else ""
        return f"{message}; got {detail['input']!r}{quote}"
    fix = _FIXES.get(detail["type"])
    if detail["type"] in (
        "int_type",
        "int_from_float",
        "int_parsing",
        "greater_than_equal",
        "bool_parsing",
    ):
        message = f"{message}; got {detail['input']!r}"
    return f"{message}. Fix: {fix}" if fix else message
