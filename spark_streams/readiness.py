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
passes through RUNNING on every cycle: the window sees its next attempt. A driver the kubelet
cannot start (its image cannot be pulled, its secret is missing) keeps the operator in
SUBMITTED without end: the wait fails it once that has lasted the same window.

A failure names the operator's reason and what the driver pod says. The operator (v2.5.2,
``internal/controller/sparkapplication/controller.go``) writes its reason only with FAILING
(``updateDriverState``: "driver container failed with ExitCode: N, Reason: R") or
SUBMISSION_FAILED, and clears it with the driver pod's name as it moves on
(``resetSparkApplicationStatus``): when the retry is already due, within the same reconcile
pass. So each read also asks the API server for every version of the application written since
the last read (a watch from that version), and the pod is read in the same poll.

It runs in the engine's Python dynamic provider (``pulumi-resource-pulumi-python``), as the
create or update of one ``StreamReady`` resource per stream (``components/ready.py``), whose
inputs change exactly when the stream's spec hash, expected state or readiness settings do.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
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
from spark_streams.sdk import provider_errors_as_messages
from spark_streams.sparkapp import API_VERSION

SUBMISSION_LABEL = "sparkoperator.k8s.io/submission-id"
RUNNING, SUSPENDED = "RUNNING", "SUSPENDED"
# The operator's states that end a run of the spec (v1beta2 ApplicationStateType).
FAILED_STATES = frozenset({"FAILED", "FAILING"})
# A failed spark-submit: the operator retries it while the restart policy allows (under Always
# without end; v2.5.2 util.ShouldRetry), else writes FAILED. Spark-submit can fail once for a
# passing reason (its connection to the API server timed out): the wait fails on this spec's
# second failed submission, so one retry of the operator's is waited for.
SUBMISSION_FAILED = "SUBMISSION_FAILED"
POLL_SECONDS = 1.0
# A line that says what was thrown, in a JVM's output (not its "at ..." frames).
_THROWN = re.compile(r"(Exception in thread |Caused by: |[\w.$]+(Exception|Error)(: |$))")
DRIVER_CONTAINER = "spark-kubernetes-driver"
# The kubelet's reasons for a container it cannot start (kubelet images/types.go, kuberuntime).
# A malformed image reference never parses, whatever is retried: it fails the wait at once.
# Pull errors may be a registry's passing trouble (the kubelet retries, 10 s doubling to 5 min),
# a missing secret may still be created, but a wrong tag or digest never heals: they fail it
# once they have lasted the stability window, as a RUNNING that does not last fails it.
NEVER_STARTS = frozenset({"InvalidImageName"})
CANNOT_START = NEVER_STARTS | {
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
}

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
class Driver:
    """What the driver pod says about itself, beside its labels."""

    # The reason a container of it does not run (its init container's first), "" if none.
    waiting: str = ""
    # That, or how a container ended, or why it is not scheduled: for a failure's message.
    says: str = ""


@dataclass(frozen=True)
class Observation:
    """The application's status and its driver pod's labels, read one after the other."""

    state: str
    error: str
    submission_id: str
    attempts: int
    pod_labels: dict[str, str] | None  # None: no driver pod
    driver: Driver = Driver()
    # (submission id, errorMessage) of each version the operator wrote since the previous read,
    # oldest first: a FAILING between two reads leaves its reason here.
    earlier_errors: tuple[tuple[str, str], ...] = ()
    version: str = ""  # the application's resource version read

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


def _failure(
    target: Target, seen: Observation | None, why: str, reason: str = "", says: str = ""
) -> NotReadyError:
    """``reason``: the operator's last error message for this spec's run, when ``seen`` has
    none (it clears it as it reruns the application); ``says``: its driver pod's last word."""
    state = (seen.state or "NEW") if seen else "unknown (the application could not be read)"
    reason = condensed(seen.error if seen and seen.error else reason) or "none given"
    driver = f"; driver pod: {says}" if says else ""
    return NotReadyError(
        f"stream {target.stream}: {why}; state {state}, operator's reason: {reason}{driver} "
        f"(SparkApplication {target.namespace}/{target.name})"
    )


