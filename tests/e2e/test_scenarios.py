"""The stack deployed on the twin by the real CLI, and what Pulumi and the operator then do.

The scenarios share one twin and run in file order: each starts from the state the one before
left (`current` holds what is now deployed), the way a stack lives through its commits; each
commit is a `pulumi up` of the program with the stream files edited.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from components import STREAM_READY
from spark_streams.metadata import SPEC_HASH_LABEL
from tests.e2e.ci_jobs import run_job
from tests.e2e.conftest import apps
from tests.e2e.twin import (
    PROJECT,
    PULUMI_MANAGER,
    Obj,
    Twin,
    TwinError,
    edited_streams,
    is_subset,
    key,
    plan,
    render,
)
from twin.processes import poll

DRIVER_CONTAINER = "spark-kubernetes-driver"
RUNNING = "RUNNING"
# Label that the twin's failure stage (twin/stages/driver-failure.yaml) acts on.
FAIL_LABEL = "twin.spark-streams/fail"
# The image whose pull the twin fails (the same file's twin-pod-image-missing): pinned by a
# digest no registry has, as a stream whose image was never pushed is.
MISSING_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/spark-streams@sha256:" + "0" * 64


Edit = Callable[[Path], None]


@dataclass
class Deployed:
    """What the program registers for Kubernetes now (its render), and the stream-file edits
    (commits) that led to it."""

    objects: list[Obj]
    edits: list[Edit] = field(default_factory=list)


@pytest.fixture(scope="module")
def current(deployed: list[Obj]) -> Deployed:
    return Deployed(deployed)


def deploy(twin: Twin, *edits: Edit) -> list[Obj]:
    """`pulumi up` of the streams these edits make; what the program now registers."""
    streams = edited_streams(*edits)
    twin.up(streams, "--skip-preview")
    return render(twin.stack, streams)


def names(objects: list[Obj]) -> list[str]:
    return [a["metadata"]["name"] for a in apps(objects) if not a["spec"].get("suspend")]


def edit(path_name: str, old: str, new: str) -> Edit:
    def change(streams: Path) -> None:
        path = streams / path_name
        text = path.read_text()
        assert old in text, f"{old!r} not in {path_name}"
        path.write_text(text.replace(old, new, 1))

    return change


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_pulumi_up_creates_exactly_what_the_program_plans(twin: Twin, deployed: list[Obj]) -> None:
    state = {(r["urn"], r["type"]) for r in twin.state()}
    planned = {(r.urn, r.type) for r in plan(twin.stack).resources}
    assert state == planned, {"only deployed": state - planned, "only planned": planned - state}
    for obj in deployed:
        found = twin.find(obj)
        assert found is not None, f"{key(obj)} not created"
        managers = {m["manager"] for m in found["metadata"].get("managedFields", [])}
        assert any(PULUMI_MANAGER.match(m) for m in managers), (key(obj), managers)
    twin.report.prove("pulumi up as planned", resources=len(state), objects=len(deployed))


def waits(twin: Twin) -> dict[str, Obj]:
    """Each stream's wait (StreamReady) as the engine holds it, by stream name."""
    return {r["outputs"]["stream"]: r["outputs"] for r in twin.state() if r["type"] == STREAM_READY}


def test_pulumi_up_returned_only_once_every_stream_ran_the_deployed_spec(
    twin: Twin, deployed: list[Obj]
) -> None:
    # No waiting here: `pulumi up` (the `deployed` fixture) has returned, so each stream must
    # already run the submission its wait saw, on a driver with the spec's hash.
    ready = waits(twin)
    assert set(ready) == {a["metadata"]["name"] for a in apps(deployed)}
    assert names(deployed) == [a["metadata"]["name"] for a in apps(deployed)]  # none paused
    for app in apps(deployed):
        name = app["metadata"]["name"]
        live = twin.app(name)
        assert live is not None
        assert live["status"]["applicationState"]["state"] == RUNNING, name
        assert live["status"]["submissionID"] == ready[name]["submissionId"], name
        driver = twin.driver(name)
        assert driver is not None
        assert driver["metadata"]["labels"][SPEC_HASH_LABEL] == ready[name]["specHash"], name
        assert ready[name]["specHash"] == app["spec"]["driver"]["labels"][SPEC_HASH_LABEL]
    twin.report.prove("pulumi up returns once every stream is RUNNING", apps=sorted(ready))


