"""Scenarios against the twin. Every test here carries the `e2e` marker, which the default
pytest run deselects; `make e2e` starts the twin for each stack and runs them: the first deploys
the stack with the real CLI (twin/pulumi)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.twin import PROJECT, Obj, Twin, render

REPORT_DIR = PROJECT / ".twin-report"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def twin() -> Iterator[Twin]:
    twin = Twin()
    with twin.recording():
        yield twin
    REPORT_DIR.mkdir(exist_ok=True)
    (REPORT_DIR / f"{twin.stack}.json").write_text(json.dumps(twin.report.as_json(), indent=2))


@pytest.fixture(scope="session")
def deployed(twin: Twin) -> list[Obj]:
    """`pulumi up` of the stack from an empty state, once for all scenarios (the first checks
    it); the objects the program registers for Kubernetes, as `spark-streams render` prints
    them, are what the scenarios expect to find."""
    twin.up()
    return render(twin.stack)


def apps(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] == "SparkApplication"]
