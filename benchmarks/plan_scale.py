"""Scale benchmark: the offline plan and list against the libraries' import floor.

    uv run python benchmarks/plan_scale.py [--sizes 1 10 100 1000] [--repeats 3]

Measures, in one run on this machine:
- the import floor: a bare interpreter importing the modules such a program cannot avoid;
- ``spark-streams plan --stack dev --json --streams-dir DIR`` for N generated streams: wall time
  (median of repeats), peak RSS, resources per stream, depth of the dependency graph;
- ``spark-streams list`` for the smallest and largest N.
Prints a table, checks the targets as ratios, writes the figures as JSON (default
``benchmarks/out/plan_scale.json``). Figures, not assertions: the exit code is 0 either way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
# What any program registering these resources must load. pulumi_aws and pulumi_kubernetes
# load submodules lazily, on first attribute access, so the floor touches each resource class;
# importing the packages alone would understate it.
FLOOR_IMPORTS = (
    "import pulumi, pydantic",
    "from pulumi.runtime import mocks",
    "from pulumi_aws import Provider",
    "from pulumi_aws.eks import get_cluster_output",
    "from pulumi_aws.iam import Role, RolePolicy, get_open_id_connect_provider_output",
    "from pulumi_aws.kms import Key",
    "from pulumi_aws.s3 import Bucket, BucketLifecycleConfiguration, BucketOwnershipControls, "
    "BucketPolicy, BucketPublicAccessBlock, BucketServerSideEncryptionConfiguration, "
    "BucketVersioning",
    "from pulumi_kubernetes import Provider as KubernetesProvider",
    "from pulumi_kubernetes.apiextensions import CustomResource",
    "from pulumi_kubernetes.core.v1 import Namespace, Secret, ServiceAccount",
    "from pulumi_kubernetes.helm.v3 import Release",
    "from pulumi_kubernetes.networking.v1 import NetworkPolicy",
    "from pulumi_kubernetes.rbac.v1 import Role as KubernetesRole, RoleBinding",
    "import kubeflow_spark_api.models",
)
STREAM_TEMPLATE = """from spark_streams.model import Executor, StackOverride, Stream

