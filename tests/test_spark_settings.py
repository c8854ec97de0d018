"""Spark's setting types: the reader of its sources, its converters, the committed tables."""

from __future__ import annotations

import hashlib
import io
import math
import re
import textwrap
import zipfile
from importlib import resources
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spark_streams.spark_settings import generate, values
from spark_streams.spark_settings.chains import read_settings
from spark_streams.spark_settings.check import check_setting, example_value, refusal
from spark_streams.spark_settings.table import (
    FORMAT,
    ByteUnitName,
    Setting,
    SettingsTable,
    TimeUnitName,
    load_table,
    minor_of,
    no_table_message,
    table_minors,
)
from spark_streams.spark_settings.tokens import SourceFile
from tests.conftest import effective_streams

# --- the reader, on snippets written the way Spark writes its definitions ------------------------


def read(*files: tuple[str, str]) -> dict[str, Setting]:
    sources = [SourceFile(path, textwrap.dedent(text)) for path, text in files]
    return read_settings(sources).settings


CONFIG = "org/apache/spark/internal/config/package.scala"


def one(body: str) -> Setting:
    (setting,) = read((CONFIG, f"package object config {{\n{body}\n}}")).values()
    return setting


@pytest.mark.parametrize(
    ("chain", "kind", "unit"),
    [
        (".intConf", "int", None),
        (".longConf", "long", None),
        (".doubleConf", "double", None),
        (".booleanConf", "boolean", None),
        (".stringConf", "string", None),
        (".regexConf", "regex", None),
        (".bytesConf(ByteUnit.MiB)", "bytes", "MiB"),
        (".timeConf(TimeUnit.SECONDS)", "time", "SECONDS"),
    ],
)
def test_each_builder_type_is_read(chain: str, kind: str, unit: str | None) -> None:
    setting = one(f'val X = ConfigBuilder("spark.x").doc("d").version("1.0"){chain}.createOptional')
    assert (setting.type, setting.unit) == (kind, unit)


def test_a_definition_spread_over_lines_with_comments_and_a_literal_default() -> None:
    setting = one(
        """
        private[spark] val EXECUTOR_MEMORY = ConfigBuilder("spark.x")
          // a comment mentioning .intConf
          .doc("Text with \\"quotes\\", ConfigBuilder(\\"spark.y\\") and " +
            s"an ${interpolation}.")
          .version("1.0")
          .bytesConf(ByteUnit.MiB) /* a block /* nested */ comment */
          .createWithDefaultString("1g")
        """
    )
    assert setting == Setting(type="bytes", unit="MiB", default="1g")


def test_an_enumeration_with_case_folding_is_case_insensitive() -> None:
    setting = one(
        """
        val POLICY = buildConf("spark.x")
          .stringConf
          .transform(_.toLowerCase(java.util.Locale.ROOT))
          .checkValue(str => Set("min", "max").contains(str), "one of min, max")
          .createWithDefault("min")
        """
    )
    assert (setting.transforms, setting.one_of) == (("lower",), ("max", "min"))


def test_an_enumeration_without_folding_is_case_sensitive() -> None:
    setting = one(
        'val X = ConfigBuilder("spark.x").stringConf.checkValues(Set("a", "B")).createOptional'
    )
    assert (setting.transforms, setting.one_of) == ((), ("B", "a"))


def test_a_fallback_has_the_type_of_the_setting_it_falls_back_to() -> None:
    settings = read(
        (
            "org/apache/spark/internal/config/Network.scala",
            """
            private[spark] object Network {
              val NETWORK_TIMEOUT = ConfigBuilder("spark.network.timeout")
                .timeConf(TimeUnit.SECONDS).checkValue(_ > 0, "positive").createWithDefaultString("120s")
            }
        """,
        ),
        (
            CONFIG,
            """
            package object config {
              val LOCAL = ConfigBuilder("spark.local.timeout").fallbackConf(Network.NETWORK_TIMEOUT)
              val LOCAL2 = ConfigBuilder("spark.local.timeout2").fallbackConf(LOCAL)
            }
        """,
        ),
    )
    timeout = settings["spark.network.timeout"]
    assert settings["spark.local.timeout"] == timeout.model_copy(
        update={"fallback_of": "spark.network.timeout"}
    )
    assert settings["spark.local.timeout2"].fallback_of == "spark.local.timeout"
    assert settings["spark.local.timeout2"].bounds == timeout.bounds == ((((">", 0),),),)


