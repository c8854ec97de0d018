"""Every rule on the inputs, in one place: the verdict every command gives, before anything
is registered (:func:`spark_streams.inputs.load` applies it).

Rules on one stream file, on a file against the stack config, on the stack config as a whole,
and on each stream's effective settings; every problem is collected, none stops the others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from spark_streams import capacity, program_conf
from spark_streams.config import StackConfig, history_server_reads_one_directory
from spark_streams.discovery import StreamFile
from spark_streams.metadata import (
    DO_NOT_DISRUPT,
    RESERVED_ANNOTATIONS,
    RESERVED_LABELS,
    reserved,
)
from spark_streams.model import Stream
from spark_streams.problems import Problem, closest, did_you_mean
from spark_streams.resolve import STREAM_PLACEHOLDER, EffectiveStream
from spark_streams.settings import (
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSettings,
    is_set,
)
from spark_streams.spark_settings import SettingsTable, Tables, check_setting, no_table_message
from spark_streams.types import memory_mib, split_s3_uri

APP_FILE_SCHEMES = ("local://", "s3a://", "https://")
_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def without_config(files: Sequence[StreamFile], known_stacks: Iterable[str]) -> list[Problem]:
    """What can be checked while the stack config is invalid: each file, then names."""
    stacks = set(known_stacks)
    return [*(p for item in files for p in _check_stream(item, stacks)), *check_names(files)]


def verdict(
    files: Sequence[StreamFile],
    streams: Sequence[EffectiveStream],
    config: StackConfig,
    stack: str,
    stack_file: str,
    known_stacks: Iterable[str],
) -> list[Problem]:
    """Every problem with the stack config and the streams of ``stack``.

    ``streams`` are the effective streams of ``files`` in ``stack``; each is checked as a whole
    even when its file has problems, so that one run reports everything. A stream whose name
    clashes stays out of the sink-overlap check (the clash is the cause, reported once).
    """
    stacks = set(known_stacks)
    tables = Tables()
    problems = list(_check_stack(config, stack_file, tables))
    for item in files:
        problems.extend(_check_stream(item, stacks))
        problems.extend(_check_in_stack(item, config))
        problems.extend(_check_conf_layers(item, config, stack, tables))
    clashes = list(check_names(files))
    problems.extend(clashes)
    clashing = {p.file for p in clashes}
    problems.extend(_check_sinks([s for s in streams if s.file not in clashing]))
    for stream in streams:
        problems.extend(_check_effective(stream, tables.for_version(stream.spark_version)))
    return problems


# --- the stack config as a whole -------------------------------------------------------------


def _check_stack(config: StackConfig, file: str, tables: Tables) -> Iterable[Problem]:
    spark = config.spark
    table = tables.for_version(spark.spark_version)
    if table is None:
        yield Problem(file, None, "spark.sparkVersion", no_table_message(spark.spark_version))
    if history_server_reads_one_directory(config):
        yield Problem(
            file,
            None,
            "monitoring.historyServerImage",
            f"the streams' image runs Spark {spark.spark_version}, whose History Server reads "
            "one directory and will not start with one per stream. Fix: set "
            "historyServerImage to an image with Spark 4.2 or newer (and hadoop-aws), or "
            "historyServer: false",
        )
    for key, value in spark.spark_conf.items():
        message = _conf_problem(key, value, table, config)
        if message:
            yield Problem(file, None, f"spark.sparkConf.{key}", message)


# --- one stream file ---------------------------------------------------------------------------


def _check_stream(item: StreamFile, stacks: set[str]) -> Iterable[Problem]:
    """Checks of one stream file that need no stack config."""
    stream, label = item.stream, item.label

    def problem(field: str, message: str) -> Problem:
        return Problem(label, stream.name, field, message)

    for stack in sorted(set(stream.stacks) - stacks):
        yield problem(
            f"stacks.{stack}",
            f"no stack '{stack}' (known: {', '.join(sorted(stacks))}).{did_you_mean(stack, stacks)}"
            " Fix: use an existing stack name or add Pulumi.<stack>.yaml",
        )
    for env, key in stream.secrets.items():
        if not _ENV_VAR.match(env):
            yield problem(
                f"secrets.{env}",
                "not an environment variable name. Fix: use UPPER_SNAKE_CASE",
            )
        if not _SECRET_KEY.match(key):
            yield problem(f"secrets.{env}", f"{key!r} is not a valid Kubernetes Secret key")
    for field, uri in [("sink", stream.sink), *_indexed("reads", stream.reads)]:
        unknown = set(_PLACEHOLDER.findall(split_s3_uri(uri)[1])) - {STREAM_PLACEHOLDER}
        if unknown:
            yield problem(
                field,
                f"unknown placeholder {', '.join(sorted(unknown))} in {uri!r}. Fix: use "
                f"{{lake}} for the bucket and {STREAM_PLACEHOLDER} for the stream's identity",
            )
    if split_s3_uri(stream.sink) == ("{lake}", ""):
        yield problem("sink", _WHOLE_LAKE)
    yield from (problem(field, message) for field, message in _metadata_problems(stream))
    for index, uri in enumerate(stream.reads):
        if not split_s3_uri(uri)[1]:
            yield problem(
                f"reads[{index}]", "reads a whole bucket. Fix: name the prefix the stream reads"
            )


def _metadata_problems(stream: Stream) -> Iterable[tuple[str, str]]:
    """Labels and annotations: what IAM tags can hold, and keys spark-streams keeps to itself."""
    if len(stream.labels) > IAM_TAGS_FOR_LABELS:
        yield (
            "labels",
            (
                f"{len(stream.labels)} labels; they become the role's IAM tags, and IAM takes "
                f"{IAM_TAGS_FOR_LABELS} beside ours. Fix: keep at most {IAM_TAGS_FOR_LABELS}"
            ),
        )
    for key in stream.labels:
        if len(key) > IAM_TAG_KEY_MAX:
            yield (
                f"labels.{key}",
                (
                    f"is {len(key)} characters; it becomes an IAM tag key, at most "
                    f"{IAM_TAG_KEY_MAX}. Fix: use a shorter prefix"
                ),
            )
        if reserved(key, RESERVED_LABELS):
            yield (
                f"labels.{key}",
                (
                    "is set by spark-streams or the operator (network policies, metrics and alerts "
                    "select pods by it). Fix: use a key of your own, e.g. 'example.com/cost-center'"
                ),
            )
    for key in stream.annotations:
        if reserved(key, RESERVED_ANNOTATIONS):
            yield (
                f"annotations.{key}",
                f"is set by spark-streams. Fix: remove it (driver.do_not_disrupt sets "
                f"{DO_NOT_DISRUPT})",
            )


_WHOLE_LAKE = "the sink is the whole lake. Fix: give the stream its own prefix"


def _check_in_stack(item: StreamFile, config: StackConfig) -> Iterable[Problem]:
    """Checks of one stream file against the stack config: its lake and its secrets."""
    stream, label = item.stream, item.label
    lake = config.buckets.name("lake")
    bucket, prefix = split_s3_uri(stream.sink)
    if bucket not in ("{lake}", lake):
        yield Problem(
            label,
            stream.name,
            "sink",
            f"{stream.sink!r} is outside the data lake. "
            f"Fix: write 's3://{{lake}}/{prefix or '<prefix>/'}'",
        )
    elif bucket == lake and not prefix:
        yield Problem(label, stream.name, "sink", _WHOLE_LAKE)
    if config.require_owner and stream.owner is None:
        yield Problem(
            label,
            stream.name,
            "owner",
            "this stack requires every stream to name its owner (alerts are routed by it). "
            "Fix: owner='<team>', e.g. owner='data-platform'",
        )
    for env, key in stream.secrets.items():
        if key not in config.secrets:
            has = ", ".join(sorted(config.secrets)) or "none"
            near = closest(key, config.secrets)
            hint = f" Did you mean '{near}'?" if near else ""
            use = f"write '{near}', or to add a new one: " if near else ""
            yield Problem(
                label,
                stream.name,
                f"secrets.{env}",
                f"the stack has no secret '{key}' (it has: {has}).{hint} Fix: {use}pulumi config "
                f"set --secret --path 'secrets.{key}' <value>",
            )


def _indexed(field: str, values: Sequence[str]) -> list[tuple[str, str]]:
    return [(f"{field}[{index}]", value) for index, value in enumerate(values)]


# --- names and sinks across streams ----------------------------------------------------------


def check_names(files: Sequence[StreamFile]) -> Iterable[Problem]:
    """A name or earlier name used by two streams would make them share resources."""
    users: dict[str, list[StreamFile]] = {}
    for item in files:
        if item.stream.name in RESERVED_NAMES:
            yield Problem(
                item.label,
                item.stream.name,
                "name",
                "is reserved for a shared object in the namespace. Fix: pick another name",
            )
        for name in dict.fromkeys([item.stream.name, *item.stream.renamed_from]):
            users.setdefault(name, []).append(item)
    for name, items in users.items():
        if len(items) < 2:
            continue
        # Blamed once, on the file that brought the clash in, not on the one it met.
        first, *later = sorted(items, key=StreamFile.added_order)
        for item in later:
            yield Problem(
                item.label,
                item.stream.name,
                "name" if name == item.stream.name else "renamed_from",
                f"'{name}' is already used by stream '{first.stream.name}' in {first.label}. "
                "Fix: pick another name",
            )


def _check_sinks(streams: Sequence[EffectiveStream]) -> Iterable[Problem]:
    """Sinks may not contain one another; sorted, a prefix comes right before what it contains."""
    ordered = sorted(streams, key=lambda s: s.sink.uri)
    open_prefixes: list[EffectiveStream] = []
    for stream in ordered:
        while open_prefixes and not stream.sink.uri.startswith(open_prefixes[-1].sink.uri):
            open_prefixes.pop()
        if open_prefixes:
            other = open_prefixes[-1]
            yield Problem(
                stream.file,
                stream.name,
                "sink",
                f"{stream.sink.uri} overlaps the sink of stream '{other.name}' ({other.sink.uri}) "
                f"in stack {stream.stack}. Fix: give each stream its own prefix",
            )
        open_prefixes.append(stream)


# --- each stream's effective settings ---------------------------------------------------------


def _check_conf_layers(
    item: StreamFile, config: StackConfig, stack: str, tables: Tables
) -> Iterable[Problem]:
    """``spark_conf`` keys as the stream file writes them (the stack's are checked once, with
    the stack): against the Spark the stream runs in ``stack``."""
    stream = item.stream
    override = stream.stacks.get(stack)
    version = next(
        (
            v
            for v in (override.spark_version if override else None, stream.spark_version)
            if v and is_set(v)
        ),
        config.spark.spark_version,
    )
    table = tables.for_version(version)
    if table is None and version != config.spark.spark_version:
        yield Problem(
            item.label, stream.name, "spark_version", f"{no_table_message(version)} (stack {stack})"
        )
    layers: list[tuple[str, object]] = [("spark_conf", stream.spark_conf)]
    if override is not None:
        layers.append((f"stacks.{stack}.spark_conf", override.spark_conf))
    for field, conf in layers:
        if not isinstance(conf, Mapping):
            continue
        for key, value in conf.items():
            message = _conf_problem(key, value, table, config)
            if message:
                yield Problem(item.label, stream.name, f"{field}.{key}", message)


def _conf_problem(
    key: str, value: str, table: SettingsTable | None, config: StackConfig
) -> str | None:
    """What is wrong with one ``spark_conf`` entry: a key the program owns, a secret in plain
    text, or a value Spark's own definition of the key refuses."""
    buckets = [config.buckets.name(p) for p in ("lake", "checkpoints", "event-logs")]
    instead = program_conf.owner_of(key, buckets)
    if instead:
        return f"is set by spark-streams for every stream. Fix: remove it; use {instead}"
    if _SECRET_CONF.search(key) or _SECRET_ASSIGNMENT.search(value):
        return (
            "looks like (or holds) a secret, and Spark conf is plain text in the plan and "
            "the cluster. Fix: pulumi config set --secret --path 'secrets.<key>' <value>, then "
            "secrets={'ENV_VAR': '<key>'} in the stream"
        )
    # Without a table the version itself is refused, once.
    return check_setting(table, key, value) if table is not None else None