def test_a_refreshed_preview_then_finds_no_drift(twin: Twin, deployed: list[Obj]) -> None:
    # After the operator's status writes and the webhook's work: nothing to change.
    twin.pulumi("preview", "--refresh", "--expect-no-changes", "--suppress-progress")
    twin.report.prove("no drift after the deploy", resources=len(twin.state()))


def test_driver_pods_are_admitted_under_restricted_as_the_application_asks(
    twin: Twin, deployed: list[Obj]
) -> None:
    namespace = twin.get("namespace", twin.namespace)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # The API server itself says whether every pod in the namespace meets `restricted`.
    check = twin.kubectl(
        "label",
        "--dry-run=server",
        "--overwrite",
        "namespace",
        twin.namespace,
        "pod-security.kubernetes.io/enforce=restricted",
    )
    assert "violate" not in check.stderr, check.stderr
    kwok_nodes = {n["metadata"]["name"] for n in twin.items("nodes", "-l", "type=kwok")}
    for planned in apps(deployed):
        if planned["spec"].get("suspend"):
            continue
        # As the engine created it: the offline render has no AWS account (role ARNs).
        app = twin.app(planned["metadata"]["name"])
        assert app is not None
        spec, driver_spec = app["spec"], app["spec"]["driver"]
        pod = poll("driver pod", 30, partial(twin.driver, app["metadata"]["name"]))
        podspec = pod["spec"]
        (container,) = [c for c in podspec["containers"] if c["name"] == DRIVER_CONTAINER]
        mounted = {m["name"] for m in driver_spec.get("volumeMounts", [])}
        expectations: dict[str, tuple[Any, Any]] = {
            "service account": (driver_spec["serviceAccount"], podspec["serviceAccountName"]),
            "pod security context": (driver_spec["podSecurityContext"], podspec["securityContext"]),
            "container security context": (
                driver_spec["securityContext"],
                container["securityContext"],
            ),
            "env from the stream's secret": (driver_spec.get("env", []), container.get("env", [])),
            "volumes": (
                [v for v in spec.get("volumes", []) if v["name"] in mounted],
                podspec.get("volumes", []),
            ),
            "volume mounts": (driver_spec.get("volumeMounts", []), container["volumeMounts"]),
            "init containers": (
                driver_spec.get("initContainers", []),
                podspec.get("initContainers", []),
            ),
            "node selector": (
                {**spec.get("nodeSelector", {}), **driver_spec.get("nodeSelector", {})},
                podspec.get("nodeSelector", {}),
            ),
            "tolerations": (driver_spec.get("tolerations", []), podspec.get("tolerations", [])),
            "labels": (driver_spec.get("labels", {}), pod["metadata"]["labels"]),
            "termination grace period": (
                driver_spec["terminationGracePeriodSeconds"],
                podspec["terminationGracePeriodSeconds"],
            ),
        }
        wrong = [what for what, (want, got) in expectations.items() if not is_subset(want, got)]
        assert not wrong, f"driver of {app['metadata']['name']} lacks: {wrong}"
        assert podspec["nodeName"] in kwok_nodes
        twin.report.prove(
            "driver pod as the application asks",
            app=app["metadata"]["name"],
            pod=pod["metadata"]["name"],
            node=podspec["nodeName"],
            checked=sorted(expectations),
        )


def can_i(twin: Twin, account: str, verb: str, resource: str) -> bool:
    result = twin.kubectl(
        "auth",
        "can-i",
        verb,
        resource,
        "-n",
        twin.namespace,
        "--as",
        f"system:serviceaccount:{twin.namespace}:{account}",
        check=False,
    )
    return result.stdout.strip() == "yes"


def test_only_the_streams_driver_accounts_may_manage_pods(twin: Twin, deployed: list[Obj]) -> None:
    verbs = ("create", "list", "delete")
    resources = ("pods", "services", "configmaps")
    drivers = sorted({a["spec"]["driver"]["serviceAccount"] for a in apps(deployed)})
    executors = sorted({a["spec"]["executor"]["serviceAccount"] for a in apps(deployed)})
    others = ["default", "spark-history-server", *executors]
    answers = {
        account: {f"{v} {r}": can_i(twin, account, v, r) for v in verbs for r in resources}
        for account in drivers + others
    }
    for account in drivers:
        assert all(answers[account].values()), (account, answers[account])
    for account in others:
        assert not any(answers[account].values()), (account, answers[account])
    twin.report.prove("can-i", answers=answers)


