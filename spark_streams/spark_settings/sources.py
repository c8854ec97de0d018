"""What Spark's source files define: setting definitions (builder chains), string constants,
enumerations and SparkConf's alternative keys; and the resolution of the names they use."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TypeVar

from spark_streams.spark_settings.tokens import (
    SourceFile,
    Token,
    closing,
    is_token,
    split_args,
    string_value,
    tokenize,
)

BUILDERS = frozenset({"ConfigBuilder", "buildConf", "buildStaticConf"})
TERMINALS = frozenset(
    {"createWithDefault", "createWithDefaultString", "createOptional", "createWithDefaultFunction"}
)


@dataclass(frozen=True)
class Call:
    """One ``.name[T](args)`` of a chain; ``args`` split at top-level commas, ``None`` without
    parentheses."""

    name: str
    args: tuple[tuple[Token, ...], ...] | None


@dataclass(frozen=True)
class Definition:
    """A builder chain that ends in a setting."""

    file: str
    container: str | None
    name: str | None
    key: tuple[Token, ...]
    calls: tuple[Call, ...]
    line: int


@dataclass(frozen=True)
class Constant:
    file: str
    container: str | None
    expression: tuple[Token, ...]


@dataclass(frozen=True)
class Enumeration:
    """A Scala ``Enumeration`` (``java=False``) or a Java ``enum``: its values' names, or
    ``None`` when one of them is not written plainly."""

    file: str
    container: str | None
    names: tuple[str, ...] | None
    java: bool
    to_string_is_name: bool = True  # a Java enum may override toString


@dataclass(frozen=True)
class Alternate:
    """SparkConf's ``configsWithAlternatives``: an old key read, as it is, for a setting."""

    file: str
    setting: tuple[Token, ...]
    old_key: tuple[Token, ...]


@dataclass
class Sources:
    """Everything read from all files, by simple name."""

    definitions: list[Definition] = field(default_factory=list)
    constants: dict[str, list[Constant]] = field(default_factory=lambda: defaultdict(list))
    enumerations: dict[str, list[Enumeration]] = field(default_factory=lambda: defaultdict(list))
    alternates: list[Alternate] = field(default_factory=list)


def _containers(tokens: Sequence[Token]) -> list[str | None]:
    """The innermost named object, class, trait or enum around each token."""
    result: list[str | None] = []
    stack: list[str | None] = []
    pending: str | None = None
    for index, token in enumerate(tokens):
        if token.kind == "ident" and token.text in (
            "object",
            "class",
            "trait",
            "interface",
            "enum",
        ):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.kind == "ident":
                pending = following.text
        elif token.kind == "ident" and token.text in ("def", "val", "var"):
            pending = None
        elif token.text == "{" and token.kind == "punct":
            stack.append(pending)
            pending = None
        elif token.text == "}" and token.kind == "punct" and stack:
            stack.pop()
        result.append(next((name for name in reversed(stack) if name), None))
    return result


def _chain(tokens: Sequence[Token], at: int) -> tuple[tuple[Call, ...], int]:
    """The ``.name[T](args)`` calls from ``at`` on, and the index after them."""
    calls: list[Call] = []
    while (
        at + 1 < len(tokens)
        and is_token(tokens[at], "punct", ".")
        and tokens[at + 1].kind == "ident"
    ):
        name = tokens[at + 1].text
        at += 2
        if at < len(tokens) and is_token(tokens[at], "punct", "["):
            at = closing(tokens, at) + 1
        args = None
        if at < len(tokens) and is_token(tokens[at], "punct", "("):
            end = closing(tokens, at)
            args = split_args(tokens[at + 1 : end])
            at = end + 1
        calls.append(Call(name, args))
    return tuple(calls), at