def _check_effective(stream: EffectiveStream, table: SettingsTable | None) -> Iterable[Problem]:
    def problem(field: str, message: str) -> Problem:
        return Problem(stream.file, stream.name, field, f"{message} (stack {stream.stack})")

    if stream.type in ("Scala", "Java") and not stream.main_class:
        yield problem(
            "main_class",
            f"a {stream.type} stream needs a main class. Fix: set main_class='com.example.Main'",
        )
    if not stream.application_file.startswith(APP_FILE_SCHEMES):
        scheme = stream.application_file.split("://")[0] if "://" in stream.application_file else ""
        hint = " (Hadoop reads S3 as s3a://)" if scheme == "s3" else ""
        yield problem(
            "application_file",
            f"{stream.application_file!r} has an unsupported scheme{hint}. Fix: use "
            f"{', '.join(APP_FILE_SCHEMES)}",
        )
    restart = stream.restart_policy
    if restart.type == "OnFailure" and restart.on_failure_retries is None:
        yield problem(
            "restart_policy.on_failure_retries",
            "OnFailure with no count never restarts the stream. Fix: set on_failure_retries, "
            "or keep type='Always' (see docs/operating.md, 'Restarts')",
        )
    roles: tuple[tuple[str, PodSettings], ...] = (
        ("driver", stream.driver),
        ("executor", stream.executor),
    )
    for role, resources in roles:
        overhead = resources.memory_overhead
        if overhead and memory_mib(overhead) > memory_mib(resources.memory):
            yield problem(
                f"{role}.memory_overhead",
                f"overhead {overhead} is larger than memory {resources.memory}. Fix: lower "
                "memory_overhead or raise memory",
            )
        reason = unschedulable({**stream.node_selector, **resources.node_selector}, resources)
        if reason:
            yield problem(
                f"{role}.affinity",
                f"no node can match: {reason}. Fix: make the required terms agree with the "
                "node selector, or drop one of them",
            )
    for name, value in stream.env.items():
        message = _env_problem(name, value, stream.secrets)
        if message:
            yield problem(f"env.{name}", message)
    yield from (problem(field, message) for field, message in _deps_problems(stream))
    typed = table is not None and not any(
        check_setting(table, key, value) for key, value in stream.spark_conf.items()
    )
    if table is not None and typed:
        # How Spark sizes the pods from the typed conf: what it refuses there, it will not run.
        try:
            capacity.capacity(stream, table)
        except ValueError as error:
            yield problem("spark_conf", str(error))


