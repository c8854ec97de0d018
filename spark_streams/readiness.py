"""A deploy ends when its streams run: the wait ``pulumi up`` does per stream it creates or changes.

pulumi-kubernetes counts a custom resource as ready once it is written, and a ``pulumi.com/waitFor``
on ``state=RUNNING`` passes on the previous run: the operator's status has no
``observedGeneration``, and until its event filter writes INVALIDATING the status is the old
run's. So the wait ties the status to a pod: it passes only when the operator reports RUNNING
(SUSPENDED for a paused stream) for a submission whose driver pod carries the spec hash the
program stamped (``spark_streams/sparkapp.py``, ``SPEC_HASH_LABEL``) and the submission's id
(the operator labels each driver with ``sparkoperator.k8s.io/submission-id``, v2.5
``submission.go``), and it stays so, with the same submission and execution attempt, for the
stack's ``readiness.minReadySeconds``. A crash-looping driver under ``restartPolicy: Always``
passes through RUNNING on every cycle: the window sees its next attempt.

It runs in the engine's Python dynamic provider (``pulumi-resource-pulumi-python``), as the
create or update of one ``StreamReady`` resource per stream (``components/ready.py``), whose
inputs change exactly when the stream's spec hash, expected state or readiness settings do.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ConfigDict

from spark_streams.metadata import SPEC_HASH_LABEL
from spark_streams.sparkapp import API_VERSION

SUBMISSION_LABEL = "sparkoperator.k8s.io/submission-id"
RUNNING, SUSPENDED = "RUNNING", "SUSPENDED"
# The operator's states that end a run of the spec (v1beta2 ApplicationStateType).
FAILED_STATES = frozenset({"FAILED", "FAILING", "SUBMISSION_FAILED"})
POLL_SECONDS = 1.0

Expect = Literal["RUNNING", "SUSPENDED"]


class Target(BaseModel):
    """One wait's inputs: the resource's properties (the kubeconfig aside)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    stream: str
    namespace: str
    name: str
    spec_hash: str
    expect: Expect
    min_ready_seconds: int
    timeout_seconds: int
    seconds_per_submission: int

    @classmethod
    def of(cls, props: dict[str, Any]) -> Target:
        return cls(
            stream=props["stream"],
            namespace=props["namespace"],
            name=props["name"],
            spec_hash=props["specHash"],
            expect=props["expect"],
            min_ready_seconds=int(props["minReadySeconds"]),
            timeout_seconds=int(props["timeoutSeconds"]),
            seconds_per_submission=int(props["secondsPerSubmission"]),
        )


# The properties whose change makes a deploy wait again (not the kubeconfig: a new way to
# reach the same cluster starts no run).
WAIT_INPUTS = (
    "stream",
    "namespace",
    "name",
    "specHash",
    "expect",
    "minReadySeconds",
    "timeoutSeconds",
    "secondsPerSubmission",
)


@dataclass(frozen=True)
class Observation:
    """The application's status and its driver pod's labels, read one after the other."""

    state: str
    error: str
    submission_id: str
    attempts: int
    pod_labels: dict[str, str] | None  # None: no driver pod

    def runs(self, spec_hash: str) -> bool:
        """The status's submission is a run of ``spec_hash``: its driver pod says so."""
        labels = self.pod_labels or {}
        return (
            bool(self.submission_id)
            and labels.get(SPEC_HASH_LABEL) == spec_hash
            and labels.get(SUBMISSION_LABEL) == self.submission_id
        )


class NotReadyError(Exception):
    """The stream did not get to the state the deploy expects: the engine's error for it."""


def _failure(target: Target, seen: Observation | None, why: str, reason: str = "") -> NotReadyError:
    """``reason``: the operator's last error message for this spec's run, when ``seen`` has
    none (it clears it as it reruns the application)."""
    state = (seen.state or "NEW") if seen else "unknown (the application could not be read)"
    reason = (seen.error if seen and seen.error else reason) or "none given"
    return NotReadyError(
        f"stream {target.stream}: {why}; state {state}, operator's reason: {reason} "
        f"(SparkApplication {target.namespace}/{target.name})"
    )


