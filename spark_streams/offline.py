"""The offline plan: the real Pulumi program run under Pulumi's mocks, every registration recorded.

Nothing leaves the machine. Values only the cloud knows (ARNs, the cluster's endpoint and OIDC
issuer) come back as ``<unknown: ...>`` placeholders; secret values as ``[secret]``.
"""

from __future__ import annotations

import gc
import json
import runpy
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime import rpc
from pulumi.runtime import settings as settings_module
from pulumi.runtime.proto import source_pb2

from spark_streams.config import PROJECT, SECRET_PLACEHOLDER, StackConfig
from spark_streams.program import Inputs, preloaded
from spark_streams.resolve import EffectiveStream
from spark_streams.stack import stack_values

STREAM_TYPE = f"{PROJECT}:streaming:Stream"
_STACK_TYPE = "pulumi:pulumi:Stack"


def unknown(what: str) -> str:
    return f"<unknown: {what}>"


@dataclass
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    stream: str | None
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]
    inputs: dict[str, Any]


@dataclass
class Plan:
    stack: str
    resources: list[PlannedResource] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "offline": True,
            "resources": [vars(r) for r in self.resources],
        }


class _Mocks(pulumi.runtime.Mocks):
    """Answers for the few values only AWS knows; everything else echoes the inputs."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        self.inputs[(args.typ, args.name)] = args.inputs
        state = dict(args.inputs)
        if args.typ.startswith("aws:"):
            state.setdefault("arn", unknown(f"arn of {args.name}"))
        if args.typ == "aws:s3/bucket:Bucket":
            return args.inputs["bucket"], state
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"status": unknown("release status")}
        return args.inputs.get("name") or f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return self._answer(args), []

    def _answer(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        region = self.config.aws_region
        if args.token == "aws:eks/getCluster:getCluster":
            issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{unknown('cluster OIDC id')}"
            return {
                "name": self.config.cluster_name,
                "endpoint": unknown("cluster endpoint"),
                "certificateAuthorities": [{"data": unknown("cluster CA")}],
                "identities": [{"oidcs": [{"issuer": issuer}]}],
            }
        if args.token == "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider":
            host = str(args.args["url"]).removeprefix("https://")
            return {"arn": f"arn:aws:iam::{unknown('account id')}:oidc-provider/{host}"}
        return {}


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self.offline_mocks = mocks
        self.records: list[tuple[Any, str]] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine would give: the parent's whole type chain, the stack left out.

        (Pulumi's mock monitor keeps only the parent's last type and includes the stack's.)
        """
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != _STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.records.append((request, response.urn))
        return response


def run(
    project_dir: Path,
    stack: str,
    values: dict[str, Any],
    inputs: Inputs,
    streams_dir: Path | None,
) -> Plan:
    """Run ``__main__.py`` of ``project_dir`` under mocks and return what it registered."""
    config, streams = inputs
    settings = {f"{PROJECT}:{key}": config_string(value) for key, value in values.items()}
    if streams_dir is not None:
        settings[f"{PROJECT}:streamsDir"] = str(streams_dir.resolve())
    program = project_dir / "__main__.py"

    def main() -> None:
        sys.path.insert(0, str(project_dir))
        try:
            # The program will read these values back from Pulumi's config: hand it the inputs
            # validated above under the same key instead of loading every stream file again.
            with preloaded(project_dir, stack, stack_values(), streams_dir, inputs):
                runpy.run_path(str(program), run_name="__main__")
        finally:
            sys.path.remove(str(project_dir))

    return record(main, config, stack, streams, settings)


def record(
    program: Callable[[], object],
    config: StackConfig,
    stack: str,
    streams: Sequence[EffectiveStream] = (),
    settings: dict[str, str] | None = None,
) -> Plan:
    """Run ``program`` under fresh mocks (Pulumi state is global) and return its resources."""
    mocks = _Mocks(config)
    monitor = _Monitor(mocks)
    # A new root Stack resource per run, or resources would hang off the previous run's stack.
    settings_module.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(settings or {}, secret_keys=[f"{PROJECT}:secrets"])
    # Registering thousands of resources allocates millions of short-lived objects; with the
    # default thresholds the collector rescans the large, long-lived import heap over and over
    # (a third of a 1000-stream plan). Park what exists now and collect less often.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        with _without_source_positions():
            pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return _plan(stack, monitor, streams)


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's capture of a stack trace per registration.

    The engine shows those source positions in its UI; a plan records none of them, and taking
    them is an eighth of a 1000-stream plan. Nothing changes if the SDK renames the hook.
    """
    hook = getattr(pulumi_resource, "_get_stack_trace", None)
    if hook is None:
        yield
        return
    pulumi_resource._get_stack_trace = lambda *_, **__: source_pb2.StackTrace()
    try:
        yield
    finally:
        pulumi_resource._get_stack_trace = hook


def config_string(value: Any) -> str:
    """How ``pulumi config`` hands a value to the program: strings as-is, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _plan(stack: str, monitor: _Monitor, streams: Sequence[EffectiveStream]) -> Plan:
    names = {s.identity: s.name for s in streams}
    stream_of: dict[str, str | None] = {}
    plan = Plan(stack)
    for request, urn in monitor.records:
        parent = request.parent or None
        stream = stream_of.get(parent) if parent else None
        if request.type == STREAM_TYPE:
            stream = names.get(request.name)
        stream_of[urn] = stream
        plan.resources.append(
            PlannedResource(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=parent,
                stream=stream,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                dependencies=sorted(set(request.dependencies)),
                inputs=masked(monitor.offline_mocks.inputs.get((request.type, request.name), {})),
            )
        )
    plan.resources.sort(key=lambda r: r.urn)
    return plan


def masked(value: Any) -> Any:
    """``value`` as the engine would send it, with every Pulumi secret replaced by a placeholder."""
    kind = type(value)
    if kind is dict:
        if rpc.is_rpc_secret(value):
            inner = rpc.unwrap_rpc_secret(value)
            return (
                dict.fromkeys(inner, SECRET_PLACEHOLDER)
                if type(inner) is dict
                else SECRET_PLACEHOLDER
            )
        return {key: masked(item) for key, item in value.items()}
    if kind is list:
        return [masked(item) for item in value]
    # Pulumi's wire format carries every number as a double; Kubernetes wants its integers back.
    if kind is float and value.is_integer():
        return int(value)
    return value
