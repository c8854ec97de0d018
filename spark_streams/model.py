"""The stream model: what a file in ``streams/`` declares.

A stream file holds one :class:`Stream`. Every Spark setting it leaves out comes from the stack
config (``spark:`` in ``Pulumi.<stack>.yaml``); the ones it sets override it, and
``stacks={"dev": StackOverride(...)}`` overrides them again for one stack. How each setting
merges is declared with it, in :mod:`spark_streams.settings`; see docs/streams.md.
"""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass

from spark_streams.settings import (
    STREAM_FILE,
    Affinity,
    Deps,
    Driver,
    Executor,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PreferredTerm,
    RestartPolicy,
    StreamSettings,
    Toleration,
    inherit_repr,
)
from spark_streams.types import LabelKey, LabelValue, S3Uri, Seconds, StreamName, TeamName

# What a stream file imports: the stream, its per-stack overrides and the setting groups.
__all__ = [
    "Affinity",
    "Deps",
    "Driver",
    "Executor",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "PreferredTerm",
    "RestartPolicy",
    "StackOverride",
    "Stream",
    "StreamOwn",
    "Toleration",
]


@dataclass(kw_only=True, frozen=True, config=STREAM_FILE)
class StreamOwn:
    """What only the stream's own file says about it: the effective stream carries it as written."""

    name: StreamName = Field(description="Kubernetes name, at most 40 characters")
    arguments: tuple[str, ...] = Field(default=(), description="Arguments passed to the job")
    secrets: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variable -> key of the stack's `secrets` config",
    )
    checkpoint_generation: Seconds = Field(
        default=0, description="Bump to start again from the source's starting offsets"
    )
    renamed_from: tuple[StreamName, ...] = Field(
        default=(), description="Earlier names, oldest first: keeps resources and checkpoint"
    )
    owner: TeamName | None = Field(
        default=None, description="The team that runs the stream: labels, IAM tags, alert routes"
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Extra labels of its SparkApplication and pods"
    )
    annotations: dict[LabelKey, str] = Field(
        default_factory=dict, description="Extra annotations of its SparkApplication and pods"
    )


@dataclass(kw_only=True, frozen=True, repr=False, config=STREAM_FILE)
class StackOverride(StreamSettings):
    """Overrides for one stack. ``enabled=False`` leaves the stream out of that stack."""

    enabled: bool = Field(default=True, description="False leaves the stream out of this stack")

    __repr__ = inherit_repr


@dataclass(kw_only=True, frozen=True, repr=False, config=STREAM_FILE)
class Stream(StreamSettings, StreamOwn):
    """One Spark Structured Streaming job."""

    sink: S3Uri = Field(
        description="Where the stream writes: s3://{lake}/<prefix>/; {stream} is its identity"
    )
    reads: tuple[S3Uri, ...] = Field(
        default=(), description="S3 prefixes the stream reads (Kafka and other sources need none)"
    )
    stacks: dict[str, StackOverride] = Field(
        default_factory=dict, description="Overrides per stack: {'dev': StackOverride(...)}"
    )

    __repr__ = inherit_repr
