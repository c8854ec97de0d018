"""The SDK seam: each non-public part spark_streams/sdk.py relies on still behaves as it did.

An SDK upgrade that changes one of them fails here, by name, before it breaks a plan.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import sys
import traceback
import types
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import resource as runtime_resource

from spark_streams import sdk


class _Echo(pulumi.runtime.Mocks):
    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, object]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, object], list[tuple[str, str]] | None]:
        return {}, []


class _Parent(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Parent", name, None, None)
        self.register_outputs({})


def _program() -> None:
    parent = _Parent("p")
    first = pulumi.CustomResource(
        "test:index:Thing", "first", {}, pulumi.ResourceOptions(parent=parent, protect=True)
    )
    pulumi.CustomResource(
        "test:index:Thing",
        "second",
        {"secret": pulumi.Output.secret("hunter2")},
        pulumi.ResourceOptions(
            parent=parent,
            depends_on=[first],
            delete_before_replace=True,
            retain_on_delete=True,
        ),
    )


def test_the_installed_sdk_is_in_the_supported_range() -> None:
    sdk.check_version()


@pytest.mark.parametrize("version", ["3.200.0", "4.0.0", "nonsense"])
def test_an_sdk_outside_the_range_is_refused_with_the_fix(version: str) -> None:
    with pytest.raises(sdk.UnsupportedSdkError, match="make sync"):
        sdk.check_version(version)


def test_registrations_carry_engine_urns_options_and_dependencies() -> None:
    recorded = {r.name: r for r in sdk.record(_program, _Echo(), project="proj", stack="s")}
    assert recorded["p"].urn == "urn:pulumi:s::proj::test:index:Parent::p"
    first, second = recorded["first"], recorded["second"]
    assert first.urn == "urn:pulumi:s::proj::test:index:Parent$test:index:Thing::first"
    assert first.parent == recorded["p"].urn and first.protect
    assert second.delete_before_replace and second.retain_on_delete and not second.protect
    assert first.urn in second.dependencies
    # a second run starts a new root stack: nothing hangs off the first run's
    again = sdk.record(_program, _Echo(), project="proj", stack="s2")
    assert all(r.urn.startswith("urn:pulumi:s2::") for r in again)


def test_secrets_reach_mocks_in_the_wire_format_the_seam_unwraps() -> None:
    seen: dict[str, object] = {}

    class Keep(_Echo):
        def new_resource(
            self, args: pulumi.runtime.MockResourceArgs
        ) -> tuple[str | None, dict[str, object]]:
            seen.update({args.name: args.inputs})
            return super().new_resource(args)

    sdk.record(_program, Keep(), project="proj", stack="s")
    value = seen["second"]["secret"]  # type: ignore[index]
    assert sdk.is_rpc_secret(value) and sdk.unwrap_rpc_secret(value) == "hunter2"


def test_the_hooks_the_seam_replaces_or_extends_still_exist() -> None:
    # Renamed or gone in a new SDK, these would silently change a plan.
    assert callable(runtime_resource._get_stack_trace)
    assert callable(runtime_mocks.MockMonitor.make_urn)
    assert callable(runtime_mocks.MockMonitor.RegisterResource)


def test_config_keys_are_listed_from_both_places_pulumi_keeps_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", '{"spark-streams:fromEnv": "1"}')
    pulumi.runtime.set_all_config({"spark-streams:inProcess": "2"}, [])
    try:
        assert {"spark-streams:fromEnv", "spark-streams:inProcess"} <= sdk.config_keys()
    finally:
        pulumi.runtime.set_all_config({}, [])


class _UserError(Exception):
    pass


def _server_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in for the dynamic-provider server's ``__main__``, as ``python -m`` names it."""
    server = types.ModuleType("__main__")
    server.__spec__ = importlib.machinery.ModuleSpec("pulumi.dynamic.__main__", None)
    server.traceback = traceback  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", server)
    return server


def _formatted(server: types.ModuleType, error: Exception) -> str:
    try:
        raise error
    except Exception:
        text: str = server.traceback.format_exc()
        return text


def test_a_user_error_reaches_the_engine_as_its_message_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _server_module(monkeypatch)
    assert sdk.provider_errors_as_messages(_UserError)
    assert sdk.provider_errors_as_messages(_UserError)  # once per provider: no double wrapping
    assert _formatted(server, _UserError("stream s: state FAILED")) == "stream s: state FAILED"
    # Any other exception is a bug: its traceback is kept.
    bug = _formatted(server, KeyError("specHash"))
    assert bug.startswith("Traceback (most recent call last):") and "KeyError" in bug


def test_outside_the_dynamic_provider_server_nothing_is_changed() -> None:
    main = sys.modules["__main__"]
    before = getattr(main, "traceback", None)
    assert not sdk.provider_errors_as_messages(_UserError)
    assert getattr(main, "traceback", None) is before


def test_the_dynamic_provider_server_still_sends_format_exc_as_the_grpc_error() -> None:
    """What provider_errors_as_messages replaces: the pinned server's abort wrapper calls its
    module's ``traceback.format_exc()`` for the gRPC status details (importing the module
    would start the server: its source is read instead)."""
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    (wrapper,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "_abort_with_traceback"
    ]
    calls = [ast.unparse(node) for node in ast.walk(wrapper) if isinstance(node, ast.Call)]
    assert "context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())" in calls
    imports = [n for n in tree.body if isinstance(n, ast.Import)]
    assert any(alias.name == "traceback" for n in imports for alias in n.names)