def test_a_pod_that_breaks_restricted_is_rejected(twin: Twin) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "breaks-restricted", "namespace": twin.namespace},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "securityContext": {"privileged": True, "runAsUser": 0},
                }
            ]
        },
    }
    result = twin.kubectl("create", "-f", "-", stdin=json.dumps(pod), check=False)
    assert result.returncode != 0
    assert "violates PodSecurity" in result.stderr, result.stderr
    assert twin.find(pod) is None
    twin.report.pods_rejected.append(
        {"pod": "breaks-restricted", "reason": result.stderr.strip().splitlines()[-1]}
    )
    twin.report.prove("restricted enforced", rejected="breaks-restricted")


def test_suspend_stops_the_driver_and_keeps_the_rest_then_resume_runs_again(
    twin: Twin, current: Deployed
) -> None:
    name = "clickstream-ingest"
    started = time.monotonic()
    suspended = deploy(
        twin,
        *current.edits,
        edit("clickstream.py", f'name="{name}",', f'name="{name}",\n    suspend=True,'),
    )
    twin.wait_state(name, "SUSPENDED")
    poll("driver gone", 30, lambda: twin.driver(name) is None)
    (app,) = [a for a in apps(suspended) if a["metadata"]["name"] == name]
    driver = app["spec"]["driver"]["serviceAccount"]
    executor = app["spec"]["executor"]["serviceAccount"]
    assert twin.get("serviceaccount", driver, "-n", twin.namespace)
    assert twin.get("serviceaccount", executor, "-n", twin.namespace)
    assert twin.get("role", "spark-driver", "-n", twin.namespace)
    binding = twin.get("rolebinding", "spark-driver", "-n", twin.namespace)
    assert driver in {s["name"] for s in binding["subjects"]}
    suspended_after = time.monotonic() - started
    deploy(twin, *current.edits)
    twin.wait_state(name, RUNNING)
    twin.report.prove(
        "suspend and resume",
        app=name,
        suspended_after_s=round(suspended_after, 1),
        running_again_after_s=round(time.monotonic() - started - suspended_after, 1),
    )


def test_a_spec_change_resubmits_the_application(twin: Twin, current: Deployed) -> None:
    name = "orders-ingest"
    before = twin.driver(name)
    assert before is not None
    change = edit("orders.py", '"1 minute"', '"2 minutes"')
    current.edits.append(change)
    started = time.monotonic()
    current.objects = deploy(twin, *current.edits)

    def resubmitted() -> Obj | None:
        pod = twin.driver(name)
        if pod and pod["metadata"]["uid"] != before["metadata"]["uid"]:
            return pod
        return None

    after = poll("a new driver", 120, resubmitted)
    twin.wait_state(name, RUNNING)
    container = next(c for c in after["spec"]["containers"] if c["name"] == DRIVER_CONTAINER)
    assert "2 minutes" in container.get("args", [])
    twin.report.prove(
        "spec change resubmits", app=name, seconds=round(time.monotonic() - started, 1)
    )


def test_a_failing_driver_is_resubmitted_after_the_retry_interval(
    twin: Twin, current: Deployed
) -> None:
    # A copy of a stream's application (own name and checkpoint) whose driver crashes: its own
    # object, so the stream itself is not changed while the operator resubmits (see
    # docs/twin.md: a spec change during a submission leaves 2.5.2 stuck in PENDING_RERUN).
    (stream,) = [a for a in apps(current.objects) if a["metadata"]["name"] == "clickstream-ingest"]
    app = copy.deepcopy(stream)
    name = app["metadata"]["name"] = "crashing-driver"
    app["metadata"]["labels"].pop("spark-streams/identity")
    app["spec"]["driver"]["labels"][FAIL_LABEL] = "true"
    conf = app["spec"]["sparkConf"]
    for setting in ("spark.sql.streaming.checkpointLocation", "spark.streams.checkpointLocation"):
        conf[setting] = conf[setting].rstrip("/") + "-crashing/"
    interval = app["spec"]["restartPolicy"]["onFailureRetryInterval"]
    assert app["spec"]["restartPolicy"]["type"] == "Always"
    selector = f"sparkoperator.k8s.io/app-name={name},spark-role=driver"
    with (
        twin.watching("pods", "-n", twin.namespace, "-l", selector) as pods,
        twin.watching(
            "sparkapplications", "-n", twin.namespace, "--field-selector", f"metadata.name={name}"
        ) as versions,
    ):
        twin.apply([app])

        def failing() -> Obj | None:
            # The status the operator wrote when the driver failed, before it resubmits.
            states = [v.get("status", {}) for v in list(versions)]
            return next(
                (s for s in states if s.get("applicationState", {}).get("state") == "FAILING"), None
            )

        status = poll("the crashing driver to fail", 180, failing)
        attempts = status["submissionAttempts"]
        last_attempt = timestamp(status["lastSubmissionAttemptTime"])

        def drivers() -> list[Obj]:
            unique = {p["metadata"]["uid"]: p for p in list(pods)}
            return sorted(unique.values(), key=lambda p: p["metadata"]["creationTimestamp"])

        assert any(p["status"].get("phase") == "Failed" for p in list(pods))
        second = poll(
            "a resubmitted driver",
            120 + interval * attempts,
            lambda: drivers()[1] if len(drivers()) > 1 else None,
        )
    waited = timestamp(second["metadata"]["creationTimestamp"]) - last_attempt
    # The operator waits interval x submissions so far, counted from the last submission
    # (timestamps have whole seconds).
    assert waited >= interval * attempts - 1, (waited, interval, attempts)
    twin.delete(app)
    twin.report.prove(
        "failing driver resubmitted under Always",
        app=name,
        retry_interval_s=interval,
        submissions_before=attempts,
        resubmitted_after_s=waited,
    )


