"""Scale figure for the operator on the twin: N generated streams applied at once, the time
until every application is RUNNING, and the operator's submissions per minute with the
release's `controller.workers`. Run by `make bench-twin` on a twin that is up.

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


def main() -> None:
    twin = Twin()
    values = twin.env["release"]["values"]
    workers = values.get("controller", {}).get("workers", CHART_DEFAULT_WORKERS)
    sizes = [int(n) for n in os.environ.get("TWIN_BENCH_SIZES", "").split()] or SIZES
    out = PROJECT / ".twin-report"
    out.mkdir(exist_ok=True)
    print(f"stack {twin.stack}, controller.workers {workers}, {twin.env['versions']['kubernetes']}")
    print("streams  running  seconds  submissions  failed submissions  submissions/min")
    results = []
    for n in sizes:
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


if __name__ == "__main__":
    main()