def _val_name(tokens: Sequence[Token], builder: int) -> str | None:
    """``NAME`` in ``val NAME[: Type] = <builder>``."""
    at = builder - 1
    if at < 0 or not is_token(tokens[at], "op", "="):
        return None
    for back in range(at - 1, max(at - 16, -1), -1):
        token = tokens[back]
        if token.kind == "ident" and token.text in ("val", "var"):
            name = tokens[back + 1]
            return name.text if name.kind == "ident" else None
        if token.kind not in ("ident", "punct") and not is_token(token, "op", ":"):
            return None
    return None


def read_file(source: SourceFile, into: Sources) -> None:
    """Adds the definitions, constants, enumerations and alternates of one file to ``into``."""
    tokens = tokenize(source.text)
    containers = _containers(tokens)
    java = source.path.endswith(".java")
    for index, token in enumerate(tokens):
        if token.kind != "ident":
            continue
        before = tokens[index - 1] if index else None
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            token.text in BUILDERS
            and is_token(following, "punct", "(")
            and not (
                before is not None and before.kind == "ident" and before.text in ("def", "new")
            )
        ):
            end = closing(tokens, index + 1)
            calls, _ = _chain(tokens, end + 1)
            if any(call.name in TERMINALS or call.name == "fallbackConf" for call in calls):
                into.definitions.append(
                    Definition(
                        source.path,
                        containers[index],
                        _val_name(tokens, index),
                        tuple(tokens[index + 2 : end]),
                        calls,
                        token.line,
                    )
                )
        elif token.text == "val" and not java:
            _scala_constant(tokens, index, source.path, containers[index], into)
        elif token.text == "String" and java:
            _java_constant(tokens, index, source.path, containers[index], into)
        elif token.text == "object" and following is not None and following.kind == "ident":
            _scala_enumeration(tokens, index + 1, source.path, containers[index], into)
        elif token.text == "enum" and java and following is not None:
            _java_enumeration(tokens, index + 1, source.path, containers[index], into)
        elif token.text == "configsWithAlternatives" and is_token(following, "op", "="):
            _alternates(tokens, index + 2, source.path, into)


def string_expression_end(tokens: Sequence[Token], at: int) -> int | None:
    """Where a ``term (+ term)*`` string expression from ``at`` ends, if it is one."""
    while True:
        token = tokens[at] if at < len(tokens) else None
        if token is None:
            return None
        if token.kind in ("string", "interp"):
            at += 1
        elif token.kind == "ident":
            at += 1
            while (
                at + 1 < len(tokens)
                and is_token(tokens[at], "punct", ".")
                and tokens[at + 1].kind == "ident"
            ):
                at += 2
        else:
            return None
        following = tokens[at] if at < len(tokens) else None
        if not is_token(following, "op", "+"):
            if following is not None and following.kind == "punct" and following.text in "(.[":
                return None  # a call or a method on the value: not a constant
            return at
        at += 1


