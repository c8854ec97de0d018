"""The twin's engine set-up: the stand-in language host answers as the real one would for this
project, and the twin's copy of a stack file is the committed one plus only what a twin cannot
have (twin/engine/language_host.py, twin/engine/stackcopy.py)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from twin.engine import stackcopy
from twin.engine.language_host import required_packages, resolve_toolchain

PROJECT = Path(__file__).resolve().parent.parent


def test_the_required_packages_are_the_locked_sdks_plugins() -> None:
    found = {p.name: p.version for p in required_packages()}
    assert found["aws"] == f"v{version('pulumi-aws')}"
    assert found["kubernetes"] == f"v{version('pulumi-kubernetes')}"
    assert "policy" not in found and "pulumi" not in found


def test_the_toolchains_are_resolved_as_the_real_host_resolves_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    program = resolve_toolchain(PROJECT, PROJECT, {"toolchain": "uv"})
    assert (program.kind, program.virtualenv) == ("uv", PROJECT / ".venv")
    # uv's own variable moves the project's environment (make unit-python sets it).
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", ".venv-3.11.2")
    moved = resolve_toolchain(PROJECT, PROJECT, {"toolchain": "uv"})
    assert moved.virtualenv == PROJECT / ".venv-3.11.2"
    # The policy pack sits below the project's uv.lock: uv, into the pack's own virtualenv.
    pack = resolve_toolchain(PROJECT / "policies", PROJECT / "policies", {"virtualenv": "venv"})
    assert (pack.kind, pack.virtualenv) == ("uv", PROJECT / "policies" / "venv")


def test_the_twins_stack_file_is_the_committed_one_but_for_salt_ciphertext_and_chart() -> None:
    committed = yaml.safe_load((PROJECT / "Pulumi.prod.yaml").read_text())
    overrides = {
        "encryptionsalt": "v1:salt",
        "config": {
            "spark-streams:secrets": {"kafka-sasl-password": {"secure": "v1:cipher"}},
            "spark-streams:operator": {"chartSource": "/cache/chart"},
        },
    }
    copy = stackcopy.compose("prod", overrides)
    assert copy["encryptionsalt"] == "v1:salt"
    config, original = copy["config"], committed["config"]
    assert config["spark-streams:secrets"] == {"kafka-sasl-password": {"secure": "v1:cipher"}}
    assert config["spark-streams:operator"] == {
        **original["spark-streams:operator"],
        "chartSource": "/cache/chart",
    }
    untouched = set(original) - {"spark-streams:secrets", "spark-streams:operator"}
    assert {k: config[k] for k in untouched} == {k: original[k] for k in untouched}
    assert stackcopy.declared_secrets("prod") == ["kafka-sasl-password"]
