"""Whether Spark would accept a ``spark_conf`` value, and if not, what to write instead.

Pure and offline: the caller loads the table once (:func:`~.table.load_table`) and checks each
key against it. A key the table does not know is always accepted: Spark ignores settings it
does not define, and prefixes such as ``spark.kubernetes.driver.label.*`` are not single
settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from spark_streams.spark_settings.table import Bound, Setting, SettingsTable
from spark_streams.spark_settings.values import (
    BYTE_UNITS,
    INT_BITS,
    LONG_BITS,
    TIME_UNITS,
    RefusedError,
    byte_string_as,
    java_equals_ignore_case,
    java_lower,
    java_trim,
    java_upper,
    parse_boolean,
    parse_double,
    parse_integer,
    string_to_seq,
    time_string_as,
)

Value = int | float | bool | str

_FRACTION = re.compile(r"([0-9]+)\.([0-9]+)([a-z]*)")

_UNIT_WORDS = {
    "BYTE": "bytes",
    "KiB": "KiB",
    "MiB": "MiB",
    "GiB": "GiB",
    "TiB": "TiB",
    "PiB": "PiB",
    "NANOSECONDS": "nanoseconds",
    "MICROSECONDS": "microseconds",
    "MILLISECONDS": "milliseconds",
    "SECONDS": "seconds",
    "MINUTES": "minutes",
    "HOURS": "hours",
    "DAYS": "days",
}
# Tried in order when Spark's default is not a literal: the first one Spark accepts is the example.
_EXAMPLES: Mapping[str, tuple[str, ...]] = {
    "int": ("1", "0", "2", "10", "100", "1000", "-1"),
    "long": ("1", "0", "2", "10", "100", "1000", "-1"),
    "double": ("0.5", "1.0", "0.1", "0", "2.0", "10.0"),
    "boolean": ("true",),
    "bytes": ("512m", "1g", "64k", "1m", "1k", "0"),
    "time": ("30s", "1s", "100ms", "5min", "1h", "0"),
    "string": (),
    "regex": (),
}


def check_setting(table: SettingsTable, key: str, value: str) -> str | None:
    """``None`` when Spark accepts ``value`` for ``key`` (or does not define ``key``); else one
    line: what Spark expects, and a fix with an example value."""
    setting = table.settings.get(key)
    if setting is None:
        return None
    reason = refusal(table, setting, value)
    if reason is None:
        return None
    name = f"{key} (an old name of {setting.alternative_of})" if setting.alternative_of else key
    return (
        f"Spark {table.minor} reads {name} as {expectation(table, setting)}; got {value!r} "
        f"({reason}). Fix: {_fix(table, setting, value)}"
    )


def refusal(table: SettingsTable, setting: Setting, value: str) -> str | None:
    """Why Spark's converter (and the checks read from its definition) refuse ``value``."""
    items = string_to_seq(value) if setting.sequence else [value]
    for item in items:
        where = f"item {item!r}: " if setting.sequence else ""
        try:
            converted = convert(table, setting, item)
        except RefusedError as error:
            return f"{where}{error}"
        for bound in setting.bounds:
            if not isinstance(converted, bool | str) and not _holds(bound, converted):
                return f"{where}not {describe_bound(bound, setting)}"
    return None


def convert(table: SettingsTable, setting: Setting, text: str) -> Value:
    """The value Spark's converter makes of ``text``; :class:`RefusedError` where it throws."""
    match setting.type:
        case "int" | "long":
            return parse_integer(java_trim(text), INT_BITS if setting.type == "int" else LONG_BITS)
        case "double":
            return parse_double(text)
        case "boolean":
            return parse_boolean(java_trim(text), table.scala)
        case "bytes":
            assert setting.unit is not None
            return byte_string_as(text, setting.unit, table.byte_suffixes)
        case "time":
            assert setting.unit is not None
            return time_string_as(text, setting.unit, table.time_suffixes)
        case "string":
            return _one_of(setting, text)
        case "regex":
            return text  # Java's regex syntax is not Python's: not checked
    raise AssertionError(setting.type)


def _one_of(setting: Setting, text: str) -> str:
    for transform in setting.transforms:
        text = {"trim": java_trim, "upper": java_upper, "lower": java_lower}[transform](text)
    if setting.one_of is None:
        return text
    if setting.ignore_case:
        accepted = any(java_equals_ignore_case(text, value) for value in setting.one_of)
    else:
        accepted = text in setting.one_of
    if not accepted:
        raise RefusedError("not one of them")
    return text


def _holds(bound: Bound, value: int | float) -> bool:
    return any(all(_compare(value, op, limit) for op, limit in group) for group in bound)


def _compare(value: int | float, op: str, limit: int | float) -> bool:
    match op:
        case "<":
            return value < limit
        case "<=":
            return value <= limit
        case ">":
            return value > limit
        case ">=":
            return value >= limit
        case "==":
            return value == limit
        case "!=":
            return value != limit
    raise AssertionError(op)


