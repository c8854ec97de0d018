"""The twin's engine set-up: the stand-in language host answers as the real one would for this
project, and the twin's copy of a stack file is the committed one plus only what a twin cannot
have (twin/engine/language_host.py, twin/engine/stackcopy.py)."""

from __future__ import annotations

import subprocess
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


@pytest.mark.parametrize("plugin", ["pulumi-language-python", "pulumi-resource-pulumi-python"])
def test_the_python_plugins_run_in_the_virtualenv_of_the_project_the_cli_runs_from(
    plugin: str, tmp_path: Path
) -> None:
    # The CLI starts its plugins in the program's directory: a clone of the project (as CI's
    # checkout) runs its own environment, not the one of the checkout the twin was started from.
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$0 $*"\n')
    python.chmod(0o755)
    result = subprocess.run(
        [str(PROJECT / "twin" / "engine" / plugin), "127.0.0.1:1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith(f"{python} ")
    assert result.stdout.rstrip().endswith(" 127.0.0.1:1")
