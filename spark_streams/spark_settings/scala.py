"""Spark's setting definitions read out of its Scala and Java sources (for the generator).

Spark defines each setting as a builder chain, e.g.::

    val SHUFFLE_PARTITIONS = buildConf("spark.sql.shuffle.partitions")
      .version("1.1.0").intConf.checkValue(_ > 0, "...").createWithDefault(200)

:func:`read_settings` tokenizes every file, resolves the key expressions (literals, string
constants of Spark's own, ``s"..."`` interpolation, ``+``), follows each chain and turns it into
a :class:`~spark_streams.spark_settings.table.Setting`. It reads only what it can be sure of:
a lambda other than a plain comparison or set membership is left out, and what it leaves out
is said in the setting's ``note`` or in ``untyped``. Pure: no files, no network.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal, TypeVar

from spark_streams.spark_settings.table import Bound, Comparison, Fold, Kind, Op, Setting
from spark_streams.spark_settings.values import BYTE_UNITS, TIME_UNITS

BUILDERS = frozenset({"ConfigBuilder", "buildConf", "buildStaticConf"})
_TYPES: Mapping[str, Kind] = {
    "intConf": "int",
    "longConf": "long",
    "doubleConf": "double",
    "booleanConf": "boolean",
    "stringConf": "string",
    "regexConf": "regex",
}
_TERMINALS = frozenset(
    {"createWithDefault", "createWithDefaultString", "createOptional", "createWithDefaultFunction"}
)
# Builder calls that do not change what Spark accepts.
_NEUTRAL = frozenset(
    {"doc", "version", "internal", "onCreate", "withBindingPolicy", "withPrepended"}
)
_TRANSFORMS: Mapping[str, Fold] = {
    "_.toUpperCase(Locale.ROOT)": "upper",
    "_.toLowerCase(Locale.ROOT)": "lower",
    "_.trim": "trim",
    "_.trim()": "trim",
}
_CONSTANTS: Mapping[str, int] = {
    "Int.MaxValue": (1 << 31) - 1,
    "Int.MinValue": -(1 << 31),
    "Long.MaxValue": (1 << 63) - 1,
    "Long.MinValue": -(1 << 63),
}
_OPS: frozenset[str] = frozenset({"<", "<=", ">", ">=", "==", "!="})
_FLIPPED: Mapping[Op, Op] = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}

TokenKind = Literal["ident", "op", "punct", "string", "interp", "number", "char"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    line: int
    # strings: the decoded text; interpolated strings: literal parts and ("$", expression)
    value: tuple[str | tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SourceFile:
    path: str  # inside its jar, e.g. org/apache/spark/internal/config/package.scala
    text: str


# --- tokens -------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*|`[^`\n]+`")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+[lL]?|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9]+)?[fFdDlL]?"
)
_OPERATOR = re.compile(r"[!#%&*+\-/:<=>?@\\^|~]+")
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


# One pattern for everything but strings and block comments, which the lexer walks itself.
_SIMPLE = re.compile(
    r"(?P<space>\s+)|(?P<line>//[^\n]*)|(?P<block>/\*)|(?P<quote>\")|(?P<char>')"
    rf"|(?P<ident>{_IDENT.pattern})|(?P<number>{_NUMBER.pattern})"
    rf"|(?P<punct>[()\[\]{{}},;.])|(?P<op>{_OPERATOR.pattern})"
)
_SIMPLE_KINDS: Mapping[str, TokenKind] = {"number": "number", "punct": "punct", "op": "op"}
_COMMENT_MARK = re.compile(r"/\*|\*/")
_STRING_RUN = re.compile(r'[^"\\$\n]+')


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line = 1

    def tokens(self) -> Iterator[Token]:
        text = self.text
        while self.at < len(text):
            match = _SIMPLE.match(text, self.at)
            if match is None:
                self.at += 1  # e.g. a stray unicode arrow: not part of anything read here
                continue
            kind = match.lastgroup
            if kind == "quote":
                yield self._string(interpolated=False)
            elif kind == "char":
                yield self._char()
            elif kind == "block":
                self._block_comment()
            elif kind in ("space", "line"):
                self.line += match[0].count("\n")
                self.at = match.end()
            elif kind == "ident" and text.startswith('"', match.end()) and match[0][0] != "`":
                self.at = match.end()
                yield self._string(interpolated=match[0] != "raw", prefix=match[0])
            else:
                self.at = match.end()
                simple: TokenKind = "ident" if kind == "ident" else _SIMPLE_KINDS[kind or ""]
                yield Token(simple, match[0].strip("`") if kind == "ident" else match[0], self.line)

    def _block_comment(self) -> None:
        # Scala's block comments nest.
        depth, start = 1, self.at
        self.at += 2
        while depth:
            mark = _COMMENT_MARK.search(self.text, self.at)
            if mark is None:
                self.at = len(self.text)
                break
            depth += 1 if mark[0] == "/*" else -1
            self.at = mark.end()
        self.line += self.text.count("\n", start, self.at)

    def _char(self) -> Token:
        match = re.compile(r"'(?:\\u[0-9a-fA-F]{4}|\\.|[^\\'\n])'").match(self.text, self.at)
        if match is None:  # a Scala symbol literal such as 'name
            self.at += 1
            return Token("op", "'", self.line)
        self.at = match.end()
        return Token("char", match[0], self.line)

    def _string(self, *, interpolated: bool, prefix: str = "") -> Token:
        text, line = self.text, self.line
        triple = text.startswith('"""', self.at)
        self.at += 3 if triple else 1
        parts: list[str | tuple[str, str]] = []
        literal: list[str] = []
        while self.at < len(text):
            run = _STRING_RUN.match(text, self.at)
            if run is not None and run.end() > self.at:
                literal.append(run[0])
                self.line += run[0].count("\n")
                self.at = run.end()
                continue
            char = text[self.at]
            if triple and text.startswith('"""', self.at):
                # the closing quotes are the last three of a run: extra ones belong to the text
                end = self.at + 3
                while end < len(text) and text[end] == '"':
                    end += 1
                literal.append(text[self.at : end - 3])
                self.at = end
                break
            if not triple and char == '"':
                self.at += 1
                break
            if char == "\n":
                self.line += 1
            if char == "\\" and not triple and prefix != "raw":
                escape = text[self.at + 1 : self.at + 2]
                if escape == "u" and re.fullmatch(
                    r"[0-9a-fA-F]{4}", text[self.at + 2 : self.at + 6]
                ):
                    literal.append(chr(int(text[self.at + 2 : self.at + 6], 16)))
                    self.at += 6
                else:
                    literal.append(_ESCAPES.get(escape, "\\" + escape))
                    self.at += 2
                continue
            if interpolated and char == "$":
                self._interpolation(parts, literal)
                continue
            literal.append(char)
            self.at += 1
        parts.append("".join(literal))
        kind: TokenKind = "interp" if interpolated else "string"
        return Token(kind, prefix, line, tuple(part for part in parts if part != ""))

    def _interpolation(self, parts: list[str | tuple[str, str]], literal: list[str]) -> None:
        text = self.text
        following = text[self.at + 1 : self.at + 2]
        if following == "$":
            literal.append("$")
            self.at += 2
            return
        parts.append("".join(literal))
        literal.clear()
        if following == "{":
            depth, start = 1, self.at + 2
            end = start
            while end < len(text) and depth:
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            parts.append(("$", text[start : end - 1]))
            self.at = end
        else:
            match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, self.at + 1)
            name = match[0] if match else ""
            parts.append(("$", name))
            self.at += 1 + len(name)


