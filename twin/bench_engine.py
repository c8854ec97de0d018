"""The deploy's cost through the engine, for `make bench-twin` (issue 21, point 8): per N generated
streams, from an empty stack, the wall time of `twin/pulumi preview`, `up` (until every stream's
wait passed: RUNNING, or SUSPENDED from SUSPENDED_FROM streams on, where the operator's
submission rate would make RUNNING take most of an hour on this machine), a no-change preview,
then, after one stream changed, the full preview against one targeted at what `spark-streams diff
--json` says changed; beside the offline `plan` of the same streams. Per command: peak RSS of
the CLI, the providers and the language host (which runs the program), and where the time went,
from the engine's own event log.

The streams live in a scratch clone of the project (`.twin/bench/repo`, committed there, so the
diff has a base) and the stack's `streamsDir` names them.
"""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from components import STREAM as STREAM_TYPE
from spark_streams.diff import DiffResult
from tests.e2e.ci_jobs import git
from tests.e2e.twin import PROJECT, Twin
from twin.bench_times import preview_changes, read_timeline, targets, where_time_goes
from twin.processes import processes

SIZES = [1, 10, 50, 200]
SUSPENDED_FROM = 200
CHANGED = 0  # the stream the merge request changes
WORK = PROJECT / ".twin" / "bench"
REPO = WORK / "repo"
PULUMI = str(PROJECT / "twin" / "pulumi")
SPARK_STREAMS = str(PROJECT / ".venv" / "bin" / "spark-streams")
STREAM = """from spark_streams.model import Executor, Stream  # noqa: F401

stream = Stream(
    name="bench-{i:03d}",
    sink="s3://{{lake}}/raw/{{stream}}/",
    suspend={suspend},{change}
)
"""
CHANGE = "\n    executor=Executor(instances=2),"
# What each process of a command's tree is, by its command line.
KINDS = (
    ("kubernetes provider", "pulumi-resource-kubernetes"),
    ("aws stand-in", "twin.engine.aws_provider"),
    ("dynamic provider", "pulumi.dynamic"),
    ("language host + program", "twin.engine.language_host"),
)
SAMPLE_SECONDS = 0.25
WATCH_SECONDS = 2.0


def load() -> float:
    return round(os.getloadavg()[0], 1)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for process in processes():
        tree.setdefault(process.ppid, []).append(process.pid)
    return tree


def _peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "cli"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    return next((kind for kind, mark in KINDS if mark in cmdline), "other")


