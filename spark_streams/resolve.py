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
    Deps,
    Driver,
    Executor,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSettings,
    RestartPolicy,
    Settings,
    SparkOverrides,
    Stream,
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
    executor_service_account: str
    role_name: str
    type: AppType
    spark_version: str
    image: str
    image_pull_policy: str
    main_class: str | None
    application_file: str
    arguments: tuple[str, ...]
    hadoop_version: str
    hadoop_cloud: bool
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
    env: dict[str, str]
    deps: Deps
    owner: str | None
    labels: dict[str, str]
    annotations: dict[str, str]


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

    spark_conf, env = dict(spark.spark_conf), dict(spark.env)
    for layer in layers:
        spark_conf.update(layer.spark_conf or {})
        env.update(layer.env or {})
    return EffectiveStream(
        file=item.label,
        stack=stack,
        aws_region=config.aws_region,
        name=stream.name,
        identity=identity,
        renamed_from=stream.renamed_from,
        namespace=config.namespace,
        service_account=stream.name,
        # A dot cannot be in a stream name, so no stream's driver account can take this name.
        executor_service_account=f"{stream.name}.executor",
        role_name=iam_role_name(buckets.prefix, identity),
        type=pick("type", spark.type),
        spark_version=pick("spark_version", spark.spark_version),
        image=pick("image", spark.image),
        image_pull_policy=spark.image_pull_policy,
        main_class=pick("main_class", spark.main_class),
        application_file=pick("application_file", spark.application_file),
        arguments=stream.arguments,
        hadoop_version=pick("hadoop_version", spark.hadoop_version),
        hadoop_cloud=pick("hadoop_cloud", spark.hadoop_cloud),
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
        env=env,
        deps=pick("deps", spark.deps),
        owner=stream.owner,
        labels=dict(stream.labels),
        annotations=dict(stream.annotations),
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
        if _reserved(key, RESERVED_LABELS):
            yield (
                f"labels.{key}",
                (
                    "is set by spark-streams or the operator (network policies, metrics and alerts "
                    "select pods by it). Fix: use a key of your own, e.g. 'example.com/cost-center'"
                ),
            )
    for key in stream.annotations:
        if _reserved(key, RESERVED_ANNOTATIONS):
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
        resources: PodSettings = getattr(stream, role)
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

DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
# A role takes 50 tags, keys of at most 128 characters; the stream and its owner take two.
IAM_TAGS_FOR_LABELS = 48
IAM_TAG_KEY_MAX = 128
# Labels the network policies, the PodMonitor and the operator select pods by: a stream setting
# one of them could join another stream's traffic or metrics. "spark-" covers spark-streams/*
# and Spark's own (spark-role, spark-app-selector, spark-exec-id).
RESERVED_LABELS = ("app.kubernetes.io/", "sparkoperator.k8s.io/", "spark-")
RESERVED_ANNOTATIONS = (DO_NOT_DISRUPT, "spark-streams/", "sparkoperator.k8s.io/")


def _reserved(key: str, reserved: tuple[str, ...]) -> bool:
    return any(key == r or (r.endswith(("/", "-")) and key.startswith(r)) for r in reserved)


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
        # RPC authentication and encryption between the stream's own driver and executors.
        "spark.authenticate",
        "spark.network.crypto.enabled",
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


# Names of shared objects in the namespace that a stream's service account or network policy
# would collide with.
RESERVED_NAMES = frozenset(
    {"spark-history-server", "spark-operator", "default", "default-deny-ingress"}
)


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