def test_an_alternative_is_the_same_setting_under_its_old_key() -> None:
    settings = read(
        (
            CONFIG,
            """
        package object config {
          val X = ConfigBuilder("spark.new").withAlternative("spark.old").intConf.createWithDefault(1)
        }
    """,
        )
    )
    assert settings["spark.old"] == settings["spark.new"].model_copy(
        update={"alternative_of": "spark.new"}
    )


def test_sparkconf_alternatives_read_as_they_are_are_old_keys_but_translated_ones_are_not() -> None:
    settings = read(
        (
            CONFIG,
            'package object config { val M = ConfigBuilder("spark.m").intConf.createOptional }',
        ),
        (
            "org/apache/spark/SparkConf.scala",
            """
            object SparkConf {
              private val configsWithAlternatives = Map[String, Seq[AlternateConfig]](
                M.key -> Seq(AlternateConfig("spark.m.old", "1.4"),
                  AlternateConfig("spark.m.translated", "1.3", translation = s => s"${s}s")))
            }
        """,
        ),
    )
    assert settings["spark.m.old"].alternative_of == "spark.m"
    assert "spark.m.translated" not in settings


def test_enumerations_are_resolved_from_their_definitions() -> None:
    settings = read(
        (
            "org/apache/spark/sql/internal/SQLConf.scala",
            """
            object SQLConf {
              object Mode extends Enumeration {
                type Mode = Value
                val /** doc */ UTF8: Value = Value("UTF-8")
                val A, B = Value
              }
              val ONE = buildConf("spark.sql.one").stringConf
                .transform(_.toUpperCase(Locale.ROOT))
                .checkValues(Mode.values.map(_.toString)).createWithDefault(Mode.A.toString)
              val TWO = buildConf("spark.sql.two").enumConf(Mode).createOptional
              val THREE = buildConf("spark.sql.three").enumConf(classOf[Backend]).createOptional
              val FOUR = buildConf("spark.sql.four").enumConf(classOf[Level]).createOptional
            }
        """,
        ),
        (
            "org/apache/spark/network/Backend.java",
            """
            public enum Backend {
              LEVELDB(".ldb"), ROCKSDB(".rdb") { @Override public int x() { return 1; } };
              Backend(String suffix) {}
            }
        """,
        ),
    )
    assert settings["spark.sql.one"].one_of == ("A", "B", "UTF-8")
    assert settings["spark.sql.one"].default == "A"
    assert settings["spark.sql.two"].transforms == ("trim", "upper")
    assert settings["spark.sql.three"].one_of == ("LEVELDB", "ROCKSDB")
    assert settings["spark.sql.three"].ignore_case
    # org.slf4j.event.Level is not in Spark's sources: any text, and the table says why
    four = settings["spark.sql.four"]
    assert (four.type, four.one_of, four.note) == (
        "string",
        None,
        "one of the values of classOf[Level], which is not read here",
    )


@pytest.mark.parametrize(
    ("check", "bounds", "complete"),
    [
        ("_ > 0", (((">", 0),),), True),
        ("_ >= 0L", (((">=", 0),),), True),
        ("v => v >= 0.0 && v < 1.0", (((">=", 0.0), ("<", 1.0)),), True),
        ("v => v == -1 || v >= 2", ((("==", -1),), ((">=", 2),)), True),
        ("v => 1 <= v && v <= Int.MaxValue", (((">=", 1), ("<=", 2147483647)),), True),
        ("v => Set(1, 2).contains(v)", ((("==", 1),), (("==", 2),)), True),
        # a part not read is dropped from a conjunction: what is left still only refuses what
        # Spark refuses ...
        ("v => v > 0 && v <= ByteArrayMethods.MAX / 1024", (((">", 0),),), False),
        # ... but in a disjunction it leaves nothing to check
        ("v => v > 0 || isSpecial(v)", (), False),
        ("isValid(_)", (), False),
        ("_ > 0.5f", (), False),
    ],
)
def test_bounds_are_read_only_from_plain_comparisons(
    check: str, bounds: tuple[object, ...], complete: bool
) -> None:
    setting = one(
        f'val X = ConfigBuilder("spark.x").intConf.checkValue({check}, "msg").createOptional'
    )
    assert setting.bounds == ((bounds,) if bounds else ())
    assert (setting.note is None) == complete


