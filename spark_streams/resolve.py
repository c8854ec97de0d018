"""Effective settings: each stream laid over the stack's defaults, by each setting's rule.

Pure: no file, no git, no check. What the settings mean together is judged in
:mod:`spark_streams.checks`; the components read only :class:`EffectiveStream`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from pydantic.dataclasses import dataclass

from spark_streams import settings
from spark_streams.config import StackConfig
from spark_streams.discovery import StreamFile
from spark_streams.model import StreamOwn
from spark_streams.settings import StackSparkSettings, StreamSettings, is_set
from spark_streams.types import split_s3_uri

IAM_ROLE_NAME_MAX = 64
# In a sink or read prefix: the stream's identity, so a copied stream file gets its own prefix.
STREAM_PLACEHOLDER = "{stream}"


class S3Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        """Hadoop S3A URI, the form Spark reads and writes."""
        return f"s3a://{self.bucket}/{self.prefix}"


@dataclass(kw_only=True, frozen=True)
class EffectiveStream(StackSparkSettings, StreamSettings, StreamOwn):
    """One stream in one stack: every setting resolved, and where it lives.

    The settings are the declared ones (:mod:`spark_streams.settings`) and the stream's own
    (:class:`~spark_streams.model.StreamOwn`); the fields below are derived from them.
    """

    file: str = Field(description="The stream file, as the user would write its path")
    stack: str
    aws_region: str
    identity: str = Field(description="Its first name: what its resources are named after")
    namespace: str
    service_account: str
    executor_service_account: str
    role_name: str
    sink: S3Location
    reads: tuple[S3Location, ...]
    checkpoint: S3Location
    event_log: S3Location

    @model_validator(mode="after")
    def _every_setting_resolved(self) -> EffectiveStream:
        # A stream read back from JSON (e.g. an older base's, by the diff) must be whole.
        unresolved = [
            s.name for s in settings.settings_of(type(self)) if not is_set(getattr(self, s.name))
        ]
        if unresolved:
            raise ValueError(f"settings not resolved: {', '.join(unresolved)}")
        return self

    def to_json(self) -> dict[str, Any]:
        dumped: dict[str, Any] = TypeAdapter(EffectiveStream).dump_python(self, mode="json")
        return dumped

    @classmethod
    def from_json(cls, value: Any) -> EffectiveStream:
        """An effective stream from :meth:`to_json`'s output; ``ValidationError`` if not one."""
        return TypeAdapter(cls).validate_python(value)


def enabled_in(item: StreamFile, stack: str) -> bool:
    override = item.stream.stacks.get(stack)
    return override is None or override.enabled


def resolve_all(
    files: Sequence[StreamFile], config: StackConfig, stack: str
) -> list[EffectiveStream]:
    """The effective streams of ``stack``: every file not disabled there."""
    return [resolve(item, config, stack) for item in files if enabled_in(item, stack)]


def resolve(item: StreamFile, config: StackConfig, stack: str) -> EffectiveStream:
    stream, buckets = item.stream, config.buckets
    layers: list[object] = [config.spark, stream]
    if stack in stream.stacks:
        layers.append(stream.stacks[stack])
    identity = stream.renamed_from[0] if stream.renamed_from else stream.name
    lake = buckets.name("lake")
    return EffectiveStream(
        **settings.merge(EffectiveStream, layers),
        name=stream.name,
        arguments=stream.arguments,
        secrets=dict(stream.secrets),
        checkpoint_generation=stream.checkpoint_generation,
        renamed_from=stream.renamed_from,
        owner=stream.owner,
        labels=dict(stream.labels),
        annotations=dict(stream.annotations),
        file=item.label,
        stack=stack,
        aws_region=config.aws_region,
        identity=identity,
        namespace=config.namespace,
        service_account=stream.name,
        # A dot cannot be in a stream name, so no stream's driver account can take this name.
        executor_service_account=f"{stream.name}.executor",
        role_name=iam_role_name(buckets.prefix, identity),
        sink=location(stream.sink, lake, identity),
        reads=tuple(location(uri, lake, identity) for uri in stream.reads),
        checkpoint=S3Location(
            bucket=buckets.name("checkpoints"),
            prefix=f"{identity}/gen-{stream.checkpoint_generation}/",
        ),
        event_log=S3Location(bucket=buckets.name("event-logs"), prefix=f"{identity}/"),
    )


def iam_role_name(prefix: str, identity: str) -> str:
    """``<bucket prefix>-<identity>``, hash-shortened past IAM's 64 characters."""
    name = f"{prefix}-{identity}"
    if len(name) <= IAM_ROLE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: IAM_ROLE_NAME_MAX - 9]}-{digest}"


def location(uri: str, lake: str, identity: str) -> S3Location:
    bucket, prefix = split_s3_uri(uri)
    return S3Location(
        bucket=lake if bucket == "{lake}" else bucket,
        prefix=prefix.replace(STREAM_PLACEHOLDER, identity),
    )
