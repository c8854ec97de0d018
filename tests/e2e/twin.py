"""Talking to the twin (through its own kubectl and .twin/kubeconfig only) and recording what
the scenarios proved.

The twin is started by `make e2e` / `make twin-up`; these helpers never start anything.
"""

from __future__ import annotations

import json
import shutil
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

PROJECT = Path(__file__).resolve().parents[2]
STATE = PROJECT / ".twin"
# pulumi-kubernetes applies every object with one field manager; so do the scenarios.
FIELD_MANAGER = "pulumi-kubernetes"
APP_GROUP = "sparkoperator.k8s.io"

T = TypeVar("T")
Obj = dict[str, Any]


class TwinError(AssertionError):
    pass


def poll(what: str, timeout: float, probe: Callable[[], T | None], every: float = 0.25) -> T:
    """Calls probe until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TwinError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def key(obj: Obj) -> tuple[str, str, str, str]:
    group = obj["apiVersion"].rpartition("/")[0]
    meta = obj["metadata"]
    return (group, obj["kind"], meta.get("namespace", ""), meta["name"])


def render(stack: str, streams_dir: Path | None = None) -> list[Obj]:
    """Exactly what `spark-streams render --stack STACK` prints, as objects."""
    args = ["render", "--stack", stack]
    if streams_dir is not None:
        args += ["--streams-dir", str(streams_dir)]
    out = subprocess.run(
        [sys.executable, "-m", "spark_streams.cli", *args],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@contextmanager
def edited_streams(*edits: Callable[[Path], None]) -> Iterator[Path]:
    """A copy of streams/ changed by edits, in order, as users' commits would change it."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "streams"
        shutil.copytree(PROJECT / "streams", copy, ignore=shutil.ignore_patterns("__pycache__"))
        for edit in edits:
            edit(copy)
        yield copy


@dataclass
class Report:
    """What a run proved, printed at its end and written as JSON."""

    stack: str
    versions: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    applied: list[str] = field(default_factory=list)
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

    # --- what Pulumi would do ------------------------------------------------------------
    def apply(self, objects: list[Obj]) -> None:
        """Server-side apply with pulumi-kubernetes' single field manager."""
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

    def deploy(self, old: list[Obj], new: list[Obj]) -> None:
        """Moves the twin from the objects of one render to those of another, in Pulumi's
        order: creates and updates first, except that a SparkApplication replaced under a new
        name (a rename, delete_before_replace) is deleted before its replacement is created;
        deletions of what is gone last."""
        old_by_key = {key(o): o for o in old}
        new_keys = {key(o) for o in new}
        identity = "spark-streams/identity"

        def ident(o: Obj) -> str | None:
            labels: dict[str, str] = o["metadata"].get("labels", {})
            return labels.get(identity) if o["kind"] == "SparkApplication" else None

        replaced_old = {
            k: o for k, o in old_by_key.items() if k not in new_keys and ident(o) is not None
        }
        replaced_idents = {ident(o) for o in replaced_old.values()}
        replacements = [o for o in new if key(o) not in old_by_key and ident(o) in replaced_idents]
        self.apply([o for o in new if o not in replacements])
        for o in replaced_old.values():
            if ident(o) in {ident(r) for r in replacements}:
                self.delete(o)
        self.apply(replacements)
        gone = [o for k, o in old_by_key.items() if k not in new_keys]
        # Applications before the accounts and bindings their drivers run as.
        gone.sort(key=lambda o: o["kind"] != "SparkApplication")
        for o in gone:
            if self.find(o) is not None:
                self.delete(o)

    # --- the operator's view -------------------------------------------------------------
    def app(self, name: str) -> Obj | None:
        return self.find(
            {
                "apiVersion": f"{APP_GROUP}/v1beta2",
                "kind": "SparkApplication",
                "metadata": {"name": name, "namespace": self.namespace},
            }
        )

    def state(self, name: str) -> str | None:
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