def test_a_check_after_a_transform_not_read_is_not_read_either() -> None:
    setting = one(
        'val X = ConfigBuilder("spark.x").stringConf.transform(normalize)'
        '.checkValues(Set("a")).createOptional'
    )
    assert (setting.one_of, setting.note) == (None, "Spark checks more than is read here")


def test_keys_from_constants_interpolation_and_java() -> None:
    settings = read(
        (
            "org/apache/spark/launcher/SparkLauncher.java",
            """
            public class SparkLauncher {
              public static final String DRIVER_MEMORY = "spark.driver.memory";
            }
        """,
        ),
        (
            "org/apache/spark/deploy/k8s/Config.scala",
            """
            private[spark] object Config {
              val PREFIX = "spark.kubernetes.authenticate.driver"
              val SA = ConfigBuilder(s"$PREFIX.serviceAccountName").stringConf.createOptional
              val MEM = ConfigBuilder(SparkLauncher.DRIVER_MEMORY).bytesConf(ByteUnit.MiB)
                .createWithDefaultString("1g")
              val SEQ = ConfigBuilder(PREFIX + ".list").intConf.toSequence.createWithDefault(Nil)
            }
        """,
        ),
    )
    assert sorted(settings) == [
        "spark.driver.memory",
        "spark.kubernetes.authenticate.driver.list",
        "spark.kubernetes.authenticate.driver.serviceAccountName",
    ]
    assert settings["spark.kubernetes.authenticate.driver.list"].sequence


def test_a_definition_the_reader_cannot_follow_is_untyped_and_says_why() -> None:
    result = read_settings(
        [
            SourceFile(
                CONFIG,
                'object C { val X = ConfigBuilder("spark.x").intConf'
                ".withSomethingNew(1).createOptional\n"
                "val Y = ConfigBuilder(computeKey()).intConf.createOptional }",
            )
        ]
    )
    assert result.settings == {}
    assert result.untyped == {"spark.x": "a builder call not read here: .withSomethingNew"}
    assert result.unresolved_keys == (
        "org/apache/spark/internal/config/package.scala:2: computeKey()",
    )


# --- Spark's converters, against a reading of their grammar written separately -------------------

# Java's String.trim and Double.parseDouble, written from the JLS productions (Digits,
# ExponentPart, FloatTypeSuffix, HexSignificand, BinaryExponent) rather than values.py's regex.
_TRIMMED = "".join(map(chr, range(33)))
_DIGITS = "[0-9]+"
_EXPONENT = f"[eE][+-]?{_DIGITS}"
_DECIMAL = (
    f"(?:{_DIGITS}\\.(?:{_DIGITS})?(?:{_EXPONENT})?"
    f"|\\.{_DIGITS}(?:{_EXPONENT})?|{_DIGITS}{_EXPONENT}|{_DIGITS})"
)
_HEX = "0[xX](?:[0-9a-fA-F]+\\.?|[0-9a-fA-F]*\\.[0-9a-fA-F]+)[pP][+-]?[0-9]+"
_JAVA_DOUBLE = re.compile(f"[+-]?(?:NaN|Infinity|(?:{_DECIMAL}|{_HEX})[fFdD]?)")

ascii_text = st.lists(
    st.sampled_from(
        [
            *"0123456789",
            *"+-._ \t\x00\x1f\u00a0\u2003",
            *"eEdDfFxXpP",
            *"kKmMgGbBtTsShHuUiI",
            "min",
            "NaN",
            "Infinity",
            "inf",
            "true",
            "FALSE",
            "9223372036854775807",
            "2147483648",
        ]
    ),
    max_size=8,
).map("".join)


def _reference_integer(text: str, bits: int) -> int | None:
    text = text.strip(_TRIMMED)
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    number = int(text)
    return number if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1) else None


