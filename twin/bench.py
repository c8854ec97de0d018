"""Scale figures on the twin, run by `make bench-twin` on a twin that is up, in two parts
(`TWIN_BENCH_PARTS`, default both):

- ``operator``: the committed stack deployed, then N generated streams applied at once with
  kubectl, the time until every application is RUNNING, and the operator's submissions per
  minute with the release's `controller.workers` (`TWIN_BENCH_SIZES`);
- ``engine``: the same through the engine, from an empty stack (twin/bench_engine.py,
  `TWIN_BENCH_ENGINE_SIZES`).

Each submission is a spark-submit JVM on this machine, so the figures measure the operator
and spark-submit on its cores, not a cluster's API server or nodes.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.e2e.twin import PROJECT, Obj, Twin, render
from twin import bench_engine
from twin.processes import poll

SIZES = [1, 10, 50]
# The chart's default when the release does not set controller.workers.
CHART_DEFAULT_WORKERS = 10
STREAM = """from spark_streams.model import Stream

stream = Stream(name="bench-{i:03d}", sink="s3://{{lake}}/raw/{{stream}}/")
"""


def generated(n: int, directory: Path) -> None:
    for i in range(n):
        (directory / f"bench_{i:03d}.py").write_text(STREAM.format(i=i))


def states(twin: Twin, apps: list[str]) -> dict[str, Obj]:
    wanted = set(apps)
    return {
        a["metadata"]["name"]: a
        for a in twin.items("sparkapplications", "-n", twin.namespace)
        if a["metadata"]["name"] in wanted
    }


def state(app: Obj) -> str | None:
    value: str | None = app.get("status", {}).get("applicationState", {}).get("state")
    return value


def run(twin: Twin, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        generated(n, Path(tmp))
        objects = render(twin.stack, Path(tmp))
    apps = [o["metadata"]["name"] for o in objects if o["kind"] == "SparkApplication"]
    started = time.time()
    twin.apply(objects)
    # Bounded: a stack that cannot get every stream running in this time is reported as such.
    deadline = started + 120 + 12 * n
    failed: set[str] = set()
    while True:
        current = states(twin, apps)
        failed |= {a for a, obj in current.items() if state(obj) == "SUBMISSION_FAILED"}
        running = sum(state(obj) == "RUNNING" for obj in current.values())
        if running == n or time.time() >= deadline:
            break
        time.sleep(0.5)
    elapsed = time.time() - started
    submissions = sum(
        obj.get("status", {}).get("submissionAttempts", 0) for obj in current.values()
    )
    twin.kubectl("delete", "sparkapplications", "--all", "-n", twin.namespace, "--wait=false")
    poll(
        "the bench's pods gone",
        300,
        lambda: not twin.items("pods", "-n", twin.namespace, "-l", "spark-role=driver"),
        every=1,
    )
    return {
        "streams": n,
        "running": running,
        "seconds": round(elapsed, 1),
        "all_running": running == n,
        "submissions": submissions,
        "submission_failures": len(failed),
        "submissions_per_minute": round(submissions / elapsed * 60, 1),
    }


def sizes(variable: str, default: list[int]) -> list[int]:
    return [int(n) for n in os.environ.get(variable, "").split()] or default


def operator(twin: Twin) -> None:
    twin.up()
    values = twin.env["release"]["values"]
    workers = values.get("controller", {}).get("workers", CHART_DEFAULT_WORKERS)
    out = PROJECT / ".twin-report"
    print(f"stack {twin.stack}, controller.workers {workers}, {twin.env['versions']['kubernetes']}")
    print("streams  running  seconds  submissions  failed submissions  submissions/min")
    results = []
    for n in sizes("TWIN_BENCH_SIZES", SIZES):
        r = run(twin, n)
        results.append(r)
        print(
            f"{n:>7} {r['running']:>8} {r['seconds']:>8} {r['submissions']:>12}"
            f" {r['submission_failures']:>19} {r['submissions_per_minute']:>16}",
            flush=True,
        )
        (out / "bench-twin.json").write_text(
            json.dumps(
                {"stack": twin.stack, "controller_workers": workers, "runs": results}, indent=2
            )
        )


def main() -> None:
    parts = os.environ.get("TWIN_BENCH_PARTS", "").split() or ["operator", "engine"]
    twin = Twin()
    (PROJECT / ".twin-report").mkdir(exist_ok=True)
    if "operator" in parts:
        operator(twin)
    if "engine" in parts:
        bench_engine.main(sizes("TWIN_BENCH_ENGINE_SIZES", bench_engine.SIZES))


if __name__ == "__main__":
    main()
