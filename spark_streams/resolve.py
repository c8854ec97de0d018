"""Effective settings: each stream laid over the stack's defaults, checked as a whole.

Pure Python (no Pulumi): ``spark-streams list`` and the Pulumi program share it, and every
problem across all streams is collected before anything is registered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from spark_streams.config import StackConfig
from spark_streams.discovery import StreamFile, added_order
from spark_streams.model import (
    AppType,
    Driver,
    Executor,
    RestartPolicy,
    Settings,
    SparkOverrides,
    Toleration,
)
from spark_streams.problems import InvalidInputError, Problem, closest, did_you_mean
from spark_streams.types import memory_mib, split_s3_uri

APP_FILE_SCHEMES = ("local://", "s3a://", "https://")
_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
IAM_ROLE_NAME_MAX = 64
# In a sink or read prefix: the stream's identity, so a copied stream file gets its own prefix.
STREAM_PLACEHOLDER = "{stream}"
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


class S3Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        """Hadoop S3A URI, the form Spark reads and writes."""
        return f"s3a://{self.bucket}/{self.prefix}"


class EffectiveStream(BaseModel):
    """Everything the components need to know about one stream in one stack."""

    model_config = ConfigDict(frozen=True)

    file: str
    stack: str
    aws_region: str
    name: str
    identity: str
    renamed_from: tuple[str, ...]
    namespace: str
    service_account: str
    role_name: str
    type: AppType
    spark_version: str
    image: str
    image_pull_policy: str
    main_class: str | None
    application_file: str
    arguments: tuple[str, ...]
    hadoop_version: str
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]
    restart_policy: RestartPolicy
    driver: Driver
    executor: Executor
    spark_conf: dict[str, str]
    termination_grace_period_seconds: int
    suspend: bool
    sink: S3Location
    reads: tuple[S3Location, ...]
    checkpoint_generation: int
    checkpoint: S3Location
    event_log: S3Location
    secrets: dict[str, str]


def check_streams(files: Sequence[StreamFile], known_stacks: Iterable[str]) -> list[Problem]:
    """What can be checked without a valid stack config: each file, then names across files."""
    stacks = set(known_stacks)
    return [
        *(p for item in files for p in _check_stream(item, stacks)),
        *check_names(files),
    ]


def resolve_all(
    files: Sequence[StreamFile], config: StackConfig, stack: str, known_stacks: Iterable[str]
) -> list[EffectiveStream]:
    """Effective streams of ``stack``, or :class:`InvalidInputError` listing every problem.

    A stream with a problem is still resolved and checked as a whole, so one run reports every
    problem; only a stream whose name clashes stays out of the sink-overlap check (the clash is
    the cause, reported once).
    """
    stacks = set(known_stacks)
    problems: list[Problem] = []
    resolved: list[EffectiveStream] = []
    for item in files:
        problems.extend(_check_stream(item, stacks))
        problems.extend(_check_in_stack(item, config))
        override = item.stream.stacks.get(stack)
        if override is None or override.enabled:
            resolved.append(resolve(item, config, stack))
    clashes = list(check_names(files))
    problems.extend(clashes)
    clashing = {p.file for p in clashes}
    problems.extend(_check_sinks([s for s in resolved if s.file not in clashing]))
    for stream in resolved:
        problems.extend(_check_effective(stream, config))
    if problems:
        raise InvalidInputError(problems)
    return resolved


def resolve(item: StreamFile, config: StackConfig, stack: str) -> EffectiveStream:
    stream, spark, buckets = item.stream, config.spark, config.buckets
    layers: list[SparkOverrides] = [stream]
    if stack in stream.stacks:
        layers.append(stream.stacks[stack])
    identity = stream.renamed_from[0] if stream.renamed_from else stream.name

    def pick(field: str, default: Any) -> Any:
        value = default
        for layer in layers:
            override = getattr(layer, field)
            if isinstance(override, Settings):
                value = override.over(value)
            elif override is not None:
                value = override
        return value

    spark_conf = dict(spark.spark_conf)
    for layer in layers:
        spark_conf.update(layer.spark_conf or {})
    return EffectiveStream(
        file=item.label,
        stack=stack,
        aws_region=config.aws_region,
        name=stream.name,
        identity=identity,
        renamed_from=stream.renamed_from,
        namespace=config.namespace,
        service_account=stream.name,
        role_name=iam_role_name(buckets.prefix, identity),
        type=pick("type", spark.type),
        spark_version=pick("spark_version", spark.spark_version),
        image=pick("image", spark.image),
        image_pull_policy=spark.image_pull_policy,
        main_class=pick("main_class", spark.main_class),
        application_file=pick("application_file", spark.application_file),
        arguments=stream.arguments,
        hadoop_version=pick("hadoop_version", spark.hadoop_version),
        node_selector=pick("node_selector", spark.node_selector),
        tolerations=pick("tolerations", spark.tolerations),
        restart_policy=pick("restart_policy", spark.restart_policy),
        driver=pick("driver", spark.driver),
        executor=pick("executor", spark.executor),
        spark_conf=spark_conf,
        termination_grace_period_seconds=spark.termination_grace_period_seconds,
        suspend=bool(pick("suspend", False)),
        sink=_location(stream.sink, buckets.name("lake"), identity),
        reads=tuple(_location(uri, buckets.name("lake"), identity) for uri in stream.reads),
        checkpoint_generation=stream.checkpoint_generation,
        checkpoint=S3Location(
            bucket=buckets.name("checkpoints"),
            prefix=f"{identity}/gen-{stream.checkpoint_generation}/",
        ),
        event_log=S3Location(bucket=buckets.name("event-logs"), prefix=f"{identity}/"),
        secrets=dict(stream.secrets),
    )


def iam_role_name(prefix: str, identity: str) -> str:
    """``<bucket prefix>-<identity>``, hash-shortened past IAM's 64 characters."""
    name = f"{prefix}-{identity}"
    if len(name) <= IAM_ROLE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: IAM_ROLE_NAME_MAX - 9]}-{digest}"