def wait(
    target: Target,
    observe: Callable[[], Observation | None],
    submissions: Callable[[], int],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Observation:
    """Return once ``target`` is in its expected state for its window; raise
    :class:`NotReadyError` as soon as it cannot get there, or at the timeout.

    ``observe`` reads the cluster (``None`` when it could not: retried until the timeout);
    ``submissions`` is how many applications this deploy has made the operator submit so far,
    each of which extends the timeout.
    """
    start = clock()
    initial: str | None = None
    since: float | None = None
    key: tuple[str, int] | None = None
    seen: Observation | None = None
    reason = ""
    while True:
        observation = observe()
        if observation is not None:
            seen = observation
            if initial is None:
                initial = observation.submission_id
            # This spec's run: its driver says so, or a submission made since the wait began,
            # or anything after it was seen ready (the spec does not change during a wait).
            ours = (
                since is not None
                or observation.runs(target.spec_hash)
                or observation.submission_id not in (initial, "")
            )
            reason = observation.error if ours and observation.error else reason
            if target.expect == SUSPENDED:
                ready = observation.state == SUSPENDED and observation.pod_labels is None
            else:
                ready = observation.state == RUNNING and observation.runs(target.spec_hash)
            current = (observation.submission_id, observation.attempts)
            window = f"{target.min_ready_seconds}s"
            if since is not None and current != key:
                why = f"a new execution attempt within {window} of {target.expect}"
                raise _failure(target, observation, why, reason)
            if since is not None and not ready:
                why = f"left {target.expect} within {window}"
                raise _failure(target, observation, why, reason)
            if since is None and ready:
                since, key = clock(), current
            if since is None and ours and observation.state in FAILED_STATES:
                raise _failure(target, observation, "the operator's run of this spec failed")
            if since is not None and clock() - since >= target.min_ready_seconds:
                return observation
        budget = target.timeout_seconds + target.seconds_per_submission * submissions()
        if clock() - start >= budget:
            why = f"not {target.expect} for {target.min_ready_seconds}s within {budget}s"
            raise _failure(target, seen, why, reason)
        sleep(POLL_SECONDS)


class ApiServer:
    """The few reads the wait needs, with the program's own kubeconfig (the Kubernetes provider's):
    its one cluster, its CA, and a token from its exec credential plugin (``aws eks get-token``)
    or a static token."""

    def __init__(self, kubeconfig: str) -> None:
        config = json.loads(kubeconfig)
        context = _named(config["contexts"], config["current-context"])["context"]
        cluster = _named(config["clusters"], context["cluster"])["cluster"]
        self._user = _named(config["users"], context["user"])["user"]
        self._server = cluster["server"].rstrip("/")
        self._tls = ssl.create_default_context()
        if "certificate-authority-data" in cluster:
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
            self._tls = ssl.create_default_context(cadata=ca)
        self._token: tuple[str, float] | None = None

    def _bearer(self) -> str:
        if "token" in self._user:
            return str(self._user["token"])
        if self._token and self._token[1] > time.time() + 60:
            return self._token[0]
        command = self._user["exec"]
        env = {e["name"]: e["value"] for e in command.get("env") or []}
        done = subprocess.run(
            [command["command"], *command.get("args", [])],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        status = json.loads(done.stdout)["status"]
        expires = status.get("expirationTimestamp")
        until = _epoch(expires) if expires else time.time() + 300
        self._token = (status["token"], until)
        return self._token[0]

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or ``None`` if there is none."""
        request = urllib.request.Request(
            self._server + path, headers={"Authorization": f"Bearer {self._bearer()}"}
        )
        try:
            with urllib.request.urlopen(request, context=self._tls, timeout=10) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def observe(self, namespace: str, name: str) -> Observation | None:
        """The application's status and its driver's labels; ``None`` if either read failed."""
        try:
            application = self.get(
                f"/apis/{API_VERSION}/namespaces/{namespace}/sparkapplications/{name}"
            )
            status = (application or {}).get("status") or {}
            pod_name = (status.get("driverInfo") or {}).get("podName")
            pod = self.get(f"/api/v1/namespaces/{namespace}/pods/{pod_name}") if pod_name else None
        except (OSError, subprocess.CalledProcessError, ValueError):
            return None
        state = status.get("applicationState") or {}
        return Observation(
            state=state.get("state", ""),
            error=state.get("errorMessage", ""),
            submission_id=status.get("submissionID", ""),
            attempts=int(status.get("executionAttempts", 0)),
            pod_labels=(pod["metadata"].get("labels") or {}) if pod else None,
        )


def _named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item["name"] == name)


def _epoch(timestamp: str) -> float:
    return time.mktime(time.strptime(timestamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z"))


class ReadinessProvider(ResourceProvider):
    """The dynamic provider of ``StreamReady``: create and update wait, delete does nothing.

    One instance serves every stream of a deploy in the engine's provider process (the SDK caches
    it by its serialized form): it counts the applications the deploy has made the operator
    submit, which lengthens every wait's timeout.
    """

    def configure(self, req: ConfigureRequest) -> None:
        self._lock = threading.Lock()
        self._submitted = 0

    def _submissions(self) -> int:
        with self._lock:
            return self._submitted

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        target = Target.of(props)
        if target.expect == RUNNING:
            with self._lock:
                self._submitted += 1
        server = ApiServer(props["kubeconfig"])
        seen = wait(
            target, lambda: server.observe(target.namespace, target.name), self._submissions
        )
        return {**props, "submissionId": seen.submission_id}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['namespace']}/{props['name']}", self._wait(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._wait(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in WAIT_INPUTS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)