def _outcome(function: object, *args: object) -> object:
    try:
        return function(*args)  # type: ignore[operator]
    except values.RefusedError:
        return None


@given(ascii_text)
@example("\x00 7\x1f")
@example("\u00a07")
@example("+1")
@example(" -2147483648 ")
@example("2147483648")
def test_ints_and_longs_read_as_java_parses_them(text: str) -> None:
    for bits in (values.INT_BITS, values.LONG_BITS):
        got = _outcome(values.parse_integer, values.java_trim(text), bits)
        assert got == _reference_integer(text, bits)


def test_java_reads_decimal_digits_of_any_script_but_only_single_utf16_units() -> None:
    # checked against the JDK: Arabic-Indic and fullwidth digits parse, U+1D7D1 (a surrogate
    # pair) does not
    assert values.parse_integer("\u0661\u0662", values.INT_BITS) == 12
    assert values.parse_integer("\uff13", values.INT_BITS) == 3
    with pytest.raises(values.RefusedError):
        values.parse_integer("\U0001d7d1", values.INT_BITS)


@given(ascii_text)
@example("1d")
@example("0x1.8p1")
@example(".5e-3F")
@example("-Infinity")
@example("inf")
@example("1_0")
@example("1.")
def test_doubles_read_as_java_parses_them(text: str) -> None:
    trimmed = text.strip(_TRIMMED)
    got = _outcome(values.parse_double, text)
    if not _JAVA_DOUBLE.fullmatch(trimmed):
        assert got is None
        return
    body = trimmed.rstrip("fFdD") if not trimmed.endswith("NaN") else trimmed
    body = body.replace("Infinity", "inf")
    expected = float.fromhex(body) if "x" in body.lower() else float(body)
    assert isinstance(got, float)
    assert got == expected or (math.isnan(got) and math.isnan(expected))


@given(ascii_text)
@example(" TRUE ")
@example("\u2003true")
def test_booleans_read_as_scala_reads_them(text: str) -> None:
    expected = {"true": True, "false": False}.get(text.strip(_TRIMMED).lower())
    for scala in get_args(values.ScalaVersion):
        assert _outcome(values.parse_boolean, values.java_trim(text), scala) == expected


def test_scala_2_13_reads_booleans_with_equals_ignore_case() -> None:
    # U+017F (long s) upper-cases to S: equalsIgnoreCase takes it, 2.12's toLowerCase does not
    assert values.parse_boolean("fal\u017fe", "2.13") is False
    with pytest.raises(values.RefusedError):
        values.parse_boolean("fal\u017fe", "2.12")


@pytest.mark.parametrize(
    ("text", "other", "equal"),
    [  # as the JDK (17) answers
        ("\u0130NFO", "info", True),  # I with dot: its one-char lower case is i
        ("\u0131nfo", "INFO", True),  # dotless i: upper case I
        ("\u212aib", "KIB", True),  # Kelvin sign: lower case k
        ("fal\u017fe", "false", True),
        ("stra\u00dfe", "STRASSE", False),
        ("\u00df", "S", False),  # sharp s has no one-char upper case
        ("\U00010400", "\U00010428", True),  # Deseret, beyond the BMP
        ("info", "inf", False),
    ],
)
def test_equals_ignore_case_is_java_s(text: str, other: str, equal: bool) -> None:
    assert values.java_equals_ignore_case(text, other) is equal


SUFFIXES_35 = {
    "b": "BYTE",
    "k": "KiB",
    "kb": "KiB",
    "m": "MiB",
    "mb": "MiB",
    "g": "GiB",
    "gb": "GiB",
    "t": "TiB",
    "tb": "TiB",
    "p": "PiB",
    "pb": "PiB",
}
SIZES = {"BYTE": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}
TIMES = {
    "us": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "min": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
}