def _location(uri: str, lake: str, identity: str) -> S3Location:
    bucket, prefix = split_s3_uri(uri)
    return S3Location(
        bucket=lake if bucket == "{lake}" else bucket,
        prefix=prefix.replace(STREAM_PLACEHOLDER, identity),
    )


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
    for index, uri in enumerate(stream.reads):
        if not split_s3_uri(uri)[1]:
            yield problem(
                f"reads[{index}]", "reads a whole bucket. Fix: name the prefix the stream reads"
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


def _check_effective(stream: EffectiveStream, config: StackConfig) -> Iterable[Problem]:
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
    for role in ("driver", "executor"):
        resources: Driver = getattr(stream, role)
        overhead = resources.memory_overhead
        if overhead and memory_mib(overhead) > memory_mib(resources.memory):
            yield problem(
                f"{role}.memory_overhead",
                f"overhead {overhead} is larger than memory {resources.memory}. Fix: lower "
                "memory_overhead or raise memory",
            )
    for key, value in stream.spark_conf.items():
        if key in _RESERVED_CONF:
            yield problem(
                f"spark_conf.{key}",
                "is set by spark-streams (checkpoint, event log, credentials). Fix: remove it",
            )
        elif _SECRET_CONF.search(key) or _SECRET_ASSIGNMENT.search(value):
            yield problem(
                f"spark_conf.{key}",
                "looks like (or holds) a secret, and Spark conf is plain text in the plan and "
                "the cluster. Fix: pulumi config set --secret --path 'secrets.<key>' <value>, then "
                "secrets={'ENV_VAR': '<key>'} in the stream",
            )


# Keys the components own: a stream overriding them would break its isolation or its identity.
_RESERVED_CONF = frozenset(
    {
        "spark.sql.streaming.checkpointLocation",
        "spark.eventLog.dir",
        "spark.hadoop.fs.s3a.aws.credentials.provider",
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "spark.kubernetes.authenticate.executor.serviceAccountName",
        "spark.kubernetes.container.image",
        "spark.kubernetes.namespace",
    }
)


# Spark's own default `spark.redaction.regex`: keys Spark itself treats as secrets.
_SECRET_CONF = re.compile(r"(?i)secret|password|token|access[.]?key")
# In a value, only an assignment (a JAAS line's `password="..."`), not a class or topic name
# that merely holds the word.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)(secret|passw(?:or)?d|token|access[._-]?key)"
    r"(?:[_-]?(?:access[_-]?)?(?:key|id|value))?[\"']?\s*[=:]"
)


# Names of shared objects in the namespace that a stream's service account would collide with.
RESERVED_NAMES = frozenset({"spark-history-server", "spark-operator", "default"})


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
        first, *later = added_order(items)
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
