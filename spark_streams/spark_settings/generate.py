"""Makes the table of one Spark release's settings from that release's own sources.

    make spark-settings SPARK=3.5.9
    uv run python -m spark_streams.spark_settings.generate 3.5.9 [--allow-missing spark-kubernetes]

Downloads the ``-sources.jar`` of each artifact below from Maven Central (``--repository`` for
a mirror), checks each against the ``.sha1`` published beside it, reads every setting
definition in them (:mod:`spark_streams.spark_settings.chains`) and writes
``spark_streams/spark_settings/<minor>.json``: the exact version, each jar's coordinates and
SHA-256, the unit suffixes of that release's ``JavaUtils`` and every setting with its type. It
refuses to write a table when that release converts values differently from what
:mod:`spark_streams.spark_settings.values` implements.

The artifacts are those holding the settings a Structured Streaming job on Kubernetes reads,
plus those their definitions take constants and enumerations from. Left out: spark-yarn and
spark-mesos (other cluster managers), spark-streaming and spark-streaming-kafka-0-10 (DStreams),
spark-connect (the Connect server, which a stream does not run); spark-sql, spark-avro,
spark-mllib and spark-hive-thriftserver define none.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spark_streams.spark_settings.chains import Read, read_settings
from spark_streams.spark_settings.check import refusal
from spark_streams.spark_settings.table import (
    FORMAT,
    Artifact,
    ByteUnitName,
    SettingsTable,
    TimeUnitName,
    minor_of,
)
from spark_streams.spark_settings.tokens import SourceFile
from spark_streams.spark_settings.values import ScalaVersion

CENTRAL = "https://repo1.maven.org/maven2"
TABLES = Path(__file__).parent


@dataclass(frozen=True)
class _Artifact:
    name: str
    since: tuple[int, int] = (3, 0)


ARTIFACTS = (
    # where the settings are defined
    _Artifact("spark-core"),
    _Artifact("spark-catalyst"),  # SQLConf, StaticSQLConf
    _Artifact("spark-kubernetes"),
    _Artifact("spark-hive"),
    _Artifact("spark-sql-kafka-0-10"),
    # what the definitions name: ConfigBuilder and JavaUtils, constants, enumerations
    _Artifact("spark-common-utils", since=(3, 5)),
    _Artifact("spark-common-utils-java", since=(4, 1)),
    _Artifact("spark-sql-api", since=(3, 5)),
    _Artifact("spark-launcher"),
    _Artifact("spark-network-common"),
    _Artifact("spark-network-shuffle"),
)

# How Spark converts text, as values.py implements it: each must appear in the release's sources.
# (file, what, text) -- a release that changed one of them needs values.py looked at first.
_CONVERTERS = (
    ("ConfigBuilder.scala", "numbers are trimmed", "converter(s.trim)"),
    ("ConfigBuilder.scala", "ints are Java ints", "toNumber(_, _.toInt, key"),
    ("ConfigBuilder.scala", "longs are Java longs", "toNumber(_, _.toLong, key"),
    ("ConfigBuilder.scala", "doubles are Java doubles", "toNumber(_, _.toDouble, key"),
    ("ConfigBuilder.scala", "booleans are Scala's toBoolean", "s.trim.toBoolean"),
    ("ConfigBuilder.scala", "a size may start with -", "charAt(0) == '-'"),
    ("ConfigBuilder.scala", "sizes are JavaUtils'", "JavaUtils.byteStringAs(input, unit)"),
    ("ConfigBuilder.scala", "durations are JavaUtils'", "JavaUtils.timeStringAs(str, unit)"),
    ("ConfigBuilder.scala", "lists are split by stringToSeq", "stringToSeq(str).map(converter)"),
    ("JavaUtils.java", "size and duration text is lower-cased", "toLowerCase(Locale.ROOT).trim()"),
    ("JavaUtils.java", "a duration is a long and a suffix", '"(-?[0-9]+)([a-z]+)?"'),
    ("JavaUtils.java", "a size is a long and a suffix", '"([0-9]+)([a-z]+)?"'),
    ("JavaUtils.java", "numbers are Java longs", "Long.parseLong(m.group(1))"),
)
# Only where ConfigBuilder has enumConf (Spark 4): its two converters.
_ENUM_CONVERTERS = (
    ("ConfigBuilder.scala", "Scala enumerations", "withName(s.trim.toUpperCase(Locale.ROOT))"),
    ("ConfigBuilder.scala", "Java enums", "_.name().equalsIgnoreCase(s.trim)"),
)
_STRING_TO_SEQ = 'str.split(",").map(_.trim()).filter(_.nonEmpty)'
_TIME_SUFFIX = re.compile(r'"([a-z]+)"\s*,\s*TimeUnit\.([A-Z]+)')
_BYTE_SUFFIX = re.compile(r'"([a-z]+)"\s*,\s*ByteUnit\.([A-Za-z]+)')


class GenerateError(Exception):
    """Why no table was written, for the person running the command."""


@dataclass(frozen=True)
class _Jar:
    coordinates: str
    sha256: str
    files: tuple[SourceFile, ...]
    size: int


def scala_of(version: tuple[int, int]) -> ScalaVersion:
    """The release's default Scala: 2.12 up to Spark 3, 2.13 from Spark 4."""
    return "2.12" if version < (4, 0) else "2.13"


