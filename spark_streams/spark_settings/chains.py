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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from spark_streams.spark_settings.sources import (
    TERMINALS,
    Call,
    Definition,
    Resolver,
    Sources,
    read_file,
)
from spark_streams.spark_settings.table import Bound, Comparison, Fold, Kind, Op, Setting
from spark_streams.spark_settings.tokens import (
    SourceFile,
    Token,
    closing,
    dotted,
    is_token,
    split_args,
    string_value,
    text_of,
    tokenize,
)
from spark_streams.spark_settings.values import BYTE_UNITS, TIME_UNITS

_TYPES: Mapping[str, Kind] = {
    "intConf": "int",
    "longConf": "long",
    "doubleConf": "double",
    "booleanConf": "boolean",
    "stringConf": "string",
    "regexConf": "regex",
}
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


@dataclass(frozen=True)
class Read:
    """What the sources say: the typed settings, the ones without a type and why, and each
    definition's place (for the generator's summary)."""

    settings: dict[str, Setting]
    untyped: dict[str, str]
    unresolved_keys: tuple[str, ...]


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


def _interpret(definition: Definition, resolver: Resolver) -> _Spec:
    spec = _Spec()
    for call in definition.calls:
        args = call.args or ()
        if call.name in _NEUTRAL:
            continue
        if call.name in _TYPES:
            spec.kind = _TYPES[call.name]
        elif call.name in ("bytesConf", "timeConf"):
            units = BYTE_UNITS if call.name == "bytesConf" else TIME_UNITS
            names = dotted(args[0]) if args else None
            if names is None or names[-1] not in units:
                spec.untyped = (
                    f"{call.name} with a unit not read here: {text_of(args[0] if args else ())}"
                )
                return spec
            spec.kind, spec.unit = ("bytes" if call.name == "bytesConf" else "time"), names[-1]
        elif call.name == "enumConf":
            _enum_conf(spec, args, definition, resolver)
        elif call.name == "toSequence":
            spec.sequence = True
        elif call.name == "transform":
            text = text_of(args[0]).replace("java.util.Locale", "Locale") if args else ""
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
        elif call.name in TERMINALS:
            break
        elif call.name == "fallbackConf":
            spec.fallback = dotted(args[0]) if len(args) == 1 else None
            if spec.fallback is None:
                spec.untyped = f"falls back to an expression not read here: {text_of(args[0])}"
            break
        else:
            spec.untyped = f"a builder call not read here: .{call.name}"
            return spec
    if spec.kind is None and spec.fallback is None and spec.untyped is None:
        spec.untyped = "no type in its definition"
    return spec


def _enum_conf(
    spec: _Spec, args: Sequence[tuple[Token, ...]], definition: Definition, resolver: Resolver
) -> None:
    # ConfigHelpers.toEnum: a Scala Enumeration by withName(trim, upper case); a Java enum by
    # equalsIgnoreCase(trim).
    spec.kind = "string"
    tokens = args[0] if args else ()
    java = (
        len(tokens) == 4
        and is_token(tokens[0], "ident", "classOf")
        and is_token(tokens[1], "punct", "[")
    )
    names = [tokens[2].text] if java else dotted(tokens)
    found = resolver.enumeration(names, definition.file) if names else None
    if found is None or found.java != java or found.names is None:
        spec.notes.append(f"one of the values of {text_of(tokens)}, which is not read here")
        spec.opaque = True
        return
    spec.transforms = ["trim"] if java else ["trim", "upper"]
    spec.ignore_case = java
    spec.one_of = set(found.names)


def _check(spec: _Spec, call: Call, definition: Definition, resolver: Resolver) -> None:
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
    tokens: Sequence[Token], numeric: bool, definition: Definition, resolver: Resolver
) -> tuple[frozenset[str] | None, Bound | None]:
    """``Set(literals)``, or ``Enum.values.map(_.toString)`` (``_.name()`` for Java's)."""
    if (
        len(tokens) >= 3
        and is_token(tokens[0], "ident", "Set")
        and is_token(tokens[1], "punct", "(")
    ):
        if closing(tokens, 1) != len(tokens) - 1:
            return None, None
        items = split_args(tokens[2:-1])
        if numeric:
            numbers = [_number(item) for item in items]
            if any(number is None for number in numbers):
                return None, None
            return None, tuple((("==", number),) for number in numbers if number is not None)
        strings = [resolver.string(item, definition.file, definition.container) for item in items]
        if any(string is None for string in strings):
            return None, None
        return frozenset(string for string in strings if string is not None), None
    text = text_of(tokens).removesuffix(".toSet")
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
    if tokens and is_token(tokens[0], "op", "-"):
        sign, tokens = -1, tokens[1:]
    if len(tokens) == 3 and text_of(tokens) in _CONSTANTS:
        return sign * _CONSTANTS[text_of(tokens)]
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
    if len(body) > 2 and body[0].kind == "ident" and is_token(body[1], "op", "=>"):
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
        variable == "_" and sum(1 for token in body if is_token(token, "ident", "_")) != 1
    ):
        return None, None, False
    parser = _BoundParser(body, variable)
    bound = parser.parse()
    return None, bound, parser.complete


def _set_contains(body: Sequence[Token], variable: str) -> list[str] | None:
    # Set(a, b).contains(x): the members as source text (strings decoded)
    if not (
        len(body) >= 7 and is_token(body[0], "ident", "Set") and is_token(body[1], "punct", "(")
    ):
        return None
    end = closing(body, 1)
    rest = text_of(body[end + 1 :])
    if rest not in (f".contains({variable})", ".contains"):
        return None
    members: list[str] = []
    for item in split_args(body[2:end]):
        if len(item) == 1 and item[0].kind == "string":
            members.append(string_value(item[0]))
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


def _literal(tokens: Sequence[Token], definition: Definition, resolver: Resolver) -> str | None:
    """A default written as a literal: a number, true/false or a string expression."""
    number = _number(tokens)
    if number is not None:
        text = "".join(token.text for token in tokens).replace("_", "").rstrip("lLdD")
        return str(number) if isinstance(number, int) else text
    if len(tokens) == 1 and tokens[0].kind == "ident" and tokens[0].text in ("true", "false"):
        return tokens[0].text
    # Enum.VALUE.toString
    text = text_of(tokens).removesuffix("()")
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
        resolver = Resolver(sources)
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
            unresolved.append(f"{definition.file}:{definition.line}: {text_of(definition.key)}")
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
    resolver: Resolver,
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
