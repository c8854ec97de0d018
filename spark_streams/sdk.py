"""The one place that uses parts of the Pulumi Python SDK outside its public API.

Everything else in the project calls only the public SDK (``pulumi``, ``pulumi.runtime``'s
documented names). What lives here, and why:

- reading every config key set for the program (Pulumi offers no public way to list them, and a
  misspelt key must be reported, not ignored);
- recording each registration as the engine would see it (URN, parent, options, dependencies),
  which the offline plan prints and the public mock API does not expose;
- skipping the per-registration stack trace in offline plans, and unwrapping the SDK's secret
  wire format;
- for the local twin only (twin/engine/language_host.py): the Automation API's in-process
  language runtime, which runs a program for the real CLI without the Python language host;
- in the engine's dynamic-provider server (``python -m pulumi.dynamic``, which runs the stream
  waits): an error meant for the user reaches the engine as its message alone, where the server
  sends every exception's Python traceback.

:func:`check_version` refuses an SDK outside the range this was written for, and
``tests/test_sdk.py`` fails when an upgrade changes any behaviour relied on here.
"""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as runtime_mocks
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.proto.language_pb2_grpc import LanguageRuntimeServicer

# The SDK versions this module was written and tested against (pyproject pins one of them).
SUPPORTED = ((3, 260), (4, 0))
_STACK_TYPE = "pulumi:pulumi:Stack"


class UnsupportedSdkError(RuntimeError):
    pass


def check_version(installed: str | None = None) -> None:
    """Raise :class:`UnsupportedSdkError` unless the SDK is in :data:`SUPPORTED`."""
    text = installed or version("pulumi")
    parts = tuple(int(p) for p in text.split(".")[:2] if p.isdigit())
    low, high = SUPPORTED
    if len(parts) != 2 or not low <= parts < high:
        raise UnsupportedSdkError(
            f"pulumi {text} is outside {low[0]}.{low[1]} <= version < {high[0]}.{high[1]}, the "
            "range spark_streams/sdk.py was written for. Fix: install the version uv.lock pins "
            "(make sync), or check sdk.py against the new SDK and widen SUPPORTED"
        )


check_version()


def config_keys() -> set[str]:
    """Every config key set for the program: from the engine's environment or set in-process."""
    return {*runtime_config.CONFIG.get(), *pulumi.runtime.get_config_env()}


def is_rpc_secret(value: Any) -> bool:
    """``value`` is a secret in the SDK's wire format (how mocks receive ``Output.secret``)."""
    return rpc.is_rpc_secret(value)


def unwrap_rpc_secret(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value)


def inline_language_server(program: Callable[[], None]) -> LanguageRuntimeServicer:
    """The language runtime the Automation API serves for an inline program: ``Run`` runs
    ``program`` in this process against the engine that called it (``pulumi.automation._server``).
    """
    from pulumi.automation._server import LanguageServer

    return LanguageServer(program)


_DYNAMIC_SERVER = "pulumi.dynamic.__main__"


class _MessageOnly:
    """The ``traceback`` module as the dynamic-provider server sees it, but for one thing: the
    server's ``format_exc()`` (its gRPC error's text) is the message alone for ``errors``."""

    def __init__(self, errors: tuple[type[Exception], ...]) -> None:
        self.errors = errors

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        error = sys.exc_info()[1]
        if isinstance(error, self.errors):
            return str(error)
        return traceback.format_exc(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)


def provider_errors_as_messages(*errors: type[Exception]) -> bool:
    """In the SDK's dynamic-provider server, send ``errors`` to the engine as their message,
    without the traceback (``pulumi/dynamic/__main__.py``'s ``_abort_with_traceback`` aborts the
    call with ``traceback.format_exc()``); any other exception keeps its traceback, which a bug
    needs. Anywhere else (a test, the program) it does nothing. True if it applies."""
    server = sys.modules.get("__main__")
    spec = getattr(server, "__spec__", None)
    if server is None or spec is None or spec.name != _DYNAMIC_SERVER:
        return False
    current = getattr(server, "traceback", None)
    if isinstance(current, _MessageOnly):
        current.errors = (*current.errors, *errors)
    elif current is traceback:
        server.traceback = _MessageOnly(errors)  # type: ignore[attr-defined]
    else:
        return False
    return True


@dataclass(frozen=True)
class Registration:
    """One resource as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: tuple[str, ...]


class _RecordingMonitor(runtime_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN the engine gives: the parent's whole type chain, the stack type left out.

        (The SDK's mock monitor keeps only the parent's last type and includes the stack's.)
        """
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != _STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                dependencies=tuple(sorted(set(request.dependencies))),
            )
        )
        return response


def record(
    program: Callable[[], object], mocks: pulumi.runtime.Mocks, *, project: str, stack: str
) -> list[Registration]:
    """Run ``program`` under ``mocks`` on a fresh root stack; every registration, in order."""
    monitor = _RecordingMonitor(mocks)
    # Pulumi's state is global: a new root stack per run, or resources hang off the last one.
    pulumi.runtime.reset_options(project=project, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    with _large_heap(), _without_source_positions():
        pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return monitor.registrations


@contextmanager
def _large_heap() -> Iterator[None]:
    """Registering thousands of resources allocates millions of short-lived objects; with the
    default thresholds the collector rescans the large, long-lived import heap over and over
    (a third of a 1000-stream plan). Park what exists now and collect less often."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@contextmanager
def _without_source_positions() -> Iterator[None]:
    """Skip the SDK's capture of a stack trace per registration.

    The engine shows those source positions in its UI; a plan records none of them, and taking
    them is an eighth of a 1000-stream plan.
    """
    hook = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = lambda *_, **__: source_pb2.StackTrace()
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = hook
