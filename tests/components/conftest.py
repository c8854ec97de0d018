"""Component tests run through Pulumi's public mock API only: ``set_mocks`` and ``test``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from spark_streams.config import StackConfig
from spark_streams.offline import OfflineMocks, masked
from spark_streams.stackfile import PROJECT


@dataclass(frozen=True)
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class Registrations:
    resources: list[Registered] = field(default_factory=list)


def register(
    program: Callable[[], object], config: StackConfig, stack: str = "prod"
) -> Registrations:
    """Run ``program`` under fresh mocks (Pulumi's state is global) and return what it made."""
    mocks = OfflineMocks(config)
    pulumi.runtime.reset_options(project=PROJECT, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]
    return Registrations(
        [Registered(t, n, masked(inputs)) for (t, n), inputs in mocks.inputs.items()]
    )
