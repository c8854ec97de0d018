"""Labels and annotations: the ones spark-streams puts on what a stream owns, and the keys it
keeps to itself (a stream's own ``labels`` and ``annotations`` may not use them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

IDENTITY_LABEL = "spark-streams/identity"  # what a stream's network policy selects its pods by
OWNER_LABEL = "spark-streams/owner"
# The stack a workload belongs to: the policy pack requires pinned images by it.
STACK_LABEL = "spark-streams/stack"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
# On a stream's driver and executor pods: a hash of the SparkApplication spec they run, so that a
# deploy can tell the run of the spec it applied from the one before (spark_streams/readiness.py).
SPEC_HASH_LABEL = "spark-streams/spec-hash"

# The field manager every Kubernetes object is applied as (pulumi-kubernetes' annotation for it).
# Without it the provider (server-side apply) names one at random per resource in Check and keeps
# it in the state only, so an object whose create the state never recorded (a deploy cut off
# during it) is applied again by the next `up` under a new random name, which conflicts with the
# first on every field whose value changed: the stack stays stuck. The annotation comes before the
# state's name (`fieldManagerName`, provider/pkg/provider/provider.go, v4.25.0); on the first
# update after a name changes the provider hands the old name's fields over to the new one.
FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager"
FIELD_MANAGER = "pulumi-kubernetes-spark-streams"
# And applied with force: the program owns every field it declares. Without it a field edited by
# hand (`kubectl patch`, as its own manager) conflicts with the next apply, so `pulumi up
# --refresh` fails on that resource instead of putting the field back (docs/ci.md, Drift check).
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
APPLIED = {FIELD_MANAGER_ANNOTATION: FIELD_MANAGER, PATCH_FORCE_ANNOTATION: "true"}

# Labels the network policies, the PodMonitor and the operator select pods by: a stream setting
# one of them could join another stream's traffic or metrics. "spark-" covers spark-streams/*
# and Spark's own (spark-role, spark-app-selector, spark-exec-id).
RESERVED_LABELS = ("app.kubernetes.io/", "sparkoperator.k8s.io/", "spark-")
# pulumi.com/: how the provider applies the object (APPLIED), not the stream's to set
RESERVED_ANNOTATIONS = (DO_NOT_DISRUPT, "spark-streams/", "sparkoperator.k8s.io/", "pulumi.com/")


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


V = TypeVar("V")


def applied(annotations: Mapping[str, V] | None = None) -> dict[str, V | str]:
    """A Kubernetes object's annotations as the program registers it: its own, then how it is
    applied (APPLIED)."""
    return {**(annotations or {}), **APPLIED}


def reserved(key: str, keys: tuple[str, ...]) -> bool:
    """``key`` is one of ``keys``, or starts with one that ends in '/' or '-'."""
    return any(key == r or (r.endswith(("/", "-")) and key.startswith(r)) for r in keys)