def expectation(table: SettingsTable, setting: Setting) -> str:
    """What Spark expects, in words: ``a whole number (int) > 0``."""
    match setting.type:
        case "int" | "long":
            what = f"a whole number ({setting.type})"
        case "double":
            what = "a number (double)"
        case "boolean":
            what = "true or false"
        case "bytes":
            what = f"a size: a whole number of {_unit_word(setting)} or with a unit "
            what += f"({_suffixes(table.byte_suffixes, BYTE_UNITS)})"
        case "time":
            what = f"a duration: a whole number of {_unit_word(setting)} or with a unit "
            what += f"({_suffixes(table.time_suffixes, TIME_UNITS)})"
        case "string" | "regex":
            values = _reachable(setting)
            what = "one of " + ", ".join(map(repr, values)) if values else "text"
            if values and _any_case(setting):
                what += " (in any case)"
    if setting.bounds:
        what += " " + " and ".join(describe_bound(bound, setting) for bound in setting.bounds)
    return f"a comma-separated list, each item {what}" if setting.sequence else what


def _reachable(setting: Setting) -> tuple[str, ...]:
    """The values of ``one_of`` some text can become: with an upper-casing transform, say,
    a value with lower-case letters in it can never match."""
    values = setting.one_of or ()
    reachable = tuple(value for value in values if _one_of_accepts(setting, value))
    return reachable or values


def _one_of_accepts(setting: Setting, value: str) -> bool:
    try:
        _one_of(setting, value)
    except RefusedError:
        return False
    return True


def _any_case(setting: Setting) -> bool:
    return setting.ignore_case or "upper" in setting.transforms or "lower" in setting.transforms


def _unit_word(setting: Setting) -> str:
    return _UNIT_WORDS[setting.unit or ""]


_WORDS = {">": "above", ">=": "at least", "<": "below", "<=": "at most", "==": "", "!=": "not"}


def describe_bound(bound: Bound, setting: Setting) -> str:
    """``above 0``, ``at least 0.0 and below 1.0``, ``equal to 1 or 2``, in the setting's unit."""
    unit = f" {_unit_word(setting)}" if setting.type in ("bytes", "time") else ""
    if all(len(group) == 1 and group[0][0] == "==" for group in bound):
        values = [f"{group[0][1]!r}{unit}" for group in bound]
        return "equal to " + " or ".join(filter(None, (", ".join(values[:-1]), values[-1])))
    return " or ".join(
        " and ".join(f"{_WORDS[op] or 'equal to'} {limit!r}{unit}" for op, limit in group)
        for group in bound
    )


def _suffixes(suffixes: Mapping[str, str], units: Mapping[str, int]) -> str:
    """``b, k/kb, m/mb``: the suffixes, smallest unit first, those of one unit together."""
    by_unit: dict[str, list[str]] = {}
    for suffix in sorted(suffixes, key=lambda s: (units[suffixes[s]], len(s), s)):
        by_unit.setdefault(suffixes[suffix], []).append(suffix)
    return ", ".join("/".join(group) for group in by_unit.values())


def _fix(table: SettingsTable, setting: Setting, value: str) -> str:
    exact = _whole_size(table, setting, value)
    if exact is not None:
        return f"write the size in a smaller unit: {exact!r}"
    example = example_value(table, setting)
    if example is None:
        return "write a value of that kind"
    return f"write e.g. {example!r}"


def example_value(table: SettingsTable, setting: Setting) -> str | None:
    """A value Spark accepts for the setting: its default when that is a literal, else one of
    a few ordinary values of its type."""
    candidates: Iterable[str] = (
        *((setting.default,) if setting.default is not None else ()),
        *_reachable(setting),
        *_EXAMPLES[setting.type],
    )
    return next((c for c in candidates if refusal(table, setting, c) is None), None)


def _whole_size(table: SettingsTable, setting: Setting, value: str) -> str | None:
    """``1.5g`` as ``1536m``: a fractional size in the largest smaller unit it is whole in."""
    match = _FRACTION.fullmatch(java_trim(java_lower(value)))
    if setting.type != "bytes" or setting.sequence or match is None:
        return None
    unit = table.byte_suffixes.get(match[3]) if match[3] else setting.unit
    if unit is None:
        return None
    numerator, denominator = int(match[1] + match[2]), 10 ** len(match[2])
    shortest = {u: s for s, u in sorted(table.byte_suffixes.items(), key=lambda i: -len(i[0]))}
    for smaller in sorted(shortest, key=BYTE_UNITS.__getitem__, reverse=True):
        scaled = numerator * BYTE_UNITS[unit]
        if (
            BYTE_UNITS[smaller] < BYTE_UNITS[unit]
            and scaled % (denominator * BYTE_UNITS[smaller]) == 0
        ):
            candidate = f"{scaled // (denominator * BYTE_UNITS[smaller])}{shortest[smaller]}"
            if refusal(table, setting, candidate) is None:
                return candidate
    return None