def _scala_constant(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    name = tokens[at + 1] if at + 1 < len(tokens) else None
    if name is None or name.kind != "ident":
        return
    at += 2
    if is_token(tokens[at] if at < len(tokens) else None, "op", ":"):
        if not (at + 1 < len(tokens) and tokens[at + 1].text == "String"):
            return
        at += 2
    if not is_token(tokens[at] if at < len(tokens) else None, "op", "="):
        return
    end = string_expression_end(tokens, at + 1)
    if end is not None:
        into.constants[name.text].append(Constant(path, container, tuple(tokens[at + 1 : end])))


def _java_constant(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    if not any(is_token(tokens[back], "ident", "final") for back in range(max(at - 3, 0), at)):
        return
    if (
        at + 2 >= len(tokens)
        or tokens[at + 1].kind != "ident"
        or not is_token(tokens[at + 2], "op", "=")
    ):
        return
    end = string_expression_end(tokens, at + 3)
    if end is not None and end < len(tokens) and is_token(tokens[end], "punct", ";"):
        constant = Constant(path, container, tuple(tokens[at + 3 : end]))
        into.constants[tokens[at + 1].text].append(constant)


def _scala_enumeration(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    # object NAME extends Enumeration { val A, B = Value; val C = Value("c") ... }
    if not (
        at + 3 < len(tokens)
        and is_token(tokens[at + 1], "ident", "extends")
        and is_token(tokens[at + 2], "ident", "Enumeration")
        and is_token(tokens[at + 3], "punct", "{")
    ):
        return
    end = closing(tokens, at + 3)
    body = tokens[at + 4 : end]
    names: list[str] | None = []
    index = 0
    while names is not None and index < len(body):
        if not is_token(body[index], "ident", "val"):
            if body[index].kind == "punct" and body[index].text in "({[":
                index = closing(body, index)
            index += 1
            continue
        identifiers, index = _val_identifiers(body, index + 1)
        names = _enumeration_values(body, index, identifiers, names)
        index += 1
    into.enumerations[tokens[at].text].append(
        Enumeration(path, container, tuple(names) if names is not None else None, java=False)
    )


def _val_identifiers(body: Sequence[Token], index: int) -> tuple[list[str], int]:
    """``A, B: Value`` up to the ``=``: the names, and the index of the ``=``."""
    identifiers: list[str] = []
    while index < len(body) and not is_token(body[index], "op", "="):
        token = body[index]
        if token.kind == "ident" and not is_token(body[index - 1], "op", ":"):
            identifiers.append(token.text)
        index += 1
    return identifiers, index


def _enumeration_values(
    body: Sequence[Token], at: int, identifiers: list[str], names: list[str]
) -> list[str] | None:
    """``Value`` (each identifier), ``Value("name")`` or ``Value(id, "name")`` after ``=``;
    ``None`` for anything else, which this reader does not follow."""
    value = body[at + 1] if at + 1 < len(body) else None
    if not is_token(value, "ident", "Value"):
        return None
    following = body[at + 2] if at + 2 < len(body) else None
    if not is_token(following, "punct", "("):
        return [*names, *identifiers]
    args = split_args(body[at + 3 : closing(body, at + 2)])
    if len(identifiers) != 1:
        return None
    last = args[-1] if args else ()
    if len(last) == 1 and last[0].kind == "string":
        return [*names, string_value(last[0])]
    if len(args) == 1 and len(last) == 1 and last[0].kind == "number":
        return [*names, *identifiers]
    return None


def _java_enumeration(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    # enum NAME { A, B(args), C { body }; ... }
    brace = at + 1
    while brace < len(tokens) and not is_token(tokens[brace], "punct", "{"):
        if is_token(tokens[brace], "punct", ";"):
            return
        brace += 1
    if brace >= len(tokens):
        return
    names: list[str] = []
    index = brace + 1
    while index < len(tokens):
        token = tokens[index]
        if token.kind == "punct" and token.text in ";}":
            break
        if token.kind == "op" and token.text == "@":  # an annotation
            index += 2
            continue
        if token.kind == "ident":
            names.append(token.text)
        elif token.kind == "punct" and token.text in "({":
            index = closing(tokens, index)
        index += 1
    body = tokens[brace : closing(tokens, brace)]
    overrides = any(
        is_token(body[i], "ident", "String") and is_token(body[i + 1], "ident", "toString")
        for i in range(len(body) - 1)
    )
    into.enumerations[tokens[at].text].append(
        Enumeration(path, container, tuple(names), java=True, to_string_is_name=not overrides)
    )


def _alternates(tokens: Sequence[Token], at: int, path: str, into: Sources) -> None:
    # Map[String, Seq[AlternateConfig]]( KEY -> Seq(AlternateConfig("old", "1.3"), ...), ...)
    if not is_token(tokens[at] if at < len(tokens) else None, "ident", "Map"):
        return
    at += 1
    if is_token(tokens[at], "punct", "["):
        at = closing(tokens, at) + 1
    if not is_token(tokens[at], "punct", "("):
        return
    for pair in split_args(tokens[at + 1 : closing(tokens, at)]):
        arrow = next((i for i, token in enumerate(pair) if is_token(token, "op", "->")), None)
        if arrow is None or not is_token(pair[arrow + 1], "ident", "Seq"):
            continue
        seq = pair[arrow + 2 :]
        for alternate in split_args(seq[1:-1]):
            if not (
                is_token(alternate[0], "ident", "AlternateConfig")
                and is_token(alternate[1], "punct", "(")
            ):
                continue
            args = split_args(alternate[2:-1])
            # a third argument translates the old value: that old key is not read as it is
            if len(args) == 2:
                into.alternates.append(Alternate(path, tuple(pair[:arrow]), args[0]))


class Resolver:
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.names: dict[str, list[Definition]] = defaultdict(list)
        for definition in sources.definitions:
            if definition.name:
                self.names[definition.name].append(definition)
        self.keys: dict[int, str | None] = {}
        self.missing: set[str] = set()  # names used and defined in no file read so far

    def string(
        self, tokens: Sequence[Token], file: str, container: str | None, depth: int = 0
    ) -> str | None:
        """The value of a string expression, or ``None`` when a part of it is not known."""
        if depth > 8 or not tokens:
            return None
        end = string_expression_end(tokens, 0)
        if end != len(tokens):
            return None
        parts: list[str] = []
        at = 0
        while at < len(tokens):
            token = tokens[at]
            if token.kind == "string":
                parts.append(string_value(token))
                at += 1
            elif token.kind == "interp":
                if token.text != "s":
                    return None
                for part in token.value:
                    if isinstance(part, str):
                        parts.append(part)
                        continue
                    value = self.string(tokenize(part[1]), file, container, depth + 1)
                    if value is None:
                        return None
                    parts.append(value)
                at += 1
            else:
                names = [tokens[at].text]
                at += 1
                while at + 1 < len(tokens) and is_token(tokens[at], "punct", "."):
                    names.append(tokens[at + 1].text)
                    at += 2
                value = self._name(names, file, container, depth)
                if value is None:
                    return None
                parts.append(value)
            if at < len(tokens):
                at += 1  # the +
        return "".join(parts)

    def _name(self, names: list[str], file: str, container: str | None, depth: int) -> str | None:
        if names[-1] == "key" and len(names) > 1:
            definition = self.definition(names[:-1], file)
            return self.key(definition) if definition else None
        candidates = self.sources.constants.get(names[-1], [])
        found = _pick(candidates, names[:-1], file, container)
        if found is None:
            if not candidates:
                self.missing.add(names[-1])
            return None
        return self.string(found.expression, found.file, found.container, depth + 1)

    def definition(self, names: Sequence[str], file: str) -> Definition | None:
        return _pick(self.names.get(names[-1], []), names[:-1], file, None)

    def key(self, definition: Definition) -> str | None:
        if id(definition) not in self.keys:
            self.keys[id(definition)] = self.string(
                definition.key, definition.file, definition.container
            )
        return self.keys[id(definition)]

    def enumeration(self, names: Sequence[str], file: str) -> Enumeration | None:
        candidates = self.sources.enumerations.get(names[-1], [])
        if not candidates:
            self.missing.add(names[-1])
        return _pick(candidates, names[:-1], file, None)


_Named = TypeVar("_Named", Constant, Definition, Enumeration)


def _pick(
    candidates: Sequence[_Named], qualifier: Sequence[str], file: str, container: str | None
) -> _Named | None:
    """The one candidate a (possibly qualified) name refers to, or ``None`` when it is not sure:
    a qualifier names the object, class or file; else the same object, then the same file."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if qualifier:
        owner = qualifier[-1]
        chosen = [
            c
            for c in candidates
            if owner in (c.container, PurePosixPath(c.file).stem)
            or (owner == PurePosixPath(c.file).parent.name and c.file.endswith("/package.scala"))
        ]
    else:
        chosen = [c for c in candidates if c.file == file and c.container == container]
        chosen = chosen or [c for c in candidates if c.file == file]
    return chosen[0] if len(chosen) == 1 else None
