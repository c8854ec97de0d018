"""The committed table of one Spark minor version's settings, and where to find it.

One JSON file per minor version beside this module (``3.5.json``, ...), made by
``python -m spark_streams.spark_settings.generate`` from that Spark's own sources and read here
per call: nothing is kept between calls.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from spark_streams.spark_settings.values import BYTE_UNITS, TIME_UNITS, ScalaVersion

# Bumped whenever what the generator writes changes meaning; the tests hold every committed
# table to it, so a table made by an older generator cannot stay in place unnoticed.
FORMAT = 1

Kind = Literal["int", "long", "double", "boolean", "string", "bytes", "time", "regex"]
Fold = Literal["trim", "upper", "lower"]
Op = Literal["<", "<=", ">", ">=", "==", "!="]
ByteUnitName = Literal["BYTE", "KiB", "MiB", "GiB", "TiB", "PiB"]
TimeUnitName = Literal[
    "NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"
]
Comparison = tuple[Op, int | float]
# A bound Spark checks the converted value against: any of the groups, every comparison in it.
Bound = tuple[tuple[Comparison, ...], ...]

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")
_COMPARISON = re.compile(r"(<=|>=|==|!=|<|>) (-?[0-9.eE+-]+|-?inf)")


def render_bound(bound: Bound) -> str:
    """``> 0 and <= 9 or == -1``: how a bound reads, in the tables and in messages."""
    return " or ".join(" and ".join(f"{op} {value!r}" for op, value in group) for group in bound)


def _parse_bound(text: object) -> object:
    if not isinstance(text, str):
        return text
    groups: list[tuple[Comparison, ...]] = []
    for group in text.split(" or "):
        comparisons: list[Comparison] = []
        for part in group.split(" and "):
            match = _COMPARISON.fullmatch(part)
            if match is None:
                raise ValueError(f"not a bound: {text!r}")
            number = match[2]
            value = int(number) if re.fullmatch(r"-?[0-9]+", number) else float(number)
            comparisons.append((match[1], value))  # type: ignore[arg-type]  # checked by the model
        groups.append(tuple(comparisons))
    return tuple(groups)


BoundText = Annotated[
    Bound, BeforeValidator(_parse_bound), PlainSerializer(render_bound, return_type=str)
]


class Setting(BaseModel):
    """What Spark accepts for one setting, as its definition builds the converter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Kind
    unit: ByteUnitName | TimeUnitName | None = Field(
        default=None, description="bytes and time: the unit of a bare number"
    )
    sequence: bool = Field(default=False, description="a comma-separated list of the type")
    transforms: tuple[Fold, ...] = Field(
        default=(), description="string: what Spark does to the text before comparing it"
    )
    one_of: tuple[str, ...] | None = Field(
        default=None, description="string: the values Spark accepts (after the transforms)"
    )
    ignore_case: bool = Field(
        default=False, description="one_of compared with Java's equalsIgnoreCase"
    )
    bounds: tuple[BoundText, ...] = Field(
        default=(), description="numbers, sizes, durations: each must hold (in the unit)"
    )
    default: str | None = Field(default=None, description="Spark's default, when it is a literal")
    fallback_of: str | None = Field(default=None, description="the setting it falls back to")
    alternative_of: str | None = Field(
        default=None, description="the current name of a setting read under this old name"
    )
    note: str | None = Field(default=None, description="what Spark checks that is not typed here")

    @model_validator(mode="after")
    def _unit_of_its_type(self) -> Setting:
        units = {"bytes": BYTE_UNITS, "time": TIME_UNITS}.get(self.type)
        if (units is None) != (self.unit is None) or (units and self.unit not in units):
            raise ValueError(f"a {self.type} setting cannot have the unit {self.unit}")
        return self


class Artifact(BaseModel):
    """One sources jar the table was made from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    coordinates: str = Field(pattern=r"^org\.apache\.spark:[a-z0-9.-]+_2\.1[23]:[^:]+:sources$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SettingsTable(BaseModel):
    """Every setting one Spark release defines, with its type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int
    spark_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    scala: ScalaVersion = Field(description="the release's default Scala: its toBoolean")
    artifacts: tuple[Artifact, ...]
    missing_artifacts: tuple[str, ...] = Field(
        default=(),
        description="artifacts whose sources could not be read: their settings are unknown here",
    )
    byte_suffixes: dict[str, ByteUnitName]
    time_suffixes: dict[str, TimeUnitName]
    settings: dict[str, Setting]
    untyped: dict[str, str] = Field(
        default_factory=dict, description="settings found without a type, and why"
    )

    @property
    def minor(self) -> str:
        return minor_of(self.spark_version) or self.spark_version


def minor_of(spark_version: str) -> str | None:
    """``3.5`` for ``3.5.5`` (or ``3.5.0-preview1``); ``None`` when it is not a version."""
    match = _VERSION.match(spark_version.strip())
    return f"{int(match[1])}.{int(match[2])}" if match else None


def table_minors() -> tuple[str, ...]:
    """The Spark minor versions that have a table, oldest first."""
    names = (entry.name for entry in resources.files(__package__).iterdir())
    found = [name[: -len(".json")] for name in names if re.fullmatch(r"\d+\.\d+\.json", name)]
    return tuple(sorted(found, key=lambda minor: tuple(map(int, minor.split(".")))))


def load_table(spark_version: str) -> SettingsTable | None:
    """The table for ``spark_version``'s minor version, read now; ``None`` when there is none
    (:func:`no_table_message` says so to the user)."""
    minor = minor_of(spark_version)
    if minor is None or minor not in table_minors():
        return None
    text = resources.files(__package__).joinpath(f"{minor}.json").read_text(encoding="utf-8")
    return SettingsTable.model_validate_json(text)


class Tables:
    """The tables one run reads (a plan, a list, a diff): each loaded at most once, and
    forgotten with the run."""

    def __init__(self) -> None:
        self._loaded: dict[str, SettingsTable | None] = {}

    def for_version(self, spark_version: str) -> SettingsTable | None:
        minor = minor_of(spark_version) or spark_version
        if minor not in self._loaded:
            self._loaded[minor] = load_table(spark_version)
        return self._loaded[minor]


def no_table_message(spark_version: str) -> str:
    """The one verdict for a Spark version without a table (every command gives the same)."""
    minor = minor_of(spark_version)
    if minor is None:
        return (
            f"sparkVersion {spark_version!r} is not a Spark version, so spark_conf cannot be "
            "checked against Spark's settings. Fix: write the image's Spark version, e.g. 3.5.5"
        )
    return (
        f"sparkVersion {spark_version}: there is no table of Spark {minor}'s settings here "
        f"(there are for {', '.join(table_minors()) or 'none'}), so spark_conf cannot be checked "
        f"against it. Fix: use one of those versions, or make the table with "
        f"`make spark-settings SPARK={minor}.<newest patch>` and commit it"
    )
