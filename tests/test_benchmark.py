"""The scale benchmark keeps working (tiny sizes; the figures themselves are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT


def test_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/plan_scale.py",
            "--sizes",
            "1",
            "--repeats",
            "1",
            "--out",
            str(out),
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "import floor" in result.stdout
    figures = json.loads(out.read_text())
    assert set(figures["plan"]) == {"1"}
    for entry in figures["plan"].values():
        assert entry["resources_per_stream"] == 7
        assert entry["graph_depth"] >= 2
    assert set(figures["list"]) == {"1"}
    assert {row["target"] for row in figures["targets"]} >= {"plan(1) / floor", "max graph depth"}
