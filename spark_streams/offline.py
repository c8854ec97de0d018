"""The offline plan: the Pulumi program run under Pulumi's mocks, every registration recorded.

Nothing leaves the machine. Values only the cloud knows (ARNs, the cluster's endpoint and OIDC
issuer) come back as ``<unknown: ...>`` placeholders; secret values as ``[secret]``.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pydantic import BaseModel, Field

from components import HELM_RELEASE, STREAM
from spark_streams import program, sdk
from spark_streams.config import StackConfig
from spark_streams.inputs import Inputs
from spark_streams.stackfile import PROJECT, SECRET_PLACEHOLDER


def unknown(what: str) -> str:
    return f"<unknown: {what}>"


class PlannedResource(BaseModel):
    """One registration, as the engine would see it: what ``plan --json`` lists."""

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


# What `plan --json` writes; read by the diff (an older base's plan) and the twin.
PLAN_VERSION = 1


class Plan(BaseModel):
    """Every resource the program registers for one stack, sorted by URN."""

    stack: str
    offline: Literal[True] = True
    resources: list[PlannedResource] = Field(default_factory=list)
    version: int = PLAN_VERSION

    def to_json(self) -> dict[str, Any]:
        dumped: dict[str, Any] = self.model_dump(mode="json")
        return dumped


class OfflineMocks(pulumi.runtime.Mocks):
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
        if args.typ == HELM_RELEASE:
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


def plan(inputs: Inputs) -> Plan:
    """Register the program's resources under mocks and return them, as the engine sees them."""
    config = inputs.config
    mocks = OfflineMocks(config)
    # The values stay unknown offline; the keys and their secrecy are what the program uses.
    secrets = pulumi.Output.secret(dict.fromkeys(config.secrets, SECRET_PLACEHOLDER))
    registrations = sdk.record(
        lambda: program.register(inputs, secrets), mocks, project=PROJECT, stack=inputs.stack
    )
    names = {s.identity: s.name for s in inputs.streams}
    stream_of: dict[str, str | None] = {}
    result = Plan(stack=inputs.stack)
    for registration in registrations:
        parent = registration.parent
        stream = stream_of.get(parent) if parent else None
        if registration.type == STREAM:
            stream = names.get(registration.name)
        stream_of[registration.urn] = stream
        result.resources.append(
            PlannedResource(
                urn=registration.urn,
                type=registration.type,
                name=registration.name,
                parent=parent,
                stream=stream,
                protect=registration.protect,
                retain_on_delete=registration.retain_on_delete,
                delete_before_replace=registration.delete_before_replace,
                dependencies=list(registration.dependencies),
                inputs=masked(mocks.inputs.get((registration.type, registration.name), {})),
            )
        )
    result.resources.sort(key=lambda r: r.urn)
    return result


def masked(value: Any) -> Any:
    """``value`` as the engine would send it, with every Pulumi secret replaced by a placeholder."""
    kind = type(value)
    if kind is dict:
        if sdk.is_rpc_secret(value):
            inner = sdk.unwrap_rpc_secret(value)
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
