"""Talking to the twin (through twin/pulumi, its own kubectl and .twin/kubeconfig only) and
recording what the scenarios proved.

The twin is started by `make e2e` / `make twin-up`; these helpers never start anything. Deploys
are the real CLI's (`twin/pulumi up`), of the program with the stream files a scenario's edits
made, pointed at by the stack setting `streamsDir` in the twin's copy of the stack file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from spark_streams.offline import Plan
from twin.processes import poll, session

PROJECT = Path(__file__).resolve().parents[2]
# twin/lib.sh's rule: .twin/, unless TWIN_STATE names another (make e2e runs one per stack).
STATE = Path(os.environ.get("TWIN_STATE") or PROJECT / ".twin")
PULUMI = PROJECT / "twin" / "pulumi"
# Objects a scenario makes behind Pulumi's back (the crashing copy of a stream) are its own.
FIELD_MANAGER = "twin-e2e"
APP_GROUP = "sparkoperator.k8s.io"

T = TypeVar("T")
Obj = dict[str, Any]


class TwinError(AssertionError):
    pass


def key(obj: Obj) -> tuple[str, str, str, str]:
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return (group, obj["kind"], meta.get("namespace", ""), meta["name"])


def spark_streams(command: str, stack: str, streams_dir: Path | None, *flags: str) -> str:
    """`spark-streams COMMAND --stack STACK [--streams-dir DIR] FLAGS`'s output, as a user runs it."""
    args = [command, "--stack", stack, *flags]
    if streams_dir is not None:
        args += ["--streams-dir", str(streams_dir)]
    return subprocess.run(
        [sys.executable, "-m", "spark_streams.cli", *args],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def render(stack: str, streams_dir: Path | None = None) -> list[Obj]:
    """Exactly what `spark-streams render --stack STACK` prints, as objects."""
    return [doc for doc in yaml.safe_load_all(spark_streams("render", stack, streams_dir)) if doc]


def plan(stack: str, streams_dir: Path | None = None) -> Plan:
    """`spark-streams plan --json --stack STACK`: what the program registers, offline."""
    return Plan.model_validate_json(spark_streams("plan", stack, streams_dir, "--json"))


def edited_streams(*edits: Callable[[Path], None]) -> Path:
    """A copy of streams/ changed by edits, in order, as users' commits would change it. Kept in
    .twin/e2e/ (the state of a deploy of it can still be previewed afterwards)."""
    (STATE / "e2e").mkdir(exist_ok=True)
    copy = Path(tempfile.mkdtemp(dir=STATE / "e2e")) / "streams"
    shutil.copytree(PROJECT / "streams", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for edit in edits:
        edit(copy)
    return copy


@dataclass
class Report:
    """What a run proved, printed at its end and written as JSON."""

    stack: str
    versions: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    applied: list[str] = field(default_factory=list)
    deploys: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    pods_admitted: list[str] = field(default_factory=list)
    pods_rejected: list[dict[str, str]] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    proofs: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> float:
        return round(time.monotonic() - self.started, 2)

    def prove(self, scenario: str, **facts: Any) -> None:
        self.proofs.append({"scenario": scenario, "at_s": self.now(), **facts})

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "versions": self.versions,
            "deploys": self.deploys,
            "objects_applied": self.applied,
            "objects_deleted": self.deleted,
            "pods_admitted": self.pods_admitted,
            "pods_rejected": self.pods_rejected,
            "state_transitions": self.transitions,
            "proofs": self.proofs,
        }


class Twin:
    def __init__(self) -> None:
        env_file = STATE / "env.json"
        if not env_file.exists():
            raise TwinError("no twin is up: run `make e2e` (or `make twin-up` first)")
        self.env: dict[str, Any] = json.loads(env_file.read_text())
        self.stack: str = self.env["stack"]
        self.namespace: str = self.env["release"]["values"]["spark"]["jobNamespaces"][0]
        self.report = Report(self.stack, self.env["versions"])
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}  # pid of a start_up -> when it started

    # --- kubectl ------------------------------------------------------------------------
    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.env["kubectl"], "--kubeconfig", self.env["kubeconfig"], *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise TwinError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def get(self, *args: str) -> Obj:
        result: Obj = json.loads(self.kubectl("get", "-o", "json", *args).stdout)
        return result

    def items(self, *args: str) -> list[Obj]:
        items: list[Obj] = self.get(*args)["items"]
        return items

    def find(self, obj: Obj) -> Obj | None:
        group, kind, namespace, name = key(obj)
        resource = f"{kind.lower()}.{group}" if group else kind.lower()
        args = ["get", resource, name, "-o", "json", "--ignore-not-found", "--show-managed-fields"]
        if namespace:
            args += ["-n", namespace]
        out = self.kubectl(*args).stdout.strip()
        return json.loads(out) if out else None

    # --- the engine -------------------------------------------------------------------
    def pulumi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`twin/pulumi ARGS --stack S`: the real CLI, as a user runs it on the twin."""
        started = time.monotonic()
        result = subprocess.run(
            [str(PULUMI), *args, "--stack", self.stack],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if args[0] in ("up", "preview", "refresh", "destroy"):
            summary = re.findall(r"^ +([-+~]* *\d+ [a-z ]+)$", result.stdout, re.MULTILINE)
            self._deployed(" ".join(args), result.returncode, started, summary)
        if check and result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise TwinError(f"twin/pulumi {' '.join(args)} exited {result.returncode}:\n{tail}")
        return result

    def up(
        self, streams_dir: Path | None = None, *flags: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Deploys the program with these stream files (default: the project's streams/)."""
        self.pulumi("config", "set", "spark-streams:streamsDir", str(streams_dir or "streams"))
        return self.pulumi("up", "--yes", "--suppress-progress", *flags, check=check)

    def export(self) -> Obj:
        """The stack's deployment as the engine holds it (`pulumi stack export`)."""
        deployment: Obj = json.loads(self.pulumi("stack", "export").stdout)["deployment"]
        return deployment

    def state(self) -> list[Obj]:
        """The stack's resources as the engine holds them."""
        resources: list[Obj] = self.export()["resources"]
        return resources

    def start_up(self, streams_dir: Path, *flags: str) -> subprocess.Popen[str]:
        """`up` of these stream files left running in a session of its own, as a CI job's shell
        runs it; its output goes to a file beside them."""
        self.pulumi("config", "set", "spark-streams:streamsDir", str(streams_dir))
        with open(streams_dir.parent / "up.log", "w") as log:
            process = subprocess.Popen(
                [str(PULUMI), "up", "--yes", "--suppress-progress", *flags, "--stack", self.stack],
                cwd=PROJECT,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self._started[process.pid] = time.monotonic()
        return process

    def cut_off(self, process: subprocess.Popen[str]) -> list[str]:
        """What a cancelled CI job does to its shell: SIGKILL to the CLI's process group. The
        plugins the CLI started run in process groups of their own and outlive it: they are
        killed here, by PID, and their command lines returned."""
        assert process.poll() is None, "the deploy ended before it could be cut off"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        command = "up (cut off: SIGKILL to its process group)"
        self._deployed(command, process.returncode, self._started.pop(process.pid))
        orphans = session(process.pid)
        commands = []
        for pid in orphans:
            with contextlib.suppress(OSError):  # it may have ended meanwhile
                commands.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        poll("the orphaned plugins gone", 30, lambda: not session(process.pid))
        return commands

    def _deployed(
        self, command: str, exit_code: int, started: float, summary: list[str] | None = None
    ) -> None:
        """An engine command in the report: its exit, seconds since ``started`` and the
        resources its summary counts."""
        with self._lock:
            self.report.deploys.append(
                {
                    "command": command,
                    "exit": exit_code,
                    "seconds": round(time.monotonic() - started, 1),
                    "resources": [" ".join(r.split()) for r in summary or []],
                }
            )

    # --- objects behind Pulumi's back ---------------------------------------------------
    def apply(self, objects: list[Obj]) -> None:
        """Server-side apply with the scenarios' own field manager."""
        if not objects:
            return
        out = self.kubectl(
            "apply",
            "--server-side",
            "--field-manager",
            FIELD_MANAGER,
            "-f",
            "-",
            stdin=yaml.safe_dump_all(objects),
        ).stdout
        with self._lock:
            self.report.applied += [line.split()[0] for line in out.splitlines() if line]

    def delete(self, obj: Obj) -> None:
        """Deleted as pulumi-kubernetes deletes: foreground, waiting until it is gone."""
        group, kind, namespace, name = key(obj)
        resource = f"{kind.lower()}.{group}" if group else kind.lower()
        args = ["delete", resource, name, "--cascade=foreground", "--wait", "--timeout=90s"]
        if namespace:
            args += ["-n", namespace]
        self.kubectl(*args)
        with self._lock:
            self.report.deleted.append(f"{resource}/{name}")

    # --- the operator's view -------------------------------------------------------------
    def app(self, name: str) -> Obj | None:
        return self.find(
            {
                "apiVersion": f"{APP_GROUP}/v1beta2",
                "kind": "SparkApplication",
                "metadata": {"name": name, "namespace": self.namespace},
            }
        )

    def app_state(self, name: str) -> str | None:
        app = self.app(name)
        if app is None:
            return None
        state: str | None = app.get("status", {}).get("applicationState", {}).get("state")
        return state

    def wait_state(self, name: str, state: str, timeout: float = 120) -> Obj:
        def probe() -> Obj | None:
            app = self.app(name)
            if app and app.get("status", {}).get("applicationState", {}).get("state") == state:
                return app
            return None

        return poll(f"{name} to be {state}", timeout, probe)

    def driver(self, app: str) -> Obj | None:
        pods = self.items(
            "pods",
            "-n",
            self.namespace,
            "-l",
            f"sparkoperator.k8s.io/app-name={app},spark-role=driver",
        )
        live = [p for p in pods if "deletionTimestamp" not in p["metadata"]]
        return live[0] if live else None

    @contextmanager
    def watching(self, *args: str) -> Iterator[list[Obj]]:
        """Every version of the objects `kubectl get ARGS --watch` streams, as they come: unlike
        polling, it misses no state however short (a failed driver the operator deletes within
        milliseconds)."""
        seen: list[Obj] = []
        process = subprocess.Popen(
            [
                self.env["kubectl"],
                "--kubeconfig",
                self.env["kubeconfig"],
                "get",
                *args,
                "--watch",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def read() -> None:
            assert process.stdout is not None
            decoder, buffer = json.JSONDecoder(), ""
            for line in process.stdout:
                buffer += line
                try:
                    obj, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    continue
                with self._lock:
                    seen.append(obj)
                buffer = buffer.lstrip()[end:]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield seen
        finally:
            process.terminate()
            process.wait(timeout=10)
            reader.join(timeout=5)

    # --- recording, in the background ----------------------------------------------------
    @contextmanager
    def recording(self) -> Iterator[None]:
        """Records every application state transition and every pod the API server admitted
        (polled four times a second) while the scenarios run."""
        stop = threading.Event()
        seen_states: dict[str, str] = {}
        seen_pods: set[str] = set()

        def loop() -> None:
            while not stop.is_set():
                try:
                    apps = self.items("sparkapplications", "-n", self.namespace)
                    pods = self.items("pods", "-n", self.namespace)
                except (TwinError, subprocess.TimeoutExpired):
                    stop.wait(0.25)
                    continue
                with self._lock:
                    for app in apps:
                        name = app["metadata"]["name"]
                        status = app.get("status", {})
                        state = status.get("applicationState", {}).get("state", "NEW")
                        if seen_states.get(name) != state:
                            self.report.transitions.append(
                                {
                                    "app": name,
                                    "from": seen_states.get(name),
                                    "to": state,
                                    "at_s": self.report.now(),
                                }
                            )
                            seen_states[name] = state
                    for pod in pods:
                        uid = pod["metadata"]["uid"]
                        if uid not in seen_pods:
                            seen_pods.add(uid)
                            self.report.pods_admitted.append(pod["metadata"]["name"])
                stop.wait(0.25)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)


def is_subset(expected: Any, actual: Any) -> bool:
    """True when everything in expected is in actual (dicts by key, lists item by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and is_subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(is_subset(e, a) for a in actual) for e in expected
        )
    return bool(expected == actual)
