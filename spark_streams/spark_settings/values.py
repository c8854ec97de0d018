"""How Spark turns a setting's text into its value: its converters, rewritten rule for rule.

Sources, Apache Spark: ``ConfigHelpers`` and ``TypedConfigBuilder`` in ``ConfigBuilder.scala``
(core up to 3.5, common/utils from 4.0), ``JavaUtils.byteStringAs`` / ``timeStringAs`` and
``ByteUnit`` (common/utils, common/utils-java from 4.1), and the JDK and Scala library calls
they make. Each function here raises :class:`RefusedError` exactly where Spark's converter throws,
with the reason in words. The unit-suffix tables differ between Spark versions, so they are
arguments: the settings table of each version records its own (the generator reads them from
that version's ``JavaUtils.java``).

Differences that remain: digits outside ASCII are read with Python's Unicode database, which
can be a version apart from the JVM's; and Scala 2.12's ``toBoolean`` lower-cases in the JVM's
default locale, taken here as one without Turkish-style casing of ``I`` (``true``/``false``
have no ``i`` to upper-case, so only exotic input could tell).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Literal

ScalaVersion = Literal["2.12", "2.13"]

INT_BITS = 32
LONG_BITS = 64
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

# java.util.concurrent.TimeUnit, in nanoseconds
TIME_UNITS: Mapping[str, int] = {
    "NANOSECONDS": 1,
    "MICROSECONDS": 10**3,
    "MILLISECONDS": 10**6,
    "SECONDS": 10**9,
    "MINUTES": 60 * 10**9,
    "HOURS": 3600 * 10**9,
    "DAYS": 86400 * 10**9,
}
# org.apache.spark.network.util.ByteUnit, in bytes
BYTE_UNITS: Mapping[str, int] = {
    "BYTE": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
    "PiB": 1 << 50,
}

# java.lang.String.trim: every char up to U+0020, not Unicode whitespace
_JAVA_TRIMMED = "".join(map(chr, range(0x21)))

# Double.parseDouble (FloatingDecimal.readJavaFormatString) after trim: ASCII digits only, an
# optional f/F/d/D suffix, case-sensitive NaN/Infinity, hex needs its binary exponent.
_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity"
    r"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)[fFdD]?"
    r"|(?P<hex>0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+)[fFdD]?)"
)
_TIME = re.compile(r"(-?[0-9]+)([a-z]+)?")
_BYTES = re.compile(r"([0-9]+)([a-z]+)?")
_BYTES_FRACTION = re.compile(r"([0-9]+\.[0-9]+)([a-z]+)?")


class RefusedError(ValueError):
    """Spark's converter throws on this text; the message says why, in a few words."""


def java_trim(text: str) -> str:
    return text.strip(_JAVA_TRIMMED)


def parse_integer(text: str, bits: int) -> int:
    """``Integer.parseInt`` (32 bits) or ``Long.parseLong`` (64) of ``text``, untrimmed.

    An optional sign, then decimal digits of any script (``Character.digit``) as single UTF-16
    units, within the type's range.
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits:
        raise RefusedError("not a whole number")
    value = 0
    for char in digits:
        digit = unicodedata.decimal(char, None) if ord(char) <= 0xFFFF else None
        if digit is None:
            raise RefusedError("not a whole number")
        value = value * 10 + digit
    if text.startswith("-"):
        value = -value
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise RefusedError(f"outside {low} to {high}")
    return value


def parse_double(text: str) -> float:
    """``Double.parseDouble``: Java's grammar, which differs from Python's ``float``."""
    trimmed = java_trim(text)
    match = _DOUBLE.fullmatch(trimmed)
    if match is None:
        raise RefusedError("not a number")
    negative = trimmed.startswith("-")
    if match["dec"] is not None:
        value = float(match["dec"])
    elif match["hex"] is not None:
        value = float.fromhex(match["hex"])
    else:
        value = math.nan if trimmed.endswith("NaN") else math.inf
    return -value if negative else value


def parse_boolean(text: str, scala: ScalaVersion) -> bool:
    """Scala's ``String.toBoolean`` of ``text``, untrimmed: "true" or "false" in any case.

    Scala 2.12 lower-cases and compares; 2.13 uses ``equalsIgnoreCase``, which also takes
    characters whose upper case is an ASCII letter (e.g. U+017F, long s, for "s").
    """
    for word, value in (("true", True), ("false", False)):
        if text.lower() == word if scala == "2.12" else java_equals_ignore_case(text, word):
            return value
    raise RefusedError("not true or false")


def java_equals_ignore_case(text: str, other: str) -> bool:
    """``String.equalsIgnoreCase`` (JDK 16 on): the same UTF-16 length, then char by char
    equal, or equal in the JDK's one-char upper case, or in the lower case of that."""
    if _utf16_length(text) != _utf16_length(other) or len(text) != len(other):
        return False
    for one, two in zip(text, other, strict=True):
        if one == two:
            continue
        upper_one, upper_two = _simple_upper(one), _simple_upper(two)
        if upper_one != upper_two and _simple_lower(upper_one) != _simple_lower(upper_two):
            return False
    return True