def test_a_rename_never_runs_two_drivers_of_one_checkpoint(twin: Twin, current: Deployed) -> None:
    old, new = "orders-ingest", "orders-raw"
    checkpoint_of = {
        a["metadata"]["name"]: a["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"]
        for a in apps(current.objects)
    }
    rename = edit("orders.py", f'name="{old}",', f'name="{new}",\n    renamed_from=("{old}",),')
    current.edits.append(rename)
    renamed = render(twin.stack, edited_streams(*current.edits))
    checkpoint_of.update(
        {
            a["metadata"]["name"]: a["spec"]["sparkConf"]["spark.sql.streaming.checkpointLocation"]
            for a in apps(renamed)
        }
    )
    assert checkpoint_of[old] == checkpoint_of[new]
    overlaps: list[list[str]] = []
    stop = threading.Event()

    def watch() -> None:
        # Every driver pod object counts, terminating or not, until the API server drops it.
        while not stop.is_set():
            try:
                pods = twin.items("pods", "-n", twin.namespace, "-l", "spark-role=driver")
            except TwinError:
                continue
            by_checkpoint: dict[str, list[str]] = {}
            for pod in pods:
                app = pod["metadata"]["labels"].get("sparkoperator.k8s.io/app-name", "")
                by_checkpoint.setdefault(checkpoint_of.get(app, app), []).append(
                    pod["metadata"]["name"]
                )
            overlaps.extend(p for p in by_checkpoint.values() if len(p) > 1)
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        current.objects = deploy(twin, *current.edits)
        twin.wait_state(new, RUNNING)
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert twin.app(old) is None
    assert not overlaps, f"two drivers of one checkpoint at once: {overlaps[:3]}"
    twin.report.prove(
        "rename, delete before replace",
        old=old,
        new=new,
        seconds=round(time.monotonic() - started, 1),
        overlaps=0,
    )