def unschedulable(selector: dict[str, str], pod: PodSettings) -> str | None:
    """Why no node can carry both ``selector``'s labels and one of the required terms, if so.

    Kubernetes ANDs the node selector with the required node affinity, whose terms are ORed,
    each term ANDing its expressions; a contradiction there leaves the pod Pending for ever.
    """
    terms = pod.affinity.required if pod.affinity else ()
    reasons = [reason for term in terms if (reason := _term_conflict(term, selector))]
    if terms and len(reasons) == len(terms):
        return "; ".join(reasons)
    return None


def _term_conflict(term: NodeSelectorTerm, selector: dict[str, str]) -> str | None:
    by_key: dict[str, list[NodeSelectorRequirement]] = {}
    for requirement in term.match_expressions:
        by_key.setdefault(requirement.key, []).append(requirement)
    for key, requirements in by_key.items():
        shown = " and ".join(f"{r.key} {r.operator} {list(r.values)}" for r in requirements)
        if key in selector:
            if not all(_holds(r, selector[key]) for r in requirements):
                return f"{shown} contradicts the node selector {key}={selector[key]}"
            continue
        operators = {r.operator for r in requirements}
        allowed: set[str] | None = None
        for r in requirements:
            if r.operator == "In":
                allowed = set(r.values) if allowed is None else allowed & set(r.values)
        excluded = {v for r in requirements if r.operator == "NotIn" for v in r.values}
        needs_label = allowed is not None or bool(operators & {"Exists", "Gt", "Lt"})
        if ("DoesNotExist" in operators and needs_label) or (
            allowed is not None and not allowed - excluded
        ):
            return f"{shown} cannot all hold"
    return None