def _reference_bytes(text: str, unit: str) -> int | None:
    sign = -1 if text.startswith("-") else 1
    match = re.fullmatch(r"([0-9]+)([a-z]*)", text[sign < 0 :].lower().strip(_TRIMMED))
    if match is None or int(match[1]) >= 2**63 or (match[2] and match[2] not in SUFFIXES_35):
        return None
    in_bytes = int(match[1]) * SIZES[SUFFIXES_35[match[2]] if match[2] else unit]
    if in_bytes // SIZES[unit] >= 2**63:
        return None
    return sign * (in_bytes // SIZES[unit])


def _reference_time(text: str, nanos: int) -> int | None:
    match = re.fullmatch(r"(-?[0-9]+)([a-z]*)", text.lower().strip(_TRIMMED))
    if match is None or not -(2**63) <= int(match[1]) < 2**63:
        return None
    if match[2] and match[2] not in TIMES:
        return None
    exact = int(match[1]) * (TIMES[match[2]] if match[2] else nanos)
    truncated = abs(exact) // nanos * (1 if exact >= 0 else -1)
    return max(-(2**63), min(2**63 - 1, truncated))


sizes = st.builds(
    lambda sign, digits, space, suffix: f"{sign}{space}{digits}{suffix}{space}",
    st.sampled_from(["", "-", "--"]),
    st.integers(min_value=0, max_value=2**66).map(str) | st.just("1.5"),
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from([*SUFFIXES_35, *(s.upper() for s in SUFFIXES_35), "", "kib", "x", "us"]),
)


@given(sizes | ascii_text)
@example("1.5g")
@example("-1g")
@example("-5k")
@example("\u00a05k")
@example("8388608t")
def test_sizes_read_as_spark_reads_them(text: str) -> None:
    for unit in ("BYTE", "MiB"):
        got = _outcome(values.byte_string_as, text, unit, SUFFIXES_35)
        assert got == _reference_bytes(text, unit)


durations = st.builds(
    lambda digits, suffix: f"{digits}{suffix}",
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.sampled_from([*TIMES, *(s.upper() for s in TIMES), "", "sec", "ns"]),
)


@given(durations | ascii_text)
@example("9223372036854775807d")
@example("-1500ms")
def test_durations_read_as_spark_reads_them(text: str) -> None:
    suffixes = {
        "us": "MICROSECONDS",
        "ms": "MILLISECONDS",
        "s": "SECONDS",
        "m": "MINUTES",
        "min": "MINUTES",
        "h": "HOURS",
        "d": "DAYS",
    }
    for unit, nanos in (("SECONDS", 10**9), ("MILLISECONDS", 10**6)):
        assert _outcome(values.time_string_as, text, unit, suffixes) == _reference_time(text, nanos)


# --- the committed tables -----------------------------------------------------------------------

MINORS = table_minors()


def committed(minor: str) -> SettingsTable:
    table = load_table(minor)
    assert table is not None
    return table


def test_the_tables_are_the_committed_json_files() -> None:
    files = {p.name for p in resources.files("spark_streams.spark_settings").iterdir()}
    assert {f"{minor}.json" for minor in MINORS} == {f for f in files if f.endswith(".json")}
    assert {"3.5", "4.0", "4.1", "4.2"} <= set(MINORS)


def test_every_spark_version_a_stream_runs_has_a_table() -> None:
    versions = {s.spark_version for stack in ("dev", "prod") for s in effective_streams(stack)}
    assert versions
    assert {minor_of(version) for version in versions} <= set(MINORS)


@pytest.mark.parametrize("minor", MINORS)
def test_a_table_says_what_it_was_made_from_and_is_as_the_generator_writes_it(minor: str) -> None:
    table = committed(minor)
    assert table.format == FORMAT
    assert minor_of(table.spark_version) == minor
    # every artifact the generator reads today, each at the table's exact version
    read = {a.coordinates.split(":")[1].rsplit("_", 1)[0] for a in table.artifacts}
    version = tuple(map(int, minor.split(".")))
    wanted = {a.name for a in generate.ARTIFACTS if a.since <= version}
    assert read | set(table.missing_artifacts) == wanted
    assert all(a.coordinates.endswith(f":{table.spark_version}:sources") for a in table.artifacts)
    # made by the generator, not edited by hand
    text = resources.files("spark_streams.spark_settings").joinpath(f"{minor}.json").read_text()
    assert generate.render(table) == text


@pytest.mark.parametrize("minor", MINORS)
def test_known_settings_have_their_types(minor: str) -> None:
    s = committed(minor).settings
    assert s["spark.sql.shuffle.partitions"].type == "int"
    assert s["spark.sql.shuffle.partitions"].bounds == ((((">", 0),),),)
    assert (s["spark.executor.memory"].type, s["spark.executor.memory"].unit) == ("bytes", "MiB")
    assert s["spark.executor.memoryOverheadFactor"].type == "double"
    assert (s["spark.network.timeout"].type, s["spark.network.timeout"].unit) == ("time", "SECONDS")
    provider = s["spark.sql.streaming.stateStore.providerClass"]
    assert (provider.type, provider.one_of) == ("string", None)
    policy = s["spark.sql.streaming.multipleWatermarkPolicy"]
    assert (policy.one_of, policy.transforms) == (("max", "min"), ("lower",))
    assert s["spark.sql.adaptive.enabled"].type == "boolean"
    assert s["spark.memory.offHeap.size"].unit == "BYTE"


@pytest.mark.parametrize("minor", MINORS)
def test_kubernetes_settings_are_typed_or_the_table_says_they_are_missing(minor: str) -> None:
    table = committed(minor)
    if "spark-kubernetes" in table.missing_artifacts:
        assert "spark.kubernetes.allocation.batch.size" not in table.settings
        return
    assert table.settings["spark.kubernetes.allocation.batch.size"].type == "int"
    assert table.settings["spark.kubernetes.submission.waitAppCompletion"].type == "boolean"
    assert table.settings["spark.kubernetes.container.image.pullPolicy"].one_of == (
        "Always",
        "IfNotPresent",
        "Never",
    )


def test_size_suffixes_are_the_release_s_own() -> None:
    assert "gib" not in committed("3.5").byte_suffixes
    assert committed("4.2").byte_suffixes["gib"] == "GiB"
    assert set(committed("4.2").byte_suffixes.values()) == set(get_args(ByteUnitName))
    assert set(committed("3.5").time_suffixes.values()) < set(get_args(TimeUnitName))


@pytest.mark.parametrize("minor", MINORS)
def test_every_default_in_a_table_is_accepted_and_every_setting_has_an_example(minor: str) -> None:
    table = committed(minor)
    for key, setting in table.settings.items():
        if setting.default is not None:
            assert refusal(table, setting, setting.default) is None, key
        if setting.type in ("int", "long", "double", "boolean", "bytes", "time") or setting.one_of:
            assert example_value(table, setting) is not None, key


# --- the check ------------------------------------------------------------------------------------


def test_a_value_spark_refuses_is_refused_with_what_it_expects_and_a_fix() -> None:
    table = committed("3.5")
    assert check_setting(table, "spark.executor.memoryOverheadFactor", "lots") == (
        "Spark 3.5 reads spark.executor.memoryOverheadFactor as a number (double) above 0; got "
        "'lots' (not a number). Fix: write e.g. '0.1'"
    )


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("spark.executor.memoryOverheadFactor", "0.2d", False),
        ("spark.executor.memoryOverheadFactor", "0", True),
        ("spark.executor.memoryOverheadFactor", "NaN", True),
        ("spark.executor.memory", "4g", False),
        ("spark.executor.memory", "4 GB ", True),
        ("spark.executor.memory", " 4GB ", False),
        ("spark.executor.memory", "4gib", True),
        ("spark.sql.shuffle.partitions", "+8", False),
        ("spark.sql.shuffle.partitions", "8.0", True),
        ("spark.network.timeout", "2min", False),
        ("spark.network.timeout", "2 minutes", True),
        ("spark.sql.streaming.multipleWatermarkPolicy", "MAX", False),
        ("spark.sql.streaming.multipleWatermarkPolicy", " max", True),
        ("spark.speculation", "yes", True),
        ("spark.kubernetes.driver.label.team", "anything", False),  # not a setting: allowed
        ("spark.not.a.setting", "anything", False),
    ],
)
def test_values_are_checked_as_spark_3_5_reads_them(key: str, value: str, refused: bool) -> None:
    assert (check_setting(committed("3.5"), key, value) is not None) == refused


