"""The streams' PriorityClass: cluster-scoped, so it exists before a driver pod names it.

A driver that goes takes its whole stream with it; an executor is replaced in seconds and hands
its blocks over first (decommissioning). So drivers are the role that names the class (prod's
``spark.driver.priorityClassName``): placed ahead of lower-priority pods when the cluster is
full, and never preempted by work of a lower class. Its ``preemptionPolicy`` is ``Never`` by
default: a pending driver waits for room rather than evicting other teams' pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import PRIORITY_CLASS
from spark_streams.config import PriorityClassConfig
from spark_streams.metadata import applied


@dataclass(frozen=True)
class StreamPriorityClassArgs:
    config: PriorityClassConfig
    labels: Mapping[str, str] = field(default_factory=dict)


class StreamPriorityClass(pulumi.ComponentResource):
    priority_class: k8s.scheduling.v1.PriorityClass

    def __init__(
        self, name: str, args: StreamPriorityClassArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(PRIORITY_CLASS, name, None, opts)
        config = args.config
        self.priority_class = k8s.scheduling.v1.PriorityClass(
            name,
            metadata={"name": config.name, "labels": dict(args.labels), "annotations": applied()},
            value=config.value,
            preemption_policy=config.preemption_policy,
            global_default=False,
            description="spark-streams: the streams' drivers, ahead of batch work",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.priority_class.metadata["name"]})
