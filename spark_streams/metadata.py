"""Labels and annotations: the ones spark-streams puts on what a stream owns, and the keys it
keeps to itself (a stream's own ``labels`` and ``annotations`` may not use them)."""

from __future__ import annotations

from typing import Protocol

IDENTITY_LABEL = "spark-streams/identity"  # what a stream's network policy selects its pods by
OWNER_LABEL = "spark-streams/owner"
# The stack a workload belongs to: the policy pack requires pinned images by it.
STACK_LABEL = "spark-streams/stack"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
# On a stream's driver and executor pods: a hash of the SparkApplication spec they run, so that a
# deploy can tell the run of the spec it applied from the one before (spark_streams/readiness.py).
SPEC_HASH_LABEL = "spark-streams/spec-hash"

# Labels the network policies, the PodMonitor and the operator select pods by: a stream setting
# one of them could join another stream's traffic or metrics. "spark-" covers spark-streams/*
# and Spark's own (spark-role, spark-app-selector, spark-exec-id).
RESERVED_LABELS = ("app.kubernetes.io/", "sparkoperator.k8s.io/", "spark-")
RESERVED_ANNOTATIONS = (DO_NOT_DISRUPT, "spark-streams/", "sparkoperator.k8s.io/")


class Labelled(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def stack(self) -> str: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def labels(self) -> dict[str, str]: ...


def labels(stream: Labelled) -> dict[str, str]:
    """Labels of everything a stream owns in the cluster; the stream's own ones under ours."""
    owner = {OWNER_LABEL: stream.owner} if stream.owner else {}
    return {
        **stream.labels,
        **owner,
        "app.kubernetes.io/name": stream.name,
        "app.kubernetes.io/part-of": "spark-streams",
        "app.kubernetes.io/managed-by": "pulumi",
        IDENTITY_LABEL: stream.identity,
        STACK_LABEL: stream.stack,
    }


def reserved(key: str, keys: tuple[str, ...]) -> bool:
    """``key`` is one of ``keys``, or starts with one that ends in '/' or '-'."""
    return any(key == r or (r.endswith(("/", "-")) and key.startswith(r)) for r in keys)
