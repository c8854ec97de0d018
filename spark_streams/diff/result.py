"""What a stream-level diff found: one typed, versioned model, written by `diff --json` and read
back by `mr-note --diff` (:meth:`DiffResult.model_validate_json`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field
from pydantic.dataclasses import dataclass

from components import HELM_RELEASE, IAM_ROLE, IAM_ROLE_POLICY, SERVICE_ACCOUNT
from spark_streams.capacity import Cost
from spark_streams.pricing import WarnAbove

# Bumped when the JSON changes meaning; a --diff file without a version is 1 (before #20).
DIFF_VERSION = 2

_FROZEN = ConfigDict(frozen=True)
_LEAF = ConfigDict(validate_by_name=True, validate_by_alias=True)


@dataclass(frozen=True, config=_LEAF)
class Consequence:
    kind: str
    text: str


@dataclass(frozen=True, config=_LEAF)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True, config=_LEAF)
class CapacityChange:
    """A stream's requests and their cost before and after; ``None`` where it is not (or where
    the base's cost is unknown)."""

    old: Cost | None
    new: Cost | None


@dataclass(frozen=True, config=_LEAF)
class StreamChange:
    """A stream added, removed or changed (only a changed one has fields and a former name)."""

    name: str
    identity: str
    consequences: tuple[Consequence, ...]
    fields: tuple[FieldChange, ...] = ()
    renamed_from: str | None = None
    capacity: CapacityChange | None = None  # None: not priced (e.g. the base was not planned)

    @property
    def kinds(self) -> set[str]:
        return {c.kind for c in self.consequences}


@dataclass(frozen=True, config=_LEAF)
class UnchangedCost:
    """A stream the change leaves alone, for the picture of the whole stack."""

    name: str
    identity: str
    cost: Cost = Field(alias="capacity")


@dataclass(frozen=True, config=_LEAF)
class CostChange:
    """The stack's monthly cost before and after; ``old_monthly`` is ``None`` when the base's
    streams cannot be read by this code (a base from an older spark-streams), and
    ``unknown`` then says why."""

    old_monthly: float | None
    new_monthly: float | None
    currency: str
    warn_above: WarnAbove | None = None
    unchanged: tuple[UnchangedCost, ...] = ()
    unknown: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def delta_monthly(self) -> float | None:
        if self.old_monthly is None or self.new_monthly is None:
            return None
        return self.new_monthly - self.old_monthly

    @property
    def warning(self) -> bool:
        """The rise crosses the stack's ``pricing.warnAbove``."""
        if self.warn_above is None or self.old_monthly is None or self.new_monthly is None:
            return False
        return self.warn_above.exceeded(self.old_monthly, self.new_monthly)


@dataclass(frozen=True, config=_LEAF)
class SharedChange:
    """A resource shared by the streams; ``fields`` for a changed one."""

    urn: str
    type: str
    name: str
    fields: tuple[str, ...] | None = None

    @property
    def meaning(self) -> str:
        """What the change does, in words a reviewer of a stream change reads."""
        return _MEANINGS.get(self.type, "its settings change")


# What changing one of the shared resources does, by resource type.
_K8S, _S3 = "kubernetes:", "aws:s3/"
_MEANINGS = {
    f"{_K8S}apps/v1:Deployment": "the History Server restarts, to read the new list of "
    "stream directories",
    f"{_K8S}core/v1:Service": "the History Server's address changes",
    f"{_K8S}monitoring.coreos.com/v1:PrometheusRule": "alert rules are updated for the current "
    "streams",
    f"{_K8S}monitoring.coreos.com/v1:PodMonitor": "what Prometheus scrapes changes",
    HELM_RELEASE: "the spark-operator release is upgraded (Helm); running streams keep running",
    f"{_K8S}core/v1:Namespace": "the namespace's labels change (e.g. its Pod Security level)",
    f"{_K8S}rbac.authorization.k8s.io/v1:Role": "what drivers may do in the namespace changes",
    f"{_K8S}rbac.authorization.k8s.io/v1:RoleBinding": "who holds the drivers' permissions changes",
    f"{_K8S}core/v1:Secret": "the streams' secret changes; a stream reads it when it next starts",
    SERVICE_ACCOUNT: "the History Server's identity changes",
    IAM_ROLE: "the History Server's IAM role changes",
    IAM_ROLE_POLICY: "what the History Server may read changes",
    f"{_S3}bucket:Bucket": "a bucket changes",
    f"{_S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration": "how long event logs "
    "and old object versions are kept changes",
    "aws:kms/key:Key": "the buckets' KMS key changes",
}


class StreamChanges(BaseModel):
    model_config = _FROZEN

    added: tuple[StreamChange, ...] = ()
    removed: tuple[StreamChange, ...] = ()
    changed: tuple[StreamChange, ...] = ()


class SharedChanges(BaseModel):
    model_config = _FROZEN

    added: tuple[SharedChange, ...] = ()
    removed: tuple[SharedChange, ...] = ()
    changed: tuple[SharedChange, ...] = ()


class DiffResult(BaseModel):
    """The working tree against a base, for one stack."""

    model_config = _FROZEN

    version: int = Field(default=1, description="what wrote it: DIFF_VERSION, 1 before #20")
    stack: str
    base: str
    base_commit: str
    streams: StreamChanges = StreamChanges()
    other: SharedChanges = SharedChanges()
    # Set when the base could not be planned: why, and the working tree's streams.
    base_error: str | None = None
    not_comparable: tuple[StreamChange, ...] = ()
    # What the change costs; None when it was not priced (a diff from before issue #16).
    cost: CostChange | None = None

    @computed_field(alias="changed")  # type: ignore[prop-decorator]
    @property
    def any_change(self) -> bool:
        return bool(
            self.base_error
            or any(self.streams_by_kind.values())
            or self.other.added
            or self.other.removed
            or self.other.changed
        )

    @property
    def added(self) -> tuple[StreamChange, ...]:
        return self.streams.added

    @property
    def removed(self) -> tuple[StreamChange, ...]:
        return self.streams.removed

    @property
    def changed(self) -> tuple[StreamChange, ...]:
        return self.streams.changed

    @property
    def streams_by_kind(self) -> dict[str, tuple[StreamChange, ...]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}

    def to_json(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return dumped

    @classmethod
    def from_json(cls, value: Any) -> DiffResult:
        """Read back :meth:`to_json`'s output; ``ValueError`` (a ``ValidationError``) when it
        is not one, or was written by a newer spark-streams."""
        found = cls.model_validate(value)
        if found.version > DIFF_VERSION:
            raise ValueError(
                f"written by a newer spark-streams (diff version {found.version}, this one "
                f"reads up to {DIFF_VERSION}): run the same version for diff and mr-note"
            )
        return found
