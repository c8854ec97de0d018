"""The stack deployed on the twin by the real CLI, and what Pulumi and the operator then do.

The scenarios share one twin and run in file order: each starts from the state the one before
left (`current` holds what is now deployed), the way a stack lives through its commits; each
commit is a `pulumi up` of the program with the stream files edited.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from components import STREAM_READY
from spark_streams.deploy_report import stream_of
from spark_streams.diff import DiffResult
from spark_streams.metadata import FIELD_MANAGER, SPEC_HASH_LABEL
from tests.e2e.ci_jobs import (
    GitLab,
    note_streams,
    preview_steps,
    preview_streams,
    run_job,
    run_step,
)
from tests.e2e.conftest import apps
from tests.e2e.twin import (
    PROJECT,
    STATE,
    Obj,
    Twin,
    TwinError,
    edited_streams,
    is_subset,
    key,
    plan,
    render,
)
from tests.fake_gitlab import TOKEN, FakeGitLab, serve
from twin.engine import stackcopy
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
        # The one the program names, never one pulumi-kubernetes makes up per run.
        pulumi = {m for m in managers if m.startswith("pulumi-kubernetes")}
        assert pulumi == {FIELD_MANAGER}, (key(obj), managers)
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


# A stream added as README's "Adding a stream" writes it (`spark-streams new`'s template).
NEW_STREAM = '''"""inventory-ingest: inventory events from `inventory.v1` into the lake."""

from spark_streams.model import Stream

stream = Stream(
    name="inventory-ingest",
    owner="inventory-team",
    arguments=("--topic", "inventory.v1"),
    sink="s3://{lake}/raw/{stream}/",
)
'''


def add_stream(streams: Path) -> None:
    (streams / "inventory.py").write_text(NEW_STREAM)


@pytest.fixture(scope="module")
def gitlab(current: Deployed) -> Iterator[tuple[GitLab, FakeGitLab]]:
    """The project's repository and a GitLab notes API, for the merge-request scenarios; main
    is what is deployed when the first of them starts."""
    (STATE / "e2e").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=STATE / "e2e", prefix="gitlab-"))
    with serve() as api:
        yield GitLab(root, edited_streams(*current.edits)), api


@dataclass
class MergeRequest:
    preview: str  # the preview job's `pulumi preview --diff` output, as it wrote it
    note: str  # the note it posted
    streams: dict[str, str]  # stream identity -> added, changed, removed
    untouched: set[str]  # URNs of the state that the deploy left as they were
    seconds: dict[str, float]


def merge_request(
    twin: Twin, gitlab: tuple[GitLab, FakeGitLab], current: Deployed, iid: int, change: Edit
) -> MergeRequest:
    """One merge request through CI as GitLab runs it: the change committed on a branch, the
    preview job (both of its `spark-streams` commands, the real `pulumi preview --diff`,
    `pulumi config`) in the runner's checkout of it, then merged and deployed by the deploy
    job from main. Checks that the note's stream section says what the real preview does,
    and that the deploy changed nothing else: every other resource's state, every other
    Kubernetes object (uid) and every other stream's driver."""
    repo, api = gitlab
    branch = f"mr-{iid}"
    change(repo.author / "streams")
    head = repo.commit(branch, f"merge request !{iid}")
    # The stack runs the stream files of the checkout it is deployed from, as in CI.
    twin.pulumi("config", "set", "spark-streams:streamsDir", "streams")
    build = repo.checkout(head)
    runner = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": repo.main,
        "CI_MERGE_REQUEST_IID": str(iid),
        "CI_COMMIT_SHA": head,
        "CI_PROJECT_ID": "42",
        "CI_API_V4_URL": f"{api.url}/api/v4",
        "GITLAB_TOKEN": TOKEN,
    }
    seconds: dict[str, float] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=STATE / "e2e") as tmp:
        status, output = run_job(twin, "preview", Path(tmp), build, runner)
    seconds["preview job"] = round(time.monotonic() - started, 1)
    assert status == 0, output[-3000:]
    preview = (build / f"preview-{twin.stack}.txt").read_text()
    (posted,) = api.mr_notes("42", iid)
    note = posted["body"]
    assert note == (build / f"mr-note-{twin.stack}.md").read_text()
    # The real preview, whole, is what the note folds.
    assert preview.strip() in note, "the note does not hold the job's preview"
    for secret in stackcopy.declared_secrets(twin.stack):
        assert f"twin-{secret}" not in note, f"secret {secret} in the note"
    diff = DiffResult.from_json(json.loads((build / f"diff-{twin.stack}.json").read_text()))
    assert diff.base_commit == repo.main and diff.base_error is None
    identity = {e.name: e.identity for entries in diff.streams_by_kind.values() for e in entries}
    in_note = {identity[name]: kind for name, kind in note_streams(note).items()}

    before = {r["urn"]: r for r in twin.state()}
    objects = render(twin.stack, edited_streams(*current.edits))
    uids = {key(o): twin.find(o) for o in objects}
    drivers = {n: twin.driver(n) for n in names(objects)}
    repo.merge(branch)
    build = repo.checkout("main")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=STATE / "e2e") as tmp:
        status, output = run_job(
            twin,
            ".deploy",
            Path(tmp),
            build,
            {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"},
        )
    seconds["deploy job"] = round(time.monotonic() - started, 1)
    assert status == 0, output[-3000:]
    after = {r["urn"]: r for r in twin.state()}

    # The note's streams, and the kind of change of each, are the preview's.
    steps = preview_steps(preview)
    parents = {u: r["parent"] for u, r in (before | after).items() if r.get("parent")}
    in_preview = preview_streams(steps, parents)
    assert in_note == in_preview, {"note": in_note, "preview": in_preview}
    # The shared resources the preview changes are the ones the note's diff lists.
    shared = {u for u in steps if stream_of(u, parents) is None}
    listed = {
        r.urn for rs in (diff.other.added, diff.other.changed, diff.other.removed) for r in rs
    }
    assert shared == listed, {"preview": shared, "note": listed}

    # The deploy did what the preview said and nothing else: the engine gives a resource it
    # creates, updates or replaces a new `modified` time (secrets in the state are encrypted
    # anew on every write, so inputs and outputs are no measure).
    def recorded(resource: Obj | None) -> Obj | None:
        return resource and {k: resource.get(k) for k in ("modified", "parent", "protect")}

    changed = {
        u for u in before.keys() | after.keys() if recorded(before.get(u)) != recorded(after.get(u))
    }
    stack = next(u for u in after if u.split("::")[2] == "pulumi:pulumi:Stack")
    assert changed - {stack} <= set(steps), sorted(changed - set(steps) - {stack})
    for k, obj in uids.items():
        assert obj is not None
        found = twin.find(
            {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"]}
        )
        assert found is not None and found["metadata"]["uid"] == obj["metadata"]["uid"], k
    for n, pod in drivers.items():
        if identity.get(n, n) not in in_note:
            still = twin.driver(n)
            assert pod and still and still["metadata"]["uid"] == pod["metadata"]["uid"], n
    current.edits.append(change)
    current.objects = render(twin.stack, edited_streams(*current.edits))
    twin.report.prove(
        "merge request previewed and deployed as CI does",
        merge_request=iid,
        streams=in_note,
        shared=sorted(shared),
        steps=len(steps),
        **seconds,
    )
    return MergeRequest(preview, note, in_note, set(before) - changed, seconds)


def test_a_merge_request_that_adds_a_stream_is_previewed_and_deployed_as_ci_does(
    twin: Twin, current: Deployed, gitlab: tuple[GitLab, FakeGitLab]
) -> None:
    request = merge_request(twin, gitlab, current, 7, add_stream)
    assert request.streams == {"inventory-ingest": "added"}
    assert twin.app_state("inventory-ingest") == RUNNING


def test_a_spec_change_resubmits_the_application(
    twin: Twin, current: Deployed, gitlab: tuple[GitLab, FakeGitLab]
) -> None:
    name = "orders-ingest"
    before = twin.driver(name)
    assert before is not None
    started = time.monotonic()
    # A merge request changing one stream, through the preview and deploy jobs.
    request = merge_request(
        twin, gitlab, current, 8, edit("orders.py", '"1 minute"', '"2 minutes"')
    )
    assert request.streams == {name: "changed"}

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


def overlapping_drivers(versions: list[Obj]) -> list[list[str]]:
    """Driver pods of one stream that existed at once, from every version of them a watch saw: a
    pod exists from its first version seen to its last if that one is its deletion (it has a
    deletionTimestamp), else to the end. The twin's resource versions are etcd's revisions."""
    spans: dict[str, tuple[str, int, float]] = {}
    for pod in versions:
        meta = pod["metadata"]
        app, version = (
            meta["labels"].get("sparkoperator.k8s.io/app-name", ""),
            int(meta["resourceVersion"]),
        )
        first = spans.get(meta["name"], (app, version, 0.0))[1]
        spans[meta["name"]] = (app, first, version if "deletionTimestamp" in meta else float("inf"))
    overlaps = []
    for one, (app, first, last) in spans.items():
        for other, (other_app, other_first, other_last) in spans.items():
            if one < other and app == other_app and first <= other_last and other_first <= last:
                overlaps.append([one, other])
    return overlaps


def test_a_spec_change_cut_off_in_its_wait_goes_through_after_pulumi_cancel(
    twin: Twin, current: Deployed
) -> None:
    # The deploy of a spec change, killed as a cancelled CI job kills its shell while the
    # stream's wait runs: the lock stays, the next `up` is refused; after `pulumi cancel` a plain
    # `up` waits again, for the new driver, and no stream ever has two drivers.
    name = "orders-ingest"
    before = twin.driver(name)
    assert before is not None
    submission_before = waits(twin)[name]["submissionId"]
    change = edit("orders.py", '"2 minutes"', '"3 minutes"')
    current.edits.append(change)
    streams = edited_streams(*current.edits)
    (app,) = [a for a in apps(render(twin.stack, streams)) if a["metadata"]["name"] == name]
    spec_hash = app["spec"]["driver"]["labels"][SPEC_HASH_LABEL]

    def new_driver() -> Obj | None:
        pod = twin.driver(name)
        return pod if pod and pod["metadata"]["labels"][SPEC_HASH_LABEL] == spec_hash else None

    started = time.monotonic()
    with twin.watching("pods", "-n", twin.namespace, "-l", "spark-role=driver") as drivers:
        process = twin.start_up(streams, "--skip-preview")
        # The application is updated and its wait (StreamReady) runs until this driver has run
        # for the window: cut off then.
        poll("the new driver, during the deploy's wait", 180, new_driver)
        orphans = twin.cut_off(process)
        cut_off_after = time.monotonic() - started
        locked = twin.up(streams, "--skip-preview", check=False)
        pending = twin.export().get("pending_operations", [])
        cancelled = twin.pulumi("cancel", "--yes")
        resumed = twin.up(streams, "--skip-preview")
    assert locked.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in locked.stderr, locked.stderr
    assert [(op["type"], op["resource"]["type"]) for op in pending] == [("updating", STREAM_READY)]
    assert pending[0]["resource"]["inputs"]["stream"] == name
    assert "has been canceled" in cancelled.stdout, cancelled.stdout
    assert "1 pending operations from previous deployment" in resumed.stdout, resumed.stdout
    # It waited again, for real: the new driver RUNNING for the whole window, seen by this `up`.
    ready = waits(twin)[name]
    (waited,) = re.findall(rf"StreamReady {name}-ready updated \(([0-9.]+)s\)", resumed.stdout)
    assert float(waited) >= ready["minReadySeconds"], resumed.stdout
    assert ready["specHash"] == spec_hash and ready["submissionId"] != submission_before
    live = twin.app(name)
    assert live is not None and live["status"]["applicationState"]["state"] == RUNNING
    assert live["status"]["submissionID"] == ready["submissionId"]
    after = new_driver()
    assert after is not None and after["metadata"]["uid"] != before["metadata"]["uid"]
    container = next(c for c in after["spec"]["containers"] if c["name"] == DRIVER_CONTAINER)
    assert "3 minutes" in container.get("args", [])
    overlaps = overlapping_drivers(list(drivers))
    assert not overlaps, f"two drivers of one stream at once: {overlaps[:3]}"
    current.objects = render(twin.stack, streams)
    twin.report.prove(
        "spec change cut off in its wait, then pulumi cancel and up",
        app=name,
        cut_off_after_s=round(cut_off_after, 1),
        orphaned_plugins=orphans,
        pending=[f"{op['type']} {op['resource']['urn']}" for op in pending],
        resumed_wait_s=float(waited),
        seconds=round(time.monotonic() - started, 1),
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
    change = edit("orders.py", '"3 minutes"', '"4 minutes"')

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
    assert "4 minutes" in container.get("args", [])
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
    twin: Twin, current: Deployed, tmp_path: Path
) -> None:
    name = "clickstream-ingest"

    def remove(streams: Path) -> None:
        (streams / "clickstream.py").unlink()

    streams = edited_streams(*current.edits, remove)
    remaining = render(twin.stack, streams)
    kept = {key(o): twin.find(o) for o in remaining}
    assert all(kept.values())
    others = {n: twin.driver(n) for n in names(remaining)}
    # Deployed by the GitHub workflow's deploy step, as its runner runs it (GitLab's deploy job
    # ran the broken driver's change above).
    twin.pulumi("config", "set", "spark-streams:streamsDir", str(streams))
    status, output = run_step(twin, f"deploy-{twin.stack}", "Deploy", tmp_path)
    assert status == 0, output[-3000:]
    summary = (tmp_path / "step-summary.md").read_text()
    assert f"Deploy of `{twin.stack}`: every stream reached its state" in summary, summary
    current.objects = remaining
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
    twin.report.prove("removal", removed=name, untouched_objects=len(kept), by="GitHub deploy step")