def _holds(requirement: NodeSelectorRequirement, value: str) -> bool:
    """Whether a node whose label ``requirement.key`` is ``value`` satisfies ``requirement``."""
    operator, values = requirement.operator, requirement.values
    if operator in ("Gt", "Lt"):
        if not value.lstrip("-").isdigit():
            return False
        bound = int(values[0])
        return int(value) > bound if operator == "Gt" else int(value) < bound
    return {
        "In": value in values,
        "NotIn": value not in values,
        "Exists": True,
        "DoesNotExist": False,
    }[operator]


def _env_problem(name: str, value: str, secrets: dict[str, str]) -> str | None:
    if not _ENV_VAR.match(name):
        return "not an environment variable name. Fix: use UPPER_SNAKE_CASE"
    if name in secrets:
        return "is also set from a secret. Fix: keep one of the two"
    if name.startswith(_RESERVED_ENV_PREFIXES):
        return (
            "AWS_* and SPARK_* variables are set by EKS (the stream's credentials) and Spark "
            "(_SPARK_AUTH_SECRET holds its RPC secret). Fix: pick another name"
        )
    if _SECRET_ENV.search(name) or _SECRET_ASSIGNMENT.search(value):
        return (
            "looks like (or holds) a secret, and env is plain text in the plan and the "
            "cluster. Fix: pulumi config set --secret --path 'secrets.<key>' <value>, then "
            "secrets={'ENV_VAR': '<key>'} in the stream"
        )
    return None