def test_spark_4_2_reads_more_size_units() -> None:
    assert check_setting(committed("4.2"), "spark.executor.memory", "4gib") is None


def test_a_fractional_size_gets_its_whole_equivalent_as_the_fix() -> None:
    message = check_setting(committed("3.5"), "spark.executor.memory", "1.5g")
    assert message is not None
    assert message.endswith(
        "(fractions are not allowed). Fix: write the size in a smaller unit: '1536m'"
    )


def test_a_list_setting_checks_each_item() -> None:
    table = committed("3.5").model_copy(
        update={
            "settings": {"spark.list": Setting(type="string", sequence=True, one_of=("a", "b"))}
        }
    )
    assert check_setting(table, "spark.list", " a,b,, a ") is None
    assert check_setting(table, "spark.list", "a, c") == (
        "Spark 3.5 reads spark.list as a comma-separated list, each item one of 'a', 'b'; got "
        "'a, c' (item 'c': not one of them). Fix: write e.g. 'a'"
    )


def test_a_version_without_a_table_gets_one_verdict_naming_the_tables_and_the_command() -> None:
    assert load_table("3.4.1") is None
    assert no_table_message("3.4.1") == (
        "sparkVersion 3.4.1: there is no table of Spark 3.4's settings here (there are for "
        f"{', '.join(MINORS)}), so spark_conf cannot be checked against it. Fix: use one of those "
        "versions, or make the table with `make spark-settings SPARK=3.4.<newest patch>` and "
        "commit it"
    )
    assert load_table("latest") is None
    assert "is not a Spark version" in no_table_message("latest")