def tokenize(text: str) -> list[Token]:
    return list(_Lexer(text).tokens())


# --- what the files define ----------------------------------------------------------------------


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


def _closing(tokens: Sequence[Token], start: int) -> int:
    """The index of the bracket that closes the one at ``start``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening = tokens[start].text
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind != "punct":
            continue
        if token.text == opening:
            depth += 1
        elif token.text == pairs[opening]:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening!r} on line {tokens[start].line}")


def _split_args(tokens: Sequence[Token]) -> tuple[tuple[Token, ...], ...]:
    """The tokens between a pair of parentheses, split at the commas of their own level."""
    args: list[tuple[Token, ...]] = []
    current: list[Token] = []
    depth = 0
    for token in tokens:
        if token.kind == "punct" and token.text in "([{":
            depth += 1
        elif token.kind == "punct" and token.text in ")]}":
            depth -= 1
        if depth == 0 and token.kind == "punct" and token.text == ",":
            args.append(tuple(current))
            current = []
        else:
            current.append(token)
    if current or args:
        args.append(tuple(current))
    return tuple(args)


def _is(token: Token | None, kind: TokenKind, text: str) -> bool:
    return token is not None and token.kind == kind and token.text == text


def _chain(tokens: Sequence[Token], at: int) -> tuple[tuple[Call, ...], int]:
    """The ``.name[T](args)`` calls from ``at`` on, and the index after them."""
    calls: list[Call] = []
    while at + 1 < len(tokens) and _is(tokens[at], "punct", ".") and tokens[at + 1].kind == "ident":
        name = tokens[at + 1].text
        at += 2
        if at < len(tokens) and _is(tokens[at], "punct", "["):
            at = _closing(tokens, at) + 1
        args = None
        if at < len(tokens) and _is(tokens[at], "punct", "("):
            end = _closing(tokens, at)
            args = _split_args(tokens[at + 1 : end])
            at = end + 1
        calls.append(Call(name, args))
    return tuple(calls), at


def _val_name(tokens: Sequence[Token], builder: int) -> str | None:
    """``NAME`` in ``val NAME[: Type] = <builder>``."""
    at = builder - 1
    if at < 0 or not _is(tokens[at], "op", "="):
        return None
    for back in range(at - 1, max(at - 16, -1), -1):
        token = tokens[back]
        if token.kind == "ident" and token.text in ("val", "var"):
            name = tokens[back + 1]
            return name.text if name.kind == "ident" else None
        if token.kind not in ("ident", "punct") and not _is(token, "op", ":"):
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
            and _is(following, "punct", "(")
            and not (
                before is not None and before.kind == "ident" and before.text in ("def", "new")
            )
        ):
            end = _closing(tokens, index + 1)
            calls, _ = _chain(tokens, end + 1)
            if any(call.name in _TERMINALS or call.name == "fallbackConf" for call in calls):
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
        elif token.text == "configsWithAlternatives" and _is(following, "op", "="):
            _alternates(tokens, index + 2, source.path, into)


def _string_expression_end(tokens: Sequence[Token], at: int) -> int | None:
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
                and _is(tokens[at], "punct", ".")
                and tokens[at + 1].kind == "ident"
            ):
                at += 2
        else:
            return None
        following = tokens[at] if at < len(tokens) else None
        if not _is(following, "op", "+"):
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
    if _is(tokens[at] if at < len(tokens) else None, "op", ":"):
        if not (at + 1 < len(tokens) and tokens[at + 1].text == "String"):
            return
        at += 2
    if not _is(tokens[at] if at < len(tokens) else None, "op", "="):
        return
    end = _string_expression_end(tokens, at + 1)
    if end is not None:
        into.constants[name.text].append(Constant(path, container, tuple(tokens[at + 1 : end])))


def _java_constant(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    if not any(_is(tokens[back], "ident", "final") for back in range(max(at - 3, 0), at)):
        return
    if (
        at + 2 >= len(tokens)
        or tokens[at + 1].kind != "ident"
        or not _is(tokens[at + 2], "op", "=")
    ):
        return
    end = _string_expression_end(tokens, at + 3)
    if end is not None and end < len(tokens) and _is(tokens[end], "punct", ";"):
        constant = Constant(path, container, tuple(tokens[at + 3 : end]))
        into.constants[tokens[at + 1].text].append(constant)


def _scala_enumeration(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    # object NAME extends Enumeration { val A, B = Value; val C = Value("c") ... }
    if not (
        at + 3 < len(tokens)
        and _is(tokens[at + 1], "ident", "extends")
        and _is(tokens[at + 2], "ident", "Enumeration")
        and _is(tokens[at + 3], "punct", "{")
    ):
        return
    end = _closing(tokens, at + 3)
    body = tokens[at + 4 : end]
    names: list[str] | None = []
    index = 0
    while names is not None and index < len(body):
        if not _is(body[index], "ident", "val"):
            if body[index].kind == "punct" and body[index].text in "({[":
                index = _closing(body, index)
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
    while index < len(body) and not _is(body[index], "op", "="):
        token = body[index]
        if token.kind == "ident" and not _is(body[index - 1], "op", ":"):
            identifiers.append(token.text)
        index += 1
    return identifiers, index


def _enumeration_values(
    body: Sequence[Token], at: int, identifiers: list[str], names: list[str]
) -> list[str] | None:
    """``Value`` (each identifier), ``Value("name")`` or ``Value(id, "name")`` after ``=``;
    ``None`` for anything else, which this reader does not follow."""
    value = body[at + 1] if at + 1 < len(body) else None
    if not _is(value, "ident", "Value"):
        return None
    following = body[at + 2] if at + 2 < len(body) else None
    if not _is(following, "punct", "("):
        return [*names, *identifiers]
    args = _split_args(body[at + 3 : _closing(body, at + 2)])
    if len(identifiers) != 1:
        return None
    last = args[-1] if args else ()
    if len(last) == 1 and last[0].kind == "string":
        return [*names, _string_value(last[0])]
    if len(args) == 1 and len(last) == 1 and last[0].kind == "number":
        return [*names, *identifiers]
    return None


def _java_enumeration(
    tokens: Sequence[Token], at: int, path: str, container: str | None, into: Sources
) -> None:
    # enum NAME { A, B(args), C { body }; ... }
    brace = at + 1
    while brace < len(tokens) and not _is(tokens[brace], "punct", "{"):
        if _is(tokens[brace], "punct", ";"):
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
            index = _closing(tokens, index)
        index += 1
    body = tokens[brace : _closing(tokens, brace)]
    overrides = any(
        _is(body[i], "ident", "String") and _is(body[i + 1], "ident", "toString")
        for i in range(len(body) - 1)
    )
    into.enumerations[tokens[at].text].append(
        Enumeration(path, container, tuple(names), java=True, to_string_is_name=not overrides)
    )


def _alternates(tokens: Sequence[Token], at: int, path: str, into: Sources) -> None:
    # Map[String, Seq[AlternateConfig]]( KEY -> Seq(AlternateConfig("old", "1.3"), ...), ...)
    if not _is(tokens[at] if at < len(tokens) else None, "ident", "Map"):
        return
    at += 1
    if _is(tokens[at], "punct", "["):
        at = _closing(tokens, at) + 1
    if not _is(tokens[at], "punct", "("):
        return
    for pair in _split_args(tokens[at + 1 : _closing(tokens, at)]):
        arrow = next((i for i, token in enumerate(pair) if _is(token, "op", "->")), None)
        if arrow is None or not _is(pair[arrow + 1], "ident", "Seq"):
            continue
        seq = pair[arrow + 2 :]
        for alternate in _split_args(seq[1:-1]):
            if not (
                _is(alternate[0], "ident", "AlternateConfig") and _is(alternate[1], "punct", "(")
            ):
                continue
            args = _split_args(alternate[2:-1])
            # a third argument translates the old value: that old key is not read as it is
            if len(args) == 2:
                into.alternates.append(Alternate(path, tuple(pair[:arrow]), args[0]))


def _string_value(token: Token) -> str:
    return "".join(part for part in token.value if isinstance(part, str))


# --- from definitions to settings ---------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """What the sources say: the typed settings, the ones without a type and why, and each
    definition's place (for the generator's summary)."""

    settings: dict[str, Setting]
    untyped: dict[str, str]
    unresolved_keys: tuple[str, ...]


class _Resolver:
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
        end = _string_expression_end(tokens, 0)
        if end != len(tokens):
            return None
        parts: list[str] = []
        at = 0
        while at < len(tokens):
            token = tokens[at]
            if token.kind == "string":
                parts.append(_string_value(token))
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
                while at + 1 < len(tokens) and _is(tokens[at], "punct", "."):
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


@dataclass
class _Spec:
    """A setting as its chain builds it, before it becomes a :class:`Setting`."""

    kind: Kind | None = None
    unit: str | None = None
    sequence: bool = False
    transforms: list[Fold] = field(default_factory=list)
    one_of: set[str] | None = None
    ignore_case: bool = False
    bounds: list[Bound] = field(default_factory=list)
    default: str | None = None
    notes: list[str] = field(default_factory=list)
    opaque: bool = False  # a transform not read here ran: checks after it are not read
    fallback: list[str] | None = None
    alternatives: list[str] = field(default_factory=list)
    untyped: str | None = None


_UNREAD_CHECK = "Spark checks more than is read here"


def _text(tokens: Sequence[Token]) -> str:
    return "".join(token.text for token in tokens)


def _names(tokens: Sequence[Token]) -> list[str] | None:
    """``a.b.C`` as its parts, or ``None`` when the tokens are not a plain qualified name."""
    if not tokens or len(tokens) % 2 == 0:
        return None
    names = [token.text for token in tokens[::2]]
    idents = all(token.kind == "ident" for token in tokens[::2])
    dots = all(_is(token, "punct", ".") for token in tokens[1::2])
    return names if idents and dots else None


def _interpret(definition: Definition, resolver: _Resolver) -> _Spec:
    spec = _Spec()
    for call in definition.calls:
        args = call.args or ()
        if call.name in _NEUTRAL:
            continue
        if call.name in _TYPES:
            spec.kind = _TYPES[call.name]
        elif call.name in ("bytesConf", "timeConf"):
            units = BYTE_UNITS if call.name == "bytesConf" else TIME_UNITS
            names = _names(args[0]) if args else None
            if names is None or names[-1] not in units:
                spec.untyped = (
                    f"{call.name} with a unit not read here: {_text(args[0] if args else ())}"
                )
                return spec
            spec.kind, spec.unit = ("bytes" if call.name == "bytesConf" else "time"), names[-1]
        elif call.name == "enumConf":
            _enum_conf(spec, args, definition, resolver)
        elif call.name == "toSequence":
            spec.sequence = True
        elif call.name == "transform":
            text = _text(args[0]).replace("java.util.Locale", "Locale") if args else ""
            fold = _TRANSFORMS.get(text)
            if fold is None or spec.sequence or spec.one_of is not None or spec.kind != "string":
                spec.opaque = True
            else:
                spec.transforms.append(fold)
        elif call.name in ("checkValues", "checkValue"):
            _check(spec, call, definition, resolver)
        elif call.name == "withAlternative":
            old = resolver.string(args[0], definition.file, definition.container) if args else None
            if old is None:
                spec.notes.append("an old name of it is not read here")
            else:
                spec.alternatives.append(old)
        elif call.name in ("createWithDefault", "createWithDefaultString"):
            spec.default = _literal(args[0], definition, resolver) if len(args) == 1 else None
            break
        elif call.name in _TERMINALS:
            break
        elif call.name == "fallbackConf":
            spec.fallback = _names(args[0]) if len(args) == 1 else None
            if spec.fallback is None:
                spec.untyped = f"falls back to an expression not read here: {_text(args[0])}"
            break
        else:
            spec.untyped = f"a builder call not read here: .{call.name}"
            return spec
    if spec.kind is None and spec.fallback is None and spec.untyped is None:
        spec.untyped = "no type in its definition"
    return spec


def _enum_conf(
    spec: _Spec, args: Sequence[tuple[Token, ...]], definition: Definition, resolver: _Resolver
) -> None:
    # ConfigHelpers.toEnum: a Scala Enumeration by withName(trim, upper case); a Java enum by
    # equalsIgnoreCase(trim).
    spec.kind = "string"
    tokens = args[0] if args else ()
    java = len(tokens) == 4 and _is(tokens[0], "ident", "classOf") and _is(tokens[1], "punct", "[")
    names = [tokens[2].text] if java else _names(tokens)
    found = resolver.enumeration(names, definition.file) if names else None
    if found is None or found.java != java or found.names is None:
        spec.notes.append(f"one of the values of {_text(tokens)}, which is not read here")
        spec.opaque = True
        return
    spec.transforms = ["trim"] if java else ["trim", "upper"]
    spec.ignore_case = java
    spec.one_of = set(found.names)


def _check(spec: _Spec, call: Call, definition: Definition, resolver: _Resolver) -> None:
    args = call.args or ()
    numeric = spec.kind in ("int", "long", "double", "bytes", "time")
    values: frozenset[str] | None = None
    bound: Bound | None = None
    complete = False
    if spec.opaque or spec.sequence or not args:
        pass
    elif call.name == "checkValues":
        values, bound = _values(args[0], numeric, definition, resolver)
        complete = True
    else:
        values, bound, complete = _predicate(args[0], numeric)
    if values is not None and spec.kind == "string":
        spec.one_of = set(values) if spec.one_of is None else spec.one_of & values
    elif bound is not None and numeric:
        spec.bounds.append(bound)
    else:
        complete = False
    if not complete and _UNREAD_CHECK not in spec.notes:
        spec.notes.append(_UNREAD_CHECK)


def _values(
    tokens: Sequence[Token], numeric: bool, definition: Definition, resolver: _Resolver
) -> tuple[frozenset[str] | None, Bound | None]:
    """``Set(literals)``, or ``Enum.values.map(_.toString)`` (``_.name()`` for Java's)."""
    if len(tokens) >= 3 and _is(tokens[0], "ident", "Set") and _is(tokens[1], "punct", "("):
        if _closing(tokens, 1) != len(tokens) - 1:
            return None, None
        items = _split_args(tokens[2:-1])
        if numeric:
            numbers = [_number(item) for item in items]
            if any(number is None for number in numbers):
                return None, None
            return None, tuple((("==", number),) for number in numbers if number is not None)
        strings = [resolver.string(item, definition.file, definition.container) for item in items]
        if any(string is None for string in strings):
            return None, None
        return frozenset(string for string in strings if string is not None), None
    text = _text(tokens).removesuffix(".toSet")
    for suffix in (".values.map(_.toString)", ".values.map(_.name())"):
        if text.endswith(suffix):
            found = resolver.enumeration(text[: -len(suffix)].split("."), definition.file)
            by_name = found is not None and (
                found.java if "name" in suffix else found.to_string_is_name
            )
            if found is not None and by_name and found.names is not None:
                return frozenset(found.names), None
    return None, None


def _number(tokens: Sequence[Token]) -> int | float | None:
    """A Scala numeric literal (or ``Int.MaxValue`` and kin), possibly negated."""
    sign = 1
    if tokens and _is(tokens[0], "op", "-"):
        sign, tokens = -1, tokens[1:]
    if len(tokens) == 3 and _text(tokens) in _CONSTANTS:
        return sign * _CONSTANTS[_text(tokens)]
    if len(tokens) != 1 or tokens[0].kind != "number":
        return None
    text = tokens[0].text.replace("_", "")
    if text[:2].lower() == "0x":
        return sign * int(text[2:].rstrip("lL"), 16)
    if text[-1] in "fF":
        return None  # a Float literal compared with a Double: not read here
    if re.fullmatch(r"[0-9]+[lL]?", text):
        return sign * int(text.rstrip("lL"))
    return sign * float(text.rstrip("dD"))


def _predicate(
    tokens: Sequence[Token], numeric: bool
) -> tuple[frozenset[str] | None, Bound | None, bool]:
    """``_ > 0``, ``v => v >= 0 && v < 1``, ``x => Set(...).contains(x)``: a lambda made only
    of comparisons with literals, ``&&``, ``||`` and parentheses (see :class:`_BoundParser`);
    anything else is not read. The last item says whether all of it was."""
    variable, body = "_", list(tokens)
    if len(body) > 2 and body[0].kind == "ident" and _is(body[1], "op", "=>"):
        variable, body = body[0].text, body[2:]
    members = _set_contains(body, variable)
    if members is not None:
        if numeric:
            numbers = [_number(tokenize(item)) for item in members]
            if any(number is None for number in numbers):
                return None, None, False
            return None, tuple((("==", n),) for n in numbers if n is not None), True
        return frozenset(members), None, True
    if not numeric or (
        variable == "_" and sum(1 for token in body if _is(token, "ident", "_")) != 1
    ):
        return None, None, False
    parser = _BoundParser(body, variable)
    bound = parser.parse()
    return None, bound, parser.complete


def _set_contains(body: Sequence[Token], variable: str) -> list[str] | None:
    # Set(a, b).contains(x): the members as source text (strings decoded)
    if not (len(body) >= 7 and _is(body[0], "ident", "Set") and _is(body[1], "punct", "(")):
        return None
    end = _closing(body, 1)
    rest = _text(body[end + 1 :])
    if rest not in (f".contains({variable})", ".contains"):
        return None
    members: list[str] = []
    for item in _split_args(body[2:end]):
        if len(item) == 1 and item[0].kind == "string":
            members.append(_string_value(item[0]))
        elif all(token.kind in ("number", "op") for token in item):
            members.append(" ".join(token.text for token in item))
        else:
            return None
    return members


class _BoundParser:
    """``or := and ('||' and)*``, ``and := atom ('&&' atom)*``, ``atom := '(' or ')' | cmp``
    with ``cmp`` a comparison of the variable with a literal.

    An atom it cannot read counts as true: dropped from a conjunction, it leaves a weaker bound
    that Spark's holds whenever this one fails, so a refusal here is always Spark's too; in a
    disjunction it makes the whole bound unknown. ``complete`` says whether all was read.
    """

    def __init__(self, tokens: Sequence[Token], variable: str) -> None:
        self.tokens = tokens
        self.variable = variable
        self.at = 0
        self.complete = True

    def parse(self) -> Bound | None:
        bound = self._or()
        if self.at != len(self.tokens):
            return None
        return None if () in bound else bound

    def _peek(self, *texts: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at].text in texts

    def _or(self) -> Bound:
        groups = list(self._and())
        while self._peek("||"):
            self.at += 1
            groups.extend(self._and())
        return ((),) if () in groups else tuple(groups)

    def _and(self) -> Bound:
        result: Bound = ((),)
        atom = self._atom()
        result = tuple(left + right for left in result for right in atom)
        while self._peek("&&"):
            self.at += 1
            atom = self._atom()
            result = tuple(left + right for left in result for right in atom)
        return result

    def _atom(self) -> Bound:
        start = self.at
        if self._peek("("):
            self.at += 1
            inner = self._or()
            if self._peek(")"):
                self.at += 1
                if (
                    not self._peek("&&", "||")
                    and self.at < len(self.tokens)
                    and not self._peek(")")
                ):
                    return self._unread(start)
                return inner
            return self._unread(start)
        try:
            comparison = self._comparison()
        except _NotReadError:
            return self._unread(start)
        if self.at < len(self.tokens) and not self._peek("&&", "||", ")"):
            return self._unread(start)
        return ((comparison,),)

    def _unread(self, start: int) -> Bound:
        """Skips the atom from ``start`` to the next ``&&``/``||`` of its level: true."""
        self.complete = False
        self.at, depth = start, 0
        while self.at < len(self.tokens):
            token = self.tokens[self.at]
            if token.kind == "punct" and token.text in "([{":
                depth += 1
            elif token.kind == "punct" and token.text in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and token.text in ("&&", "||"):
                break
            self.at += 1
        return ((),)

    def _comparison(self) -> Comparison:
        left, left_is_variable = self._operand()
        if not self._peek(*_OPS):
            raise _NotReadError
        op: Op = self.tokens[self.at].text  # type: ignore[assignment]  # one of _OPS
        self.at += 1
        right, right_is_variable = self._operand()
        if left_is_variable == right_is_variable:
            raise _NotReadError
        return (op, right) if left_is_variable else (_FLIPPED[op], left)

    def _operand(self) -> tuple[int | float, bool]:
        if self._peek(self.variable):
            self.at += 1
            return 0, True
        for length in (4, 3, 2, 1):
            candidate = self.tokens[self.at : self.at + length]
            number = _number(candidate) if len(candidate) == length else None
            if number is not None:
                self.at += length
                return number, False
        raise _NotReadError


class _NotReadError(Exception):
    """The lambda has a part this reader does not follow."""


def _literal(tokens: Sequence[Token], definition: Definition, resolver: _Resolver) -> str | None:
    """A default written as a literal: a number, true/false or a string expression."""
    number = _number(tokens)
    if number is not None:
        text = "".join(token.text for token in tokens).replace("_", "").rstrip("lLdD")
        return str(number) if isinstance(number, int) else text
    if len(tokens) == 1 and tokens[0].kind == "ident" and tokens[0].text in ("true", "false"):
        return tokens[0].text
    # Enum.VALUE.toString
    text = _text(tokens).removesuffix("()")
    names = text.removesuffix(".toString").split(".") if text.endswith(".toString") else []
    found = resolver.enumeration(names[:-1], definition.file) if len(names) > 1 else None
    if found is not None and found.to_string_is_name and names[-1] in (found.names or ()):
        return names[-1]
    return resolver.string(tokens, definition.file, definition.container)


_DEFINES = re.compile(r"\b(?:ConfigBuilder|buildConf|buildStaticConf)\(|configsWithAlternatives")
_ROUNDS = 8


def read_settings(files: Sequence[SourceFile]) -> Read:
    """Every setting the files define, typed as far as the sources say."""
    # The files that define settings, then, round by round, those that define a name they use
    # (a constant, an enumeration): tokenizing all of Spark's sources would take ten times longer.
    sources = Sources()
    unread = list(files)
    pattern: re.Pattern[str] = _DEFINES
    for _ in range(_ROUNDS):
        matches = [bool(pattern.search(source.text)) for source in unread]
        reading = [source for source, match in zip(unread, matches, strict=True) if match]
        unread = [source for source, match in zip(unread, matches, strict=True) if not match]
        for source in reading:
            read_file(source, sources)
        resolver = _Resolver(sources)
        specs: dict[int, _Spec] = {id(d): _interpret(d, resolver) for d in sources.definitions}
        for definition in sources.definitions:
            resolver.key(definition)
        if not resolver.missing or not reading:
            break
        names = "|".join(sorted(map(re.escape, resolver.missing)))
        pattern = re.compile(rf"\b(?:val|String|object|enum)\s+(?:{names})\b")
    settings: dict[str, Setting] = {}
    untyped: dict[str, str] = {}
    unresolved: list[str] = []
    for definition in sources.definitions:
        key = resolver.key(definition)
        if key is None:
            unresolved.append(f"{definition.file}:{definition.line}: {_text(definition.key)}")
            continue
        spec = specs[id(definition)]
        setting, why = _setting(definition, spec, specs, resolver, ())
        if setting is None:
            untyped.setdefault(key, why)
            continue
        _add(settings, untyped, key, setting)
        for old in spec.alternatives:
            _add(settings, untyped, old, setting.model_copy(update={"alternative_of": key}))
    for alternate in sources.alternates:
        current = resolver.string(alternate.setting, alternate.file, None)
        former = resolver.string(alternate.old_key, alternate.file, None)
        if current in settings and former is not None and former not in settings:
            settings[former] = settings[current].model_copy(update={"alternative_of": current})
    twice = {key for key, why in untyped.items() if why == _TWICE}
    for key in settings.keys() - twice:
        untyped.pop(key, None)
    for key in twice:
        del settings[key]
    return Read(dict(sorted(settings.items())), dict(sorted(untyped.items())), tuple(unresolved))


_TWICE = "defined twice, with different types"
_ACCEPTS = {"type", "unit", "sequence", "transforms", "one_of", "ignore_case", "bounds"}


def _add(settings: dict[str, Setting], untyped: dict[str, str], key: str, setting: Setting) -> None:
    """A key two definitions type differently is not typed at all: which one Spark uses depends
    on which object it loads first."""
    known = settings.setdefault(key, setting)
    if known.model_dump(include=_ACCEPTS) != setting.model_dump(include=_ACCEPTS):
        untyped[key] = _TWICE


def _setting(
    definition: Definition,
    spec: _Spec,
    specs: Mapping[int, _Spec],
    resolver: _Resolver,
    seen: tuple[int, ...],
) -> tuple[Setting | None, str]:
    if spec.untyped is not None:
        return None, spec.untyped
    if spec.fallback is not None:
        target = resolver.definition(spec.fallback, definition.file)
        if target is None or id(target) in seen:
            return None, f"falls back to {'.'.join(spec.fallback)}, which is not found"
        found, why = _setting(target, specs[id(target)], specs, resolver, (*seen, id(definition)))
        key = resolver.key(target)
        if found is None or key is None:
            return None, why
        return found.model_copy(update={"fallback_of": key, "alternative_of": None}), ""
    assert spec.kind is not None
    return (
        Setting(
            type=spec.kind,
            unit=spec.unit,
            sequence=spec.sequence,
            transforms=tuple(spec.transforms) if spec.one_of is not None else (),
            one_of=tuple(sorted(spec.one_of)) if spec.one_of is not None else None,
            ignore_case=spec.ignore_case,
            bounds=tuple(spec.bounds),
            default=spec.default,
            note="; ".join(spec.notes) or None,
        ),
        "",
    )