def _deps_problems(stream: EffectiveStream) -> Iterable[tuple[str, str]]:
    deps = stream.deps
    for field in ("jars", "files", "py_files"):
        for index, uri in enumerate(getattr(deps, field)):
            where = f"deps.{field}[{index}]"
            if not uri.startswith(APP_FILE_SCHEMES):
                yield (
                    where,
                    (f"{uri!r} has an unsupported scheme. Fix: use {', '.join(APP_FILE_SCHEMES)}"),
                )
            elif uri.startswith("s3a://") and not any(uri.startswith(r.uri) for r in stream.reads):
                # The driver fetches it with the stream's role, which reads only `reads`.
                yield (
                    where,
                    (f"{uri!r} is outside what the stream reads. Fix: add its prefix to reads"),
                )
    for index, uri in enumerate(deps.repositories):
        if not uri.startswith("https://"):
            yield (
                f"deps.repositories[{index}]",
                (
                    f"{uri!r}: a Maven repository must be https:// (anything else can be tampered "
                    "with on the way). Fix: use its https:// address"
                ),
            )
    for field, pattern, example in (
        ("packages", _MAVEN_PACKAGE, "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.5"),
        ("exclude_packages", _MAVEN_EXCLUSION, "org.slf4j:slf4j-api"),
    ):
        for index, coordinate in enumerate(getattr(deps, field)):
            if not pattern.match(coordinate):
                yield (
                    f"deps.{field}[{index}]",
                    (f"{coordinate!r} is not a Maven coordinate. Fix: write e.g. '{example}'"),
                )


_MAVEN_PACKAGE = re.compile(r"^[\w.-]+:[\w.-]+:[\w.+-]+$")
_MAVEN_EXCLUSION = re.compile(r"^[\w.-]+:[\w.-]+$")
# IRSA's variables (EKS injects them) and Spark's own (the RPC secret is _SPARK_AUTH_SECRET).
_RESERVED_ENV_PREFIXES = ("AWS_", "SPARK_", "_SPARK_")
# Environment spelling of what Spark's redaction treats as secret, and the usual cousins.
_SECRET_ENV = re.compile(r"(?i)secret|passw(?:or)?d|token|credential|access[._-]?key|api[._-]?key")

# A role takes 50 tags, keys of at most 128 characters; the stream and its owner take two.
IAM_TAGS_FOR_LABELS = 48
IAM_TAG_KEY_MAX = 128

# Spark's own default `spark.redaction.regex`: keys Spark itself treats as secrets.
_SECRET_CONF = re.compile(r"(?i)secret|password|token|access[.]?key")
# In a value, only an assignment (a JAAS line's `password="..."`), not a class or topic name
# that merely holds the word.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)(secret|passw(?:or)?d|token|access[._-]?key)"
    r"(?:[_-]?(?:access[_-]?)?(?:key|id|value))?[\"']?\s*[=:]"
)

# Names of shared objects in the namespace that a stream's service account or network policy
# would collide with.
RESERVED_NAMES = frozenset(
    {"spark-history-server", "spark-operator", "default", "default-deny-ingress"}
)