def test_versions_map_to_their_minor() -> None:
    assert [minor_of(v) for v in ("3.5.5", "4.2.0-preview1", "4.0", "v4", "")] == [
        "3.5",
        "4.2",
        "4.0",
        None,
        None,
    ]
    assert committed("3.5.5").spark_version == committed("3.5").spark_version


# --- the generator, offline -----------------------------------------------------------------------


def _converter_sources(config_builder: str) -> list[SourceFile]:
    java_utils = """
        timeSuffixes.put("s", TimeUnit.SECONDS); byteSuffixes.put("m", ByteUnit.MiB);
        String lower = str.toLowerCase(Locale.ROOT).trim();
        Pattern.compile("(-?[0-9]+)([a-z]+)?"); Pattern.compile("([0-9]+)([a-z]+)?");
        long val = Long.parseLong(m.group(1));
    """
    return [
        SourceFile("org/apache/spark/internal/config/ConfigBuilder.scala", config_builder),
        SourceFile("org/apache/spark/network/util/JavaUtils.java", java_utils),
        SourceFile(
            "org/apache/spark/util/Utils.scala", 'str.split(",").map(_.trim()).filter(_.nonEmpty)'
        ),
    ]


CONFIG_BUILDER = """
    converter(s.trim)  toNumber(_, _.toInt, key  toNumber(_, _.toLong, key
    toNumber(_, _.toDouble, key  s.trim.toBoolean  if (str.charAt(0) == '-')
    JavaUtils.byteStringAs(input, unit)  JavaUtils.timeStringAs(str, unit)
    stringToSeq(str).map(converter)
"""


def test_the_generator_reads_the_release_s_unit_suffixes() -> None:
    generate.check_converters(_converter_sources(CONFIG_BUILDER))
    assert generate.suffixes(_converter_sources(CONFIG_BUILDER)) == ({"s": "SECONDS"}, {"m": "MiB"})


def test_the_generator_refuses_a_release_that_converts_differently() -> None:
    changed = CONFIG_BUILDER.replace("s.trim.toBoolean", "parseBoolean(s)")
    with pytest.raises(generate.GenerateError, match="booleans are Scala's toBoolean"):
        generate.check_converters(_converter_sources(changed))
    with pytest.raises(generate.GenerateError, match="Java enums"):
        generate.check_converters(
            _converter_sources(
                CONFIG_BUILDER + "def enumConf withName(s.trim.toUpperCase(Locale.ROOT))"
            )
        )