def test_a_change_that_breaks_a_running_driver_fails_that_stream_and_the_others_apply(
    twin: Twin, current: Deployed, tmp_path: Path
) -> None:
    broken, unpulled, other = "clickstream-ingest", "returns-ingest", "orders-raw"
    assert twin.app_state(broken) == RUNNING
    # The break: the stream's pods get the label the twin's failure stage acts on (its driver
    # exits 1 three seconds after it runs); the other stream gets an ordinary change. In the
    # same commit a new stream whose image digest was never pushed: its driver never starts.
    crash = edit(
        "clickstream.py",
        f'name="{broken}",',
        f'name="{broken}",\n    labels={{"{FAIL_LABEL}": "true"}},',
    )
    change = edit("orders.py", '"2 minutes"', '"3 minutes"')

    def add_unpulled(streams: Path) -> None:
        text = (streams / "orders.py").read_text()
        (streams / "returns.py").write_text(
            re.sub(r'name="[^"]*",\n(    renamed_from=.*\n)?', f'name="{unpulled}",\n', text)
            .replace("orders.v1", "returns.v1")
            .replace("    sink=", f'    image="{MISSING_IMAGE}",\n    sink=', 1)
        )

    # Deployed by CI's own deploy job (its script from .gitlab-ci.yml: `pulumi up
    # --continue-on-error --event-log`, then deploy_report on that real event log).
    twin.pulumi(
        "config",
        "set",
        "spark-streams:streamsDir",
        str(edited_streams(*current.edits, change, crash, add_unpulled)),
    )
    started = time.monotonic()
    status, output = run_job(twin, ".deploy", tmp_path)
    seconds = round(time.monotonic() - started, 1)
    assert status != 0, output[-3000:]
    # The user reads each stream's failure as one line of the CLI's diagnostics: no traceback.
    assert "Traceback" not in output, output[-3000:]
    # (The same line in the progress and in the diagnostics.)
    (failure,) = set(re.findall(rf"error: (stream {broken}: .*)", output))
    # The operator's reason, though its FAILING lasted less than a poll (the wait replays the
    # versions written between its reads).
    assert re.search(
        r"; state [A-Z_]+, operator's reason: driver container failed with ExitCode: 1", failure
    ), failure
    assert other not in failure
    (stuck,) = set(re.findall(rf"error: (stream {unpulled}: .*)", output))
    assert "its driver cannot start (ImagePullBackOff for " in stuck, stuck
    assert "state SUBMITTED, operator's reason: none given; driver pod: container " in stuck, stuck
    assert f'ImagePullBackOff: Back-off pulling image "{MISSING_IMAGE}"' in stuck, stuck
    report = (PROJECT / f"deploy-report-{twin.stack}.md").read_text()
    (PROJECT / f"deploy-report-{twin.stack}.md").unlink()
    assert f"2 stream(s) did not reach their state ({broken}, {unpulled})" in report, report
    assert f"| `{broken}` |" in report and f"| `{unpulled}` |" in report, report
    assert other not in report, report
    # Each row holds the stream's own line (it once held the top of a traceback).
    assert "operator's reason: driver container failed with ExitCode: 1" in report, report
    assert "its driver cannot start (ImagePullBackOff for " in report, report
    # The other stream's change went through, and its wait saw it run. (The new stream is
    # left out of the next commit: the removal scenario's deploy takes it away again.)
    current.edits.append(change)
    current.objects = render(twin.stack, edited_streams(*current.edits))
    driver = twin.driver(other)
    assert driver is not None
    container = next(c for c in driver["spec"]["containers"] if c["name"] == DRIVER_CONTAINER)
    assert "3 minutes" in container.get("args", [])
    assert twin.app_state(other) == RUNNING
    (app,) = [a for a in apps(current.objects) if a["metadata"]["name"] == other]
    assert waits(twin)[other]["specHash"] == app["spec"]["driver"]["labels"][SPEC_HASH_LABEL]
    assert driver["metadata"]["labels"][SPEC_HASH_LABEL] == waits(twin)[other]["specHash"]
    twin.report.prove(
        "a broken driver fails its own stream's deploy",
        failed=broken,
        message=failure,
        applied=other,
        seconds=seconds,
    )
    twin.report.prove("a driver that cannot pull its image fails early", message=stuck)


def test_removing_a_stream_deletes_its_application_and_pods_and_nothing_else(
    twin: Twin, current: Deployed
) -> None:
    name = "clickstream-ingest"

    def remove(streams: Path) -> None:
        (streams / "clickstream.py").unlink()

    remaining = render(twin.stack, edited_streams(*current.edits, remove))
    kept = {key(o): twin.find(o) for o in remaining}
    assert all(kept.values())
    others = {n: twin.driver(n) for n in names(remaining)}
    current.objects = deploy(twin, *current.edits, remove)
    assert {key(o) for o in current.objects} == set(kept)
    assert twin.app(name) is None
    poll(
        "its pods gone",
        60,
        lambda: (
            not twin.items(
                "pods", "-n", twin.namespace, "-l", f"sparkoperator.k8s.io/app-name={name}"
            )
        ),
    )
    for k, before in kept.items():
        assert before is not None
        obj = {
            "apiVersion": before["apiVersion"],
            "kind": before["kind"],
            "metadata": before["metadata"],
        }
        after = twin.find(obj)
        assert after is not None and after["metadata"]["uid"] == before["metadata"]["uid"], k
    for n, pod in others.items():
        still = twin.driver(n)
        assert pod and still and still["metadata"]["uid"] == pod["metadata"]["uid"], n
    twin.report.prove("removal", removed=name, untouched_objects=len(kept))