def condensed(text: str) -> str:
    """A message on one line. A multi-line one (the operator's reason for a failed submission is
    spark-submit's whole output, hundreds of lines; a driver's termination message may be a
    stack trace) keeps its first line and the last exceptions it names."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) <= 1:
        return " ".join(lines)
    thrown = [line for line in lines[1:] if _THROWN.match(line)][-2:]
    return " ... ".join([lines[0], *thrown]) + f" ({len(lines)} lines)"


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
    reason = says = ""
    # (submission, first seen) of this spec's driver waiting in one of CANNOT_START.
    stuck: tuple[str, float] | None = None
    # This spec's submissions seen failed (each retry is a new submission id).
    failed_submissions: set[str] = set()
    window = f"{target.min_ready_seconds}s"
    while True:
        observation = observe()
        if observation is not None:
            seen = observation
            if initial is None:
                initial = observation.submission_id
            runs = observation.runs(target.spec_hash)
            # This spec's run: its driver says so, or a submission made since the wait began,
            # or anything after it was seen ready (the spec does not change during a wait).
            ours = {
                submission
                for submission, _ in observation.earlier_errors
                if since is not None or submission not in (initial, "")
            }
            if since is not None or runs or observation.submission_id not in (initial, ""):
                ours.add(observation.submission_id)
            for submission, error in (
                *observation.earlier_errors,
                (observation.submission_id, observation.error),
            ):
                reason = error if error and submission in ours else reason
            says = observation.driver.says if runs and observation.driver.says else says
            if target.expect == SUSPENDED:
                ready = observation.state == SUSPENDED and observation.pod_labels is None
            else:
                ready = observation.state == RUNNING and runs
            current = (observation.submission_id, observation.attempts)
            if since is not None and current != key:
                why = f"a new execution attempt within {window} of {target.expect}"
                raise _failure(target, observation, why, reason, says)
            if since is not None and not ready:
                why = f"left {target.expect} within {window}"
                raise _failure(target, observation, why, reason, says)
            if since is None and ready:
                since, key = clock(), current
            if since is None and observation.submission_id in ours:
                if observation.state in FAILED_STATES:
                    why = "the operator's run of this spec failed"
                    raise _failure(target, observation, why, reason, says)
                if observation.state == SUBMISSION_FAILED:
                    failed_submissions.add(observation.submission_id)
                    if len(failed_submissions) > 1:
                        why = f"{len(failed_submissions)} submissions of this spec failed"
                        raise _failure(target, observation, why, reason, says)
                waiting = observation.driver.waiting if runs else ""
                if waiting not in CANNOT_START:
                    stuck = None
                elif stuck is None or stuck[0] != observation.submission_id:
                    stuck = (observation.submission_id, clock())
                if waiting in NEVER_STARTS:
                    why = f"its driver cannot start ({waiting})"
                    raise _failure(target, observation, why, reason, says)
                if stuck and clock() - stuck[1] >= target.min_ready_seconds:
                    why = f"its driver cannot start ({waiting} for {window})"
                    raise _failure(target, observation, why, reason, says)
            if since is not None and clock() - since >= target.min_ready_seconds:
                return observation
        budget = target.timeout_seconds + target.seconds_per_submission * submissions()
        if clock() - start >= budget:
            why = f"not {target.expect} for {window} within {budget}s"
            raise _failure(target, seen, why, reason, says)
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

    def _open(self, path: str, timeout: float) -> Any:
        request = urllib.request.Request(
            self._server + path, headers={"Authorization": f"Bearer {self._bearer()}"}
        )
        return urllib.request.urlopen(request, context=self._tls, timeout=timeout)

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or ``None`` if there is none."""
        try:
            with self._open(path, timeout=10) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def versions(
        self, collection: str, name: str, after: str, until: str
    ) -> Iterator[dict[str, Any]]:
        """The versions of object ``name`` written after resource version ``after``, up to
        ``until`` (a watch from ``after``; nothing if the server no longer has that version)."""
        query = urllib.parse.urlencode(
            {
                "watch": "true",
                "fieldSelector": f"metadata.name={name}",
                "resourceVersion": after,
                "timeoutSeconds": "5",
            }
        )
        with self._open(f"{collection}?{query}", timeout=10) as response:
            for line in response:
                event = json.loads(line)
                if event.get("type") not in ("ADDED", "MODIFIED"):
                    return  # ERROR: that version is too old, or the object went
                yield event["object"]
                if event["object"]["metadata"].get("resourceVersion") == until:
                    return

    def observe(self, namespace: str, name: str, after: str = "") -> Observation | None:
        """The application's status and its driver pod; ``None`` if either read failed.

        ``after``: the resource version of the previous read, whose successors' error messages
        the observation carries (``earlier_errors``)."""
        collection = f"/apis/{API_VERSION}/namespaces/{namespace}/sparkapplications"
        try:
            application = self.get(f"{collection}/{name}") or {}
            status = application.get("status") or {}
            version = (application.get("metadata") or {}).get("resourceVersion", "")
            earlier = self._earlier_errors(collection, name, after, version)
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
            driver=driver_of(pod) if pod else Driver(),
            earlier_errors=tuple(earlier),
            version=version,
        )

    def _earlier_errors(
        self, collection: str, name: str, after: str, version: str
    ) -> list[tuple[str, str]]:
        """(submission id, errorMessage) of the versions between ``after`` and ``version``;
        none if they cannot be had (the watch refused, or that version too old to replay)."""
        earlier: list[tuple[str, str]] = []
        if not after or not version or after == version:
            return earlier
        try:
            for older in self.versions(collection, name, after, version):
                status = older.get("status") or {}
                error = (status.get("applicationState") or {}).get("errorMessage", "")
                if error and older["metadata"].get("resourceVersion") != version:
                    earlier.append((status.get("submissionID", ""), error))
        except (OSError, subprocess.CalledProcessError, ValueError, KeyError):
            pass
        return earlier