def java_upper(text: str) -> str:
    """``toUpperCase(Locale.ROOT)``: the full Unicode mapping, as Python's ``str.upper``."""
    return text.upper()


def java_lower(text: str) -> str:
    """``toLowerCase(Locale.ROOT)``: the full Unicode mapping, as Python's ``str.lower``."""
    return text.lower()


def _utf16_length(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _simple_upper(char: str) -> str:
    # Character.toUpperCase maps one char to one char; where the full mapping takes several
    # (e.g. U+00DF to "SS") the one-char mapping leaves the char as it is.
    upper = char.upper()
    return upper if len(upper) == 1 else char


def _simple_lower(char: str) -> str:
    # U+0130 (I with dot) is the only char whose full lower case is longer; its one-char map is i.
    if char == "\u0130":
        return "i"
    lower = char.lower()
    return lower if len(lower) == 1 else char


def time_string_as(text: str, unit: str, suffixes: Mapping[str, str]) -> int:
    """``JavaUtils.timeStringAs``: a whole number, optionally negative, and a unit suffix from
    ``suffixes`` (else ``unit``), in ``unit``; ``TimeUnit.convert`` truncates and saturates."""
    lower = java_trim(java_lower(text))
    match = _TIME.fullmatch(lower)
    if match is None:
        raise RefusedError("not a whole number with an optional unit")
    number = parse_integer(match[1], LONG_BITS)
    suffix = match[2]
    if suffix is not None and suffix not in suffixes:
        raise RefusedError(f"unit {suffix!r} is not one of {_listed(suffixes)}")
    return _convert_time(number, suffixes[suffix] if suffix else unit, unit)


def _convert_time(number: int, source: str, target: str) -> int:
    source_ns, target_ns = TIME_UNITS[source], TIME_UNITS[target]
    if source_ns <= target_ns:
        ratio = target_ns // source_ns
        return abs(number) // ratio * (1 if number >= 0 else -1)
    ratio = source_ns // target_ns
    limit = LONG_MAX // ratio
    if number > limit:
        return LONG_MAX
    if number < -limit:
        return LONG_MIN
    return number * ratio


def byte_string_as(text: str, unit: str, suffixes: Mapping[str, str]) -> int:
    """``ConfigHelpers.byteFromString``: one leading ``-`` (before any trimming), then
    ``JavaUtils.byteStringAs``: a whole number and a unit suffix from ``suffixes`` (else
    ``unit``), in ``unit``, rounded down; ``ByteUnit`` refuses what overflows a long."""
    sign = -1 if text.startswith("-") else 1
    lower = java_trim(java_lower(text[1:] if sign < 0 else text))
    match = _BYTES.fullmatch(lower)
    if match is None:
        if _BYTES_FRACTION.fullmatch(lower):
            raise RefusedError("fractions are not allowed")
        raise RefusedError("not a whole number with an optional unit")
    number = parse_integer(match[1], LONG_BITS)
    suffix = match[2]
    if suffix is not None and suffix not in suffixes:
        raise RefusedError(f"unit {suffix!r} is not one of {_listed(suffixes)}")
    source = BYTE_UNITS[suffixes[suffix] if suffix else unit]
    target = BYTE_UNITS[unit]
    if source > target:
        ratio = source // target
        if LONG_MAX // ratio < number:
            raise RefusedError("too large")
        return sign * number * ratio
    return sign * (number // (target // source))


def string_to_seq(text: str) -> Sequence[str]:
    """``Utils.stringToSeq`` (``SparkStringUtils`` from 4.0): comma-separated, each item
    trimmed, empty items dropped."""
    return [item for item in (java_trim(part) for part in text.split(",")) if item]


def _listed(suffixes: Mapping[str, str]) -> str:
    """The suffixes, smallest unit first."""

    def size(suffix: str) -> tuple[int, int, str]:
        unit = suffixes[suffix]
        return (BYTE_UNITS.get(unit, 0) or TIME_UNITS.get(unit, 0), len(suffix), suffix)

    return ", ".join(sorted(suffixes, key=size))