class Memory(threading.Thread):
    """Peak RSS (the kernel's VmHWM, read four times a second until each process exits) of the
    largest process of each kind in the command's process tree; growth in a process's last
    quarter second is missed."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = root, threading.Event()
        self.peaks: dict[str, int] = {}
        self.kinds: dict[int, str] = {}

    def run(self) -> None:
        while not self.done.is_set():
            tree, pending, seen = _children(), [self.root], []
            while pending:
                pid = pending.pop()
                seen.append(pid)
                pending.extend(tree.get(pid, []))
            for pid in seen:
                kind = self.kinds.setdefault(pid, _kind(pid, self.root))
                peak = _peak_kib(pid)
                if peak is not None:
                    self.peaks[kind] = max(self.peaks.get(kind, 0), peak)
            time.sleep(SAMPLE_SECONDS)

    def mib(self) -> dict[str, int]:
        return {kind: round(kib / 1024) for kind, kib in sorted(self.peaks.items())}


class Watcher(threading.Thread):
    """When each application was created and when it was first seen in its expected state
    (polled every two seconds): the operator's part of a deploy."""

    def __init__(self, twin: Twin) -> None:
        super().__init__(daemon=True)
        self.twin, self.done = twin, threading.Event()
        self.created: dict[str, float] = {}
        self.ready: dict[str, float] = {}

    def run(self) -> None:
        columns = (
            "custom-columns=N:.metadata.name,C:.metadata.creationTimestamp,"
            "S:.status.applicationState.state"
        )
        while not self.done.is_set():
            out = self.twin.kubectl(
                "get",
                "sparkapplications",
                "-n",
                self.twin.namespace,
                "--no-headers",
                "-o",
                columns,
                check=False,
            ).stdout
            now = time.time()
            for row in out.splitlines():
                name, created, state = [*row.split(), "", "", ""][:3]
                if created and created != "<none>":
                    stamp = time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
                    self.created.setdefault(name, calendar.timegm(stamp))
                if state in ("RUNNING", "SUSPENDED"):
                    self.ready.setdefault(name, now)
            time.sleep(WATCH_SECONDS)

    def figures(self, started: float, waits: dict[str, int]) -> dict[str, Any]:
        """Seconds from each application's creation to its expected state, when the last one
        got there (from the command's start), and how long each stream's wait ended after its
        application got there (``waits``: the end of each wait's step, by application): the
        window, and any time the wait queued behind others."""
        times = sorted(self.ready[a] - self.created[a] for a in self.ready if a in self.created)
        lag = sorted(waits[a] - self.ready[a] for a in waits if a in self.ready)
        return {
            "wait_end_after_ready_median": round(lag[len(lag) // 2], 1) if lag else None,
            "wait_end_after_ready_max": round(lag[-1], 1) if lag else None,
            "applications_ready": len(self.ready),
            "created_to_ready_median": round(times[len(times) // 2], 1) if times else None,
            "created_to_ready_max": round(times[-1], 1) if times else None,
            "last_ready_after": round(max(self.ready.values()) - started, 1)
            if self.ready
            else None,
        }


def timed(twin: Twin, name: str, *args: str) -> dict[str, Any]:
    """`twin/pulumi ARGS --stack S --event-log F`: its wall time, exit code, memory and where its
    time went; ``stdout`` is kept for --json. Also appended to ``.twin/bench/commands.jsonl``."""
    events = WORK / f"{name}.events.jsonl"
    events.unlink(missing_ok=True)
    command = [
        PULUMI,
        *args,
        "--suppress-progress",
        "--stack",
        twin.stack,
        "--event-log",
        str(events),
    ]
    before = load()
    started = time.time()
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env={**os.environ, "PULUMI_DEBUG_COMMANDS": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    memory = Memory(process.pid)
    memory.start()
    stdout, stderr = process.communicate()
    ended = time.time()
    memory.done.set()
    memory.join()
    (WORK / f"{name}.out").write_text(stdout + stderr)
    timeline = read_timeline(events.read_text().splitlines() if events.exists() else [])
    figures = {
        "command": " ".join(["pulumi", *args]),
        "exit": process.returncode,
        "load": [before, load()],
        "memory_mib": memory.mib(),
        "where": where_time_goes(timeline, started, ended),
        "stdout": stdout,
        "waits": {
            s.urn.rsplit("::", 1)[1].removesuffix("-ready"): s.ended
            for s in timeline.steps.values()
            if s.package == "readiness" and s.ended is not None
        },
    }
    # Each command's figures as soon as it ends: a run stopped half way keeps them.
    with (WORK / "commands.jsonl").open("a") as log:
        kept = {k: v for k, v in figures.items() if k not in ("stdout", "waits")}
        log.write(json.dumps({"name": name, **kept}) + "\n")
    return figures


def write_streams(n: int, changed: bool = False) -> None:
    streams = REPO / "streams"
    for old in streams.glob("*.py"):
        old.unlink()
    for i in range(n):
        text = STREAM.format(
            i=i, suspend=n >= SUSPENDED_FROM, change=CHANGE if changed and i == CHANGED else ""
        )
        (streams / f"bench_{i:03d}.py").write_text(text)


def scratch_repo(n: int) -> None:
    """The project cloned, with N generated streams committed in place of its own."""
    subprocess.run(["rm", "-rf", str(REPO)], check=True)
    subprocess.run(["git", "clone", "-q", "--local", str(PROJECT), str(REPO)], check=True)
    write_streams(n)
    git(REPO, "add", "-A", "streams")
    git(REPO, "commit", "-q", "-m", f"{n} generated streams")


def offline(*args: str) -> tuple[float, str]:
    started = time.time()
    done = subprocess.run(
        [SPARK_STREAMS, *args, "--stack", "dev", "--json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return round(time.time() - started, 2), done.stdout


def run(twin: Twin, n: int) -> dict[str, Any]:
    scratch_repo(n)
    result: dict[str, Any] = {
        "streams": n,
        "expect": "SUSPENDED" if n >= SUSPENDED_FROM else "RUNNING",
    }
    # The previous N's streams go, the shared part stays: a destroy and a new install of the
    # operator's release on one twin leaves its webhook refused (x509: unknown authority).
    state: list[dict[str, Any]] = twin.export().get("resources") or []  # none on a new stack
    streams = [r["urn"] for r in state if r["type"] == STREAM_TYPE]
    result["deployed_before"] = "the shared part" if state else "nothing"
    if streams:
        flags = [f for urn in streams for f in ("--target", urn)]
        removal = timed(
            twin, f"{n}-remove-before", "destroy", "--yes", "--target-dependents", *flags
        )
        result["remove_before"] = {
            "streams": len(streams),
            "exit": removal["exit"],
            "load": removal["load"],
            "seconds": removal["where"]["seconds"],
        }
    twin.pulumi("config", "set", "spark-streams:streamsDir", str(REPO / "streams"))
    seconds, plan_json = offline("plan")
    result["plan"] = {
        "seconds": seconds,
        "load": load(),
        "resources": len(json.loads(plan_json)["resources"]),
    }
    result["preview"] = timed(twin, f"{n}-preview", "preview")
    watcher = Watcher(twin)
    watcher.start()
    started = time.time()
    up = timed(twin, f"{n}-up", "up", "--yes", "--skip-preview")
    watcher.done.set()
    watcher.join()
    up["operator"] = watcher.figures(started, up["waits"])
    result["up"] = up
    result["preview_no_change"] = timed(
        twin, f"{n}-preview-no-change", "preview", "--expect-no-changes"
    )

    write_streams(n, changed=True)
    seconds, diff_json = offline("diff", "--base", "HEAD")
    _, plan_json = offline("plan")
    urns = targets(DiffResult.model_validate_json(diff_json), json.loads(plan_json)["resources"])
    if urns is None:
        raise SystemExit(f"spark-streams diff did not name the changed stream: {diff_json}")
    full = timed(twin, f"{n}-preview-change", "preview", "--json")
    flags = [f for urn in urns for f in ("--target", urn)]
    targeted = timed(twin, f"{n}-preview-targeted", "preview", "--json", *flags)
    full_json, targeted_json = (json.loads(r["stdout"]) for r in (full, targeted))
    full_changes, targeted_changes = preview_changes(full_json), preview_changes(targeted_json)
    result["diff_seconds"] = seconds
    result["preview_change"] = full | {"summary": full_json.get("changeSummary")}
    result["preview_targeted"] = targeted | {
        "targets": len(urns),
        "summary": targeted_json.get("changeSummary"),
        "same_changes": full_changes == targeted_changes,
        "changes": sorted(f"{op} {urn}" for urn, (op, _) in targeted_changes.items()),
        "differ": sorted(
            urn
            for urn in full_changes.keys() | targeted_changes.keys()
            if full_changes.get(urn) != targeted_changes.get(urn)
        ),
    }
    for step in ("preview", "up", "preview_no_change", "preview_change", "preview_targeted"):
        result[step].pop("stdout")
        result[step].pop("waits")
    return result


def row(r: dict[str, Any]) -> str:
    def cell(step: str) -> str:
        return f"{r[step]['where']['seconds']}{'' if r[step]['exit'] == 0 else '!'}"

    memory = r["up"]["memory_mib"]
    return (
        f"{r['streams']:>7} {r['plan']['resources']:>9} {r['plan']['seconds']:>6}"
        f" {cell('preview'):>8} {cell('up'):>7} {r['expect']:>9} {cell('preview_no_change'):>9}"
        f" {cell('preview_change'):>8} {cell('preview_targeted'):>8}"
        f" {r['preview_targeted']['same_changes']!s:>5}"
        f"  {r['up']['load'][0]}-{r['up']['load'][1]}"
        f"  cli {memory.get('cli')} k8s {memory.get('kubernetes provider')}"
        f" host {memory.get('language host + program')} dyn {memory.get('dynamic provider')}"
        f" aws {memory.get('aws stand-in')} MiB"
    )


def main(sizes: list[int]) -> list[dict[str, Any]]:
    twin = Twin()
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "commands.jsonl").unlink(missing_ok=True)
    print("engine: seconds per command ('!' = non-zero exit), up's peak RSS per process kind")
    print(
        "streams resources   plan  preview      up    expect no-change   change targeted same"
        "  load(up)  memory"
    )
    results = []
    for n in sizes:
        results.append(run(twin, n))
        print(row(results[-1]), flush=True)
        (PROJECT / ".twin-report" / "bench-twin-engine.json").write_text(
            json.dumps({"stack": twin.stack, "runs": results}, indent=2)
        )
    return results