def _download(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise GenerateError(f"{url}: HTTP {error.code}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, FileNotFoundError):  # a file:// repository, e.g. ~/.m2
            return None
        raise GenerateError(f"{url}: {error.reason}") from None


def _fetch(repository: str, artifact: str, version: str, scalas: Sequence[str]) -> _Jar | None:
    """The sources jar, under the first Scala build that has it (a release's sources are the same
    for each), checked against its published SHA-1; ``None`` when none has it."""
    for scala in scalas:
        name = f"{artifact}_{scala}"
        url = f"{repository}/org/apache/spark/{name}/{version}/{name}-{version}-sources.jar"
        body = _download(url)
        if body is None:
            continue
        published = _download(url + ".sha1")
        if published is None or published.split()[0].decode() != hashlib.sha1(body).hexdigest():
            raise GenerateError(f"{url}: the download does not match its published .sha1")
        with zipfile.ZipFile(io.BytesIO(body)) as jar:
            files = tuple(
                SourceFile(entry, jar.read(entry).decode("utf-8", errors="replace"))
                for entry in sorted(jar.namelist())
                if entry.endswith((".scala", ".java"))
            )
        coordinates = f"org.apache.spark:{name}:{version}:sources"
        return _Jar(coordinates, hashlib.sha256(body).hexdigest(), files, len(body))
    return None


def _one_file(files: Sequence[SourceFile], name: str) -> SourceFile:
    found = [source for source in files if source.path.endswith("/" + name)]
    if len(found) != 1:
        raise GenerateError(f"expected one {name} in the sources, found {len(found)}")
    return found[0]


def check_converters(files: Sequence[SourceFile]) -> None:
    """:class:`GenerateError` unless the release converts text as values.py does."""
    sources = {name: _one_file(files, name) for name in ("ConfigBuilder.scala", "JavaUtils.java")}
    rules = list(_CONVERTERS)
    if "def enumConf" in sources["ConfigBuilder.scala"].text:
        rules.extend(_ENUM_CONVERTERS)
    changed = [what for name, what, text in rules if text not in sources[name].text]
    if not any(_STRING_TO_SEQ in source.text for source in files):
        changed.append("lists are comma-separated, trimmed, empty items dropped")
    if changed:
        raise GenerateError(
            "this Spark converts settings differently from spark_streams/spark_settings/"
            f"values.py ({'; '.join(changed)}): update values.py before making its table"
        )


def suffixes(
    files: Sequence[SourceFile],
) -> tuple[dict[str, TimeUnitName], dict[str, ByteUnitName]]:
    """The unit suffixes ``JavaUtils.timeStringAs`` and ``byteStringAs`` accept."""
    text = _one_file(files, "JavaUtils.java").text
    time_suffixes = dict(_TIME_SUFFIX.findall(text))
    byte_suffixes = dict(_BYTE_SUFFIX.findall(text))
    if not time_suffixes or not byte_suffixes:
        raise GenerateError("no unit suffixes found in JavaUtils.java")
    return time_suffixes, byte_suffixes


def make_table(
    version: str,
    jars: Sequence[_Jar],
    missing: Sequence[str],
    read: Read,
    files: Sequence[SourceFile],
) -> SettingsTable:
    """The table, with each literal default kept only where Spark's converter accepts it."""
    parsed = _parse_version(version)
    time_suffixes, byte_suffixes = suffixes(files)
    table = SettingsTable(
        format=FORMAT,
        spark_version=version,
        scala=scala_of(parsed),
        artifacts=tuple(Artifact(coordinates=j.coordinates, sha256=j.sha256) for j in jars),
        missing_artifacts=tuple(missing),
        byte_suffixes=byte_suffixes,
        time_suffixes=time_suffixes,
        settings=read.settings,
        untyped=read.untyped,
    )
    settings = {
        key: setting
        if setting.default is None or refusal(table, setting, setting.default) is None
        else setting.model_copy(update={"default": None})
        for key, setting in table.settings.items()
    }
    return table.model_copy(update={"settings": settings})


def render(table: SettingsTable) -> str:
    """The table as JSON: keys sorted, one setting a line, so a diff reads setting by setting."""
    data = table.model_dump(mode="json", exclude_defaults=True)
    settings = data.pop("settings")
    lines = ["{"]
    for name, value in sorted(data.items()):
        lines.append(f"  {json.dumps(name)}: {json.dumps(value, sort_keys=True)},")
    lines.append('  "settings": {')
    rows = [
        f"    {json.dumps(key)}: {json.dumps(value, sort_keys=True, ensure_ascii=False)}"
        for key, value in sorted(settings.items())
    ]
    lines.append(",\n".join(rows))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _parse_version(version: str) -> tuple[int, int]:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise GenerateError(f"{version!r}: give an exact Spark release, e.g. 3.5.9")
    major, minor, _ = map(int, version.split("."))
    return major, minor


def generate(
    version: str,
    repository: str = CENTRAL,
    allow_missing: Sequence[str] = (),
    output: Path | None = None,
) -> Path:
    """Downloads, reads and writes the table of ``version``; prints what it did."""
    parsed = _parse_version(version)
    scalas = ("2.12", "2.13") if parsed < (4, 0) else ("2.13",)
    started = time.monotonic()
    jars: list[_Jar] = []
    missing: list[str] = []
    for artifact in ARTIFACTS:
        if parsed < artifact.since:
            continue
        jar = _fetch(repository.rstrip("/"), artifact.name, version, scalas)
        if jar is None:
            missing.append(artifact.name)
            continue
        jars.append(jar)
        print(f"  {jar.coordinates}: {jar.size / 1e6:.1f} MB, {len(jar.files)} files")
    unexpected = [name for name in missing if name not in allow_missing]
    if unexpected:
        raise GenerateError(
            f"Spark {version}: no sources jar of {', '.join(unexpected)} at {repository}. "
            "Fix: give a release that has them, or --allow-missing NAME to make a table without "
            "them (their settings then go unchecked, and the table says so)"
        )
    downloaded = time.monotonic()
    files = [source for jar in jars for source in jar.files]
    check_converters(files)
    read = read_settings(files)
    table = make_table(version, jars, missing, read, files)
    parsed_at = time.monotonic()
    path = output or TABLES / f"{minor_of(version)}.json"
    path.write_text(render(table), encoding="utf-8")
    kinds = Counter(setting.type for setting in table.settings.values())
    counts = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
    print(
        f"{path}: {len(table.settings)} settings ({counts}), "
        f"{len(table.untyped)} untyped, {path.stat().st_size / 1e3:.0f} kB; "
        f"download {downloaded - started:.1f} s, read {parsed_at - downloaded:.1f} s"
    )
    for key, why in table.untyped.items():
        print(f"  untyped {key}: {why}")
    for place in read.unresolved_keys:
        print(f"  a definition whose key is not read: {place}")
    if missing:
        print(f"  missing (their settings are unchecked): {', '.join(missing)}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spark_streams.spark_settings.generate",
        description="Make the table of a Spark release's settings from its sources jars.",
    )
    parser.add_argument("version", help="an exact Spark release, e.g. 3.5.9")
    parser.add_argument(
        "--repository",
        default=CENTRAL,
        help=f"a Maven repository: a mirror, or file://$HOME/.m2/repository (default {CENTRAL})",
    )
    parser.add_argument(
        "--allow-missing",
        action="append",
        default=[],
        metavar="ARTIFACT",
        help="make the table even when this artifact has no sources jar (e.g. spark-kubernetes)",
    )
    parser.add_argument("--output", type=Path, help="where to write (default: the package's table)")
    args = parser.parse_args(argv)
    try:
        generate(args.version, args.repository, args.allow_missing, args.output)
    except GenerateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