def test_the_generator_writes_one_setting_a_line_sorted() -> None:
    table = committed("3.5")
    lines = generate.render(table).splitlines()
    rows = [line for line in lines if line.startswith('    "spark.')]
    assert len(rows) == len(table.settings)
    assert rows == sorted(rows)


def _repository(root: Path, version: str, skip: str) -> dict[str, str]:
    """A Maven repository on disk holding a tiny sources jar of each artifact but ``skip``;
    the SHA-256 of each, by artifact."""
    contents = {
        "spark-core": {
            "org/apache/spark/internal/config/ConfigBuilder.scala": CONFIG_BUILDER,
            "org/apache/spark/util/Utils.scala": 'str.split(",").map(_.trim()).filter(_.nonEmpty)',
            CONFIG: """
                package object config {
                  val MEMORY = ConfigBuilder(SparkLauncher.EXECUTOR_MEMORY)
                    .bytesConf(ByteUnit.MiB).createWithDefaultString("512m")
                  val COUNT = ConfigBuilder("spark.count").intConf.checkValue(_ > 0, "positive")
                    .createWithDefaultString("0")
                }
            """,
        },
        "spark-launcher": {
            "org/apache/spark/launcher/SparkLauncher.java": "class SparkLauncher { public static "
            'final String EXECUTOR_MEMORY = "spark.executor.memory"; }',
        },
        "spark-common-utils": {
            "org/apache/spark/network/util/JavaUtils.java": _converter_sources("")[1].text,
        },
    }
    sums = {}
    for artifact in generate.ARTIFACTS:
        if artifact.name == skip or artifact.since > (3, 5):
            continue
        # one artifact only in its Scala 2.13 build: the generator takes it from there
        name = f"{artifact.name}_{'2.13' if artifact.name == 'spark-hive' else '2.12'}"
        folder = root / "org/apache/spark" / name / version
        folder.mkdir(parents=True)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as jar:
            for path, text in contents.get(artifact.name, {"README": ""}).items():
                jar.writestr(path, textwrap.dedent(text))
        body = buffer.getvalue()
        (folder / f"{name}-{version}-sources.jar").write_bytes(body)
        (folder / f"{name}-{version}-sources.jar.sha1").write_text(hashlib.sha1(body).hexdigest())
        sums[artifact.name] = hashlib.sha256(body).hexdigest()
    return sums


def test_the_generator_makes_a_table_from_a_repository(tmp_path: Path) -> None:
    sums = _repository(tmp_path / "m2", "3.5.1", skip="spark-kubernetes")
    repository = (tmp_path / "m2").as_uri()
    with pytest.raises(generate.GenerateError, match="no sources jar of spark-kubernetes"):
        generate.generate("3.5.1", repository, output=tmp_path / "3.5.json")
    path = generate.generate(
        "3.5.1", repository, allow_missing=["spark-kubernetes"], output=tmp_path / "3.5.json"
    )
    table = SettingsTable.model_validate_json(path.read_text())
    assert (table.spark_version, table.scala, table.missing_artifacts) == (
        "3.5.1",
        "2.12",
        ("spark-kubernetes",),
    )
    assert {a.coordinates.split(":")[1]: a.sha256 for a in table.artifacts} == {
        f"{name}_{'2.13' if name == 'spark-hive' else '2.12'}": sha for name, sha in sums.items()
    }
    assert table.settings == {
        "spark.count": Setting(type="int", bounds=((((">", 0),),),)),  # its default "0" is refused
        "spark.executor.memory": Setting(type="bytes", unit="MiB", default="512m"),
    }


def test_the_generator_refuses_a_download_that_does_not_match_its_checksum(tmp_path: Path) -> None:
    _repository(tmp_path, "3.5.1", skip="")
    sha1 = next(tmp_path.rglob("spark-core_2.12-3.5.1-sources.jar.sha1"))
    sha1.write_text("0" * 40)
    with pytest.raises(generate.GenerateError, match=r"does not match its published \.sha1"):
        generate.generate("3.5.1", tmp_path.as_uri(), output=tmp_path / "out.json")


def test_the_command_wants_an_exact_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.main(["3.5"]) == 1
    assert capsys.readouterr().err == "error: '3.5': give an exact Spark release, e.g. 3.5.9\n"