def driver_of(pod: dict[str, Any]) -> Driver:
    """What a driver pod says: why a container waits or how it ended (init containers first,
    then the driver's), else why it is not scheduled."""
    status = pod.get("status") or {}
    containers = sorted(
        status.get("containerStatuses") or [], key=lambda c: c.get("name") != DRIVER_CONTAINER
    )
    for container in [*(status.get("initContainerStatuses") or []), *containers]:
        state = container.get("state") or {}
        if waiting := state.get("waiting"):
            why = waiting.get("reason", "")
            if why and why not in ("ContainerCreating", "PodInitializing"):
                return Driver(why, _said(container, why, waiting.get("message", "")))
        ended = state.get("terminated") or {}
        if ended.get("exitCode", 0) != 0:
            why = f"{ended.get('reason') or 'terminated'}, exit code {ended['exitCode']}"
            return Driver("", _said(container, why, ended.get("message", "")))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return Driver("", f"{condition.get('reason', '')}: {condition.get('message', '')}")
    if status.get("reason"):
        return Driver("", f"{status['reason']}: {status.get('message', '')}")
    return Driver()


def _said(container: dict[str, Any], why: str, message: str) -> str:
    text = f"container {container.get('name', '?')}: {why}"
    return f"{text}: {condensed(message)}" if message.strip() else text


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
        # A stream that did not get there is the user's news, not a bug: no traceback.
        provider_errors_as_messages(NotReadyError)

    def _submissions(self) -> int:
        with self._lock:
            return self._submitted

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        target = Target.of(props)
        if target.expect == RUNNING:
            with self._lock:
                self._submitted += 1
        server = ApiServer(props["kubeconfig"])
        after = ""  # the resource version of the last read that succeeded

        def observe() -> Observation | None:
            nonlocal after
            observation = server.observe(target.namespace, target.name, after)
            if observation is not None:
                after = observation.version
            return observation

        seen = wait(target, observe, self._submissions)
        return {**props, "submissionId": seen.submission_id}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['namespace']}/{props['name']}", self._wait(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._wait(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in WAIT_INPUTS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)