stream = Stream(
    name="bench-{i:05d}",
    arguments=("--topic", "bench.{i}"),
    sink="s3://{{lake}}/bench/{i:05d}/",
    executor=Executor(instances=2),
    stacks={{"dev": StackOverride(executor=Executor(instances=1))}},
)
"""


def measure(argv: Sequence[str], repeats: int) -> tuple[float, float, bytes]:
    """Median wall seconds, peak RSS in MiB (max over repeats) and the last stdout."""
    walls: list[float] = []
    peak = 0.0
    out = b""
    for _ in range(repeats):
        with tempfile.TemporaryFile() as sink:
            start = time.perf_counter()
            process = subprocess.Popen(argv, cwd=PROJECT, stdout=sink, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            walls.append(time.perf_counter() - start)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                error = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"{' '.join(argv)} failed:\n{error}")
            if process.stderr:
                process.stderr.close()
            peak = max(peak, usage.ru_maxrss / 1024)  # KiB on Linux
            sink.seek(0)
            out = sink.read()
    return statistics.median(walls), peak, out


def generate(directory: Path, count: int) -> None:
    directory.mkdir(parents=True)
    for i in range(count):
        (directory / f"bench_{i:05d}.py").write_text(STREAM_TEMPLATE.format(i=i))


def graph_depth(resources: list[dict[str, Any]]) -> int:
    """Resources on the longest chain through ``dependencies``."""
    edges = {r["urn"]: r["dependencies"] for r in resources}

    @cache
    def depth(urn: str) -> int:
        return 1 + max((depth(d) for d in edges.get(urn, ())), default=0)

    sys.setrecursionlimit(max(10_000, len(edges) * 2))
    return max((depth(u) for u in edges), default=0)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spark_streams.cli", *args]


def run(sizes: Sequence[int], repeats: int, out: Path) -> dict[str, Any]:
    floor_code = "\n".join(FLOOR_IMPORTS)
    floor, floor_rss, _ = measure([sys.executable, "-c", floor_code], repeats)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "import_floor": {"seconds": floor, "peak_rss_mib": floor_rss, "modules": FLOOR_IMPORTS},
        "plan": {},
        "list": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            directory = Path(tmp) / f"streams-{n}"
            generate(directory, n)
            wall, rss, stdout = measure(
                cli("plan", "--stack", "dev", "--json", "--streams-dir", str(directory)), repeats
            )
            resources = json.loads(stdout)["resources"]
            per_stream = sum(1 for r in resources if r["stream"]) / n
            results["plan"][str(n)] = {
                "seconds": wall,
                "peak_rss_mib": rss,
                "resources": len(resources),
                "resources_per_stream": per_stream,
                "graph_depth": graph_depth(resources),
            }
            if n in (min(sizes), max(sizes)):
                list_wall, list_rss, _ = measure(
                    cli("list", "--stack", "dev", "--streams-dir", str(directory)), repeats
                )
                results["list"][str(n)] = {"seconds": list_wall, "peak_rss_mib": list_rss}
    results["targets"] = targets(results, sizes)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def targets(results: dict[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
    floor = results["import_floor"]["seconds"]
    plan, listing = results["plan"], results["list"]
    small, large = str(min(sizes)), str(max(sizes))
    checks: list[tuple[str, float, float]] = [
        (f"plan({small}) / floor", plan[small]["seconds"] / floor, 1.5),
        (f"plan({large}) / floor", plan[large]["seconds"] / floor, 15.0),
        (f"list({large}) / floor", listing[large]["seconds"] / floor, 0.5),
        (f"peak RSS plan({large}) MiB", plan[large]["peak_rss_mib"], 1024.0),
        ("max resources per stream", max(p["resources_per_stream"] for p in plan.values()), 7.0),
        ("max graph depth", max(p["graph_depth"] for p in plan.values()), 6.0),
    ]
    if "100" in plan and "1000" in plan:
        checks.append(
            ("plan(1000) / plan(100)", plan["1000"]["seconds"] / plan["100"]["seconds"], 12.0)
        )
    rows = [
        {"target": name, "value": value, "limit": limit, "met": value <= limit}
        for name, value, limit in checks
    ]
    depths = {p["graph_depth"] for p in plan.values()}
    rows.append(
        {
            "target": "graph depth same for every N",
            "value": len(depths),
            "limit": 1,
            "met": len(depths) == 1,
        }
    )
    return rows


def report(results: dict[str, Any]) -> str:
    floor = results["import_floor"]
    lines = [
        f"import floor: {floor['seconds']:.2f} s, {floor['peak_rss_mib']:.0f} MiB "
        f"({results['machine']['cpus']} CPUs, Python {results['machine']['python']})",
        "",
        f"{'N':>6} {'plan s':>8} {'x floor':>8} {'RSS MiB':>8} {'res.':>7} "
        f"{'res/stream':>10} {'depth':>6}",
    ]
    for n, p in results["plan"].items():
        lines.append(
            f"{n:>6} {p['seconds']:>8.2f} {p['seconds'] / floor['seconds']:>8.2f} "
            f"{p['peak_rss_mib']:>8.0f} {p['resources']:>7} {p['resources_per_stream']:>10.1f} "
            f"{p['graph_depth']:>6}"
        )
    lines.append("")
    for n, entry in results["list"].items():
        lines.append(
            f"list({n}): {entry['seconds']:.2f} s = "
            f"{entry['seconds'] / floor['seconds']:.2f} x floor"
        )
    lines.append("")
    for row in results["targets"]:
        mark = "ok  " if row["met"] else "MISS"
        lines.append(f"{mark} {row['target']}: {row['value']:.2f} (limit {row['limit']})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=PROJECT / "benchmarks" / "out" / "plan_scale.json"
    )
    args = parser.parse_args()
    results = run(args.sizes, args.repeats, args.out)
    print(report(results))
    print(f"\nfigures written to {args.out}")


if __name__ == "__main__":
    main()
