"""The Spark and Hadoop conf the program writes into every SparkApplication, in one place.

Two kinds, so that nothing a stream writes is dropped without a word:

- **owned**: what the program renders or relies on (the checkpoint, the event log, the service
  accounts, the namespace, RPC authentication, the IRSA credentials of the stack's buckets, the
  pods' labels, environment, resources and placement). A stream's ``spark_conf`` may not set
  these; :func:`owner_of` names the stream setting to use instead (:mod:`spark_streams.checks`
  refuses them).
- **defaults**: what the program sets unless the stream's ``spark_conf`` says otherwise
  (:data:`SPARK_DEFAULTS`, :data:`HADOOP_DEFAULTS`); docs/streams.md lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Spark conf a stream may change; the values are what a 24/7 stream wants by default.
SPARK_DEFAULTS: dict[str, str] = {
    # Event logs roll, so a stream that runs for months keeps writing small files.
    "spark.eventLog.rolling.enabled": "true",
    "spark.eventLog.rolling.maxFileSize": "128m",
    "spark.sql.streaming.metricsEnabled": "true",
    # A resubmission or a spot interruption sends SIGTERM: executors hand their shuffle and
    # cached blocks to the others before they go.
    "spark.decommission.enabled": "true",
    "spark.storage.decommission.enabled": "true",
    "spark.storage.decommission.shuffleBlocks.enabled": "true",
    "spark.storage.decommission.rddBlocks.enabled": "true",
    "spark.kubernetes.executor.deleteOnTermination": "true",
}

# Hadoop conf a stream may change, through `spark.hadoop.<key>` in its spark_conf.
HADOOP_DEFAULTS: dict[str, str] = {
    # Skip probing parent "directories" the role may not read (Hadoop 3.4; ignored by 3.3).
    "fs.s3a.performance.flags": "mkdir",
}

HADOOP_PREFIX = "spark.hadoop."


@dataclass(frozen=True)
class Owned:
    """Keys the program owns: a pattern over ``spark_conf`` keys, and what to write instead."""

    pattern: str
    instead: str

    def matches(self, key: str, buckets: Iterable[str]) -> bool:
        names = "|".join(re.escape(b) for b in buckets)
        return re.fullmatch(self.pattern.replace("<bucket>", f"(?:{names})"), key) is not None


_ROLE = r"(?:driver|executor)"
# What S3A takes credentials and the endpoint from, everywhere or per bucket.
_S3A_ACCESS = (
    r"(?:aws\.credentials\.provider|access\.key|secret\.key|session\.token|endpoint"
    r"|endpoint\.region|assumed\.role\..+|impl)"
)
_IRSA = (
    "nothing: the stream's own IAM role (IRSA) reaches the stack's buckets; to read another "
    "prefix, add it to reads"
)
OWNED: tuple[Owned, ...] = (
    Owned(
        r"spark\.sql\.streaming\.checkpointLocation|spark\.streams\.checkpointLocation",
        "checkpoint_generation: the checkpoint is the stream's own prefix of the checkpoints "
        "bucket",
    ),
    Owned(r"spark\.streams\..+", "sink, or arguments for the job's own settings"),
    Owned(
        r"spark\.eventLog\.(?:enabled|dir)",
        "nothing: every stream logs its events to its own prefix, which the History Server reads",
    ),
    Owned(
        r"spark\.authenticate(?:\..+)?|spark\.network\.crypto\.enabled",
        "nothing: RPC authentication and encryption between the stream's pods are always on",
    ),
    Owned(r"spark\.kubernetes\.namespace", "the stack's namespace"),
    Owned(
        r"spark\.kubernetes\.authenticate\..+",
        "nothing: each role runs under the stream's own service account",
    ),
    Owned(rf"spark\.kubernetes\.(?:{_ROLE}\.)?container\.image(?:\.pullPolicy)?", "image"),
    Owned(rf"spark\.kubernetes\.{_ROLE}\.label\..+", "labels={...}"),
    Owned(rf"spark\.kubernetes\.{_ROLE}\.annotation\..+", "annotations={...}"),
    Owned(
        r"spark\.kubernetes\.driverEnv\..+|spark\.executorEnv\..+",
        "env={...} for plain values, secrets={...} for secret ones (both roles get them; "
        "AWS_* is the stream's IRSA identity)",
    ),
    Owned(rf"spark\.kubernetes\.{_ROLE}\.(?:secrets|secretKeyRef)\..+", "secrets={...}"),
    Owned(
        rf"spark\.kubernetes\.{_ROLE}\.podTemplate(?:File|ContainerName)",
        "driver=Driver(...) and executor=Executor(...): resources, placement, priority class",
    ),
    Owned(
        rf"spark\.kubernetes\.(?:{_ROLE}\.)?node\.selector\..+",
        "node_selector={...}, or driver=Driver(node_selector=...) for one role",
    ),
    Owned(
        rf"spark\.{_ROLE}\.(?:cores|memory|memoryOverhead)|spark\.executor\.instances"
        rf"|spark\.kubernetes\.{_ROLE}\.(?:request|limit)\.cores",
        "driver=Driver(...) and executor=Executor(...) (cores, core_request, core_limit, "
        "memory, memory_overhead, instances)",
    ),
    Owned(rf"spark\.hadoop\.fs\.s3a\.{_S3A_ACCESS}", _IRSA),
    Owned(rf"spark\.hadoop\.fs\.s3a\.bucket\.<bucket>\.{_S3A_ACCESS}", _IRSA),
    Owned(r"spark\.hadoop\.fs\.s3\.impl", _IRSA),
)


def owner_of(key: str, buckets: Iterable[str]) -> str | None:
    """What to write instead of ``key`` in a stream's ``spark_conf``, if the program owns it;
    ``buckets`` are the stack's, whose per-bucket S3A settings it owns too."""
    names = tuple(buckets)
    return next((o.instead for o in OWNED if o.matches(key, names)), None)


def spark_defaults_for(conf: dict[str, str]) -> dict[str, str]:
    """The Spark defaults a stream's ``conf`` leaves to the program."""
    return {k: v for k, v in SPARK_DEFAULTS.items() if k not in conf}


def hadoop_defaults_for(conf: dict[str, str]) -> dict[str, str]:
    """The Hadoop defaults a stream's ``conf`` does not set as ``spark.hadoop.<key>``."""
    return {k: v for k, v in HADOOP_DEFAULTS.items() if f"{HADOOP_PREFIX}{k}" not in conf}
