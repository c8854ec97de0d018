"""Scale figure for the operator on the twin: N generated streams applied at once, the time
until every application is RUNNING, and the operator's submissions per minute with the
release's `controller.workers`. Run by `make bench-twin` on a twin that is up.

Each submission is a spark-submit JVM on this machine, so the figures measure the operator
and spark-submit on its cores, not a cluster's API server or nodes.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.twin import PROJECT, Obj, Twin, poll, render

SIZES = (1, 10, 50)
# The chart's default when the release does not set controller.workers.
CHART_DEFAULT_WORKERS = 10
STREAM = """from spark_streams.model import Stream

stream = Stream(name="bench-{i:03d}", sink="s3://{{lake}}/raw/{{stream}}/")
"""


def generated(n: int, directory: Path) -> None:
    for i in range(n):
        (directory / f"bench_{i:03d}.py").write_text(STREAM.format(i=i))


def run(twin: Twin, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        generated(n, Path(tmp))
        objects = render(twin.stack, Path(tmp))
    apps = [o["metadata"]["name"] for o in objects if o["kind"] == "SparkApplication"]
    started = time.time()
    twin.apply(objects)

    def all_running() -> list[Obj] | None:
        items = twin.items("sparkapplications", "-n", twin.namespace)
        states = {
            a["metadata"]["name"]: a.get("status", {}).get("applicationState", {}).get("state")
            for a in items
        }
        return items if all(states.get(a) == "RUNNING" for a in apps) else None

    items = poll(f"{n} applications RUNNING", 120 + 10 * n, all_running, every=0.5)
    running_after = time.time() - started
    submitted = sorted(
        datetime.fromisoformat(a["status"]["lastSubmissionAttemptTime"]).timestamp()
        for a in items
        if a["metadata"]["name"] in apps
    )
    # Submissions per minute over the span from the apply to the last submission.
    span = max(submitted[-1] - started, 1.0)
    for obj in reversed(objects):
        if obj["kind"] == "SparkApplication":
            twin.kubectl(
                "delete",
                "sparkapplication",
                obj["metadata"]["name"],
                "-n",
                twin.namespace,
                "--wait=false",
            )
    poll(
        "the bench's pods gone",
        300,
        lambda: not twin.items("pods", "-n", twin.namespace, "-l", "spark-role=driver"),
        every=1,
    )
    return {
        "streams": n,
        "all_running_s": round(running_after, 1),
        "submissions_per_minute": round(n / span * 60, 1),
    }


def main() -> None:
    twin = Twin()
    values = twin.env["release"]["values"]
    workers = values.get("controller", {}).get("workers", CHART_DEFAULT_WORKERS)
    results = [run(twin, n) for n in SIZES]
    print(f"stack {twin.stack}, controller.workers {workers}, {twin.env['versions']['kubernetes']}")
    print(f"{'streams':>8} {'all RUNNING':>12} {'submissions/min':>16}")
    for r in results:
        print(f"{r['streams']:>8} {r['all_running_s']:>11}s {r['submissions_per_minute']:>16}")
    out = PROJECT / ".twin-report"
    out.mkdir(exist_ok=True)
    (out / "bench-twin.json").write_text(
        json.dumps({"stack": twin.stack, "controller_workers": workers, "runs": results}, indent=2)
    )


if __name__ == "__main__":
    main()
