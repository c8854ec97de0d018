"""The deploy's wait for a stream (spark_streams.readiness) against sequences of operator states.

Each sequence is what successive reads of the SparkApplication and its driver pod return, one per
poll; the clock advances by the poll interval between reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark_streams.metadata import SPEC_HASH_LABEL
from spark_streams.readiness import (
    CANNOT_START,
    NEVER_STARTS,
    POLL_SECONDS,
    SUBMISSION_LABEL,
    Driver,
    NotReadyError,
    Observation,
    ReadinessProvider,
    Target,
    condensed,
    driver_of,
    wait,
)

NEW, OLD = "new-hash", "old-hash"


def target(expect: str = "RUNNING", window: int = 10, timeout: int = 60, per: int = 0) -> Target:
    return Target.of(
        {
            "stream": "orders-ingest",
            "namespace": "spark-streams",
            "name": "orders-ingest",
            "specHash": NEW,
            "expect": expect,
            "minReadySeconds": window,
            "timeoutSeconds": timeout,
            "secondsPerSubmission": per,
        }
    )


def seen(
    state: str,
    submission: str,
    attempts: int = 1,
    pod: str | None = None,
    error: str = "",
    driver: Driver | None = None,
    earlier: tuple[tuple[str, str], ...] = (),
) -> Observation:
    """``pod``: the hash on the driver pod of that submission (None: no driver pod);
    ``earlier``: the (submission, error) of versions written since the previous read."""
    labels = None if pod is None else {SPEC_HASH_LABEL: pod, SUBMISSION_LABEL: submission}
    return Observation(state, error, submission, attempts, labels, driver or Driver(), earlier)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(t: Target, sequence: Sequence[Observation | None], submissions: int = 0) -> Observation:
    """Wait on ``sequence``; its last observation repeats for as long as the wait reads."""
    clock = Clock()
    reads: Iterator[Observation | None] = iter(sequence)
    last: list[Observation | None] = [None]

    def observe() -> Observation | None:
        last[0] = next(reads, last[0])
        return last[0]

    return wait(t, observe, lambda: submissions, clock=clock, sleep=clock.sleep)


def polls(seconds: float) -> int:
    return int(seconds / POLL_SECONDS)


def test_running_the_new_spec_for_the_window_passes() -> None:
    sequence = [
        seen("RUNNING", "a", pod=OLD),
        seen("INVALIDATING", "a", pod=OLD),
        seen("PENDING_RERUN", "a"),
        seen("SUBMITTED", "b", pod=NEW),
        seen("RUNNING", "b", pod=NEW),
    ]
    assert run(target(), sequence).submission_id == "b"


def test_the_previous_runs_running_never_passes() -> None:
    """The operator has not seen the update yet: its status and driver are the old run's."""
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=30), [seen("RUNNING", "a", pod=OLD)])
    assert "not RUNNING for 10s within 30s" in str(error.value)
    assert "state RUNNING" in str(error.value)


def test_a_stale_status_beside_the_new_driver_does_not_pass() -> None:
    """The new driver exists, the status still names the previous submission."""
    stale = Observation("RUNNING", "", "a", 1, {SPEC_HASH_LABEL: NEW, SUBMISSION_LABEL: "b"})
    with pytest.raises(NotReadyError):
        run(target(timeout=20), [stale])


def test_a_crash_loop_fails_at_its_next_attempt_naming_stream_state_and_reason() -> None:
    sequence = [
        seen("SUBMITTED", "b", pod=NEW),
        seen("RUNNING", "b", pod=NEW),
        seen("RUNNING", "b", pod=NEW),
        seen("RUNNING", "c", 2, pod=NEW, error="driver container failed with ExitCode: 1"),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(window=30), sequence)
    message = str(error.value)
    assert message.startswith("stream orders-ingest: a new execution attempt within 30s")
    assert "state RUNNING" in message
    assert "driver container failed with ExitCode: 1" in message


def test_leaving_running_within_the_window_fails_early() -> None:
    sequence = [
        seen("RUNNING", "b", pod=NEW),
        seen("FAILING", "b", pod=NEW, error="driver pod failed"),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(window=30, timeout=600), sequence)
    assert "left RUNNING within 30s; state FAILING" in str(error.value)
    assert "driver pod failed" in str(error.value)


def test_a_failed_run_of_the_new_spec_fails_before_any_running() -> None:
    sequence = [seen("SUBMITTED", "b", pod=NEW), seen("FAILED", "b", pod=NEW, error="OOMKilled")]
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=600), sequence)
    assert "run of this spec failed; state FAILED, operator's reason: OOMKilled" in str(error.value)


def test_the_previous_runs_failure_is_not_the_new_specs() -> None:
    """Fixing a crash-looping stream: its old run's FAILING is still in the status at first."""
    sequence = [
        seen("FAILING", "a", pod=OLD, error="old crash"),
        seen("PENDING_RERUN", "a"),
        seen("RUNNING", "b", pod=NEW),
    ]
    assert run(target(), sequence).submission_id == "b"


def test_a_suspended_stream_passes_once_suspended_with_no_driver() -> None:
    sequence = [
        seen("RUNNING", "a", pod=NEW),
        seen("SUSPENDING", "a", pod=NEW),
        seen("SUSPENDED", "a"),
    ]
    assert run(target("SUSPENDED"), sequence).state == "SUSPENDED"


def test_a_suspended_stream_whose_driver_is_still_there_does_not_pass() -> None:
    with pytest.raises(NotReadyError) as error:
        run(target("SUSPENDED", timeout=20), [seen("SUSPENDED", "a", pod=NEW)])
    assert "not SUSPENDED" in str(error.value)


def test_the_timeout_grows_with_the_deploys_submissions() -> None:
    """Twenty seconds more per application submitted: RUNNING at 70 s passes a 60 s timeout."""
    sequence: list[Observation | None] = [seen("SUBMITTED", "b", pod=NEW)] * polls(70)
    sequence.append(seen("RUNNING", "b", pod=NEW))
    with pytest.raises(NotReadyError):
        run(target(timeout=60, per=20), sequence, submissions=0)
    assert run(target(timeout=60, per=20), sequence, submissions=3).state == "RUNNING"


def test_unreadable_cluster_is_retried_until_the_timeout() -> None:
    sequence: list[Observation | None] = [None, None, seen("RUNNING", "b", pod=NEW)]
    assert run(target(), sequence).state == "RUNNING"
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=10), [None])
    assert "could not be read" in str(error.value)


def _props(**changes: Any) -> dict[str, Any]:
    props = {
        "stream": "s",
        "namespace": "n",
        "name": "s",
        "specHash": NEW,
        "expect": "RUNNING",
        "minReadySeconds": 30,
        "timeoutSeconds": 300,
        "secondsPerSubmission": 15,
        "kubeconfig": json.dumps({"k": 1}),
    }
    return {**props, **changes}


@pytest.mark.parametrize(
    ("changes", "waits"),
    [
        ({}, False),
        ({"kubeconfig": "{}"}, False),
        ({"specHash": OLD}, True),
        ({"expect": "SUSPENDED"}, True),
        ({"minReadySeconds": 5}, True),
        ({"name": "t"}, True),
    ],
)
def test_the_wait_runs_again_only_when_what_it_waits_for_changes(
    changes: dict[str, Any], waits: bool
) -> None:
    result = ReadinessProvider().diff("n/s", _props(), _props(**changes))
    assert result.changes is waits
    assert result.replaces == []


def test_the_reason_is_the_operators_last_for_this_run_when_the_status_cleared_it() -> None:
    sequence = [
        seen("RUNNING", "b", pod=NEW),
        seen("FAILING", "b", pod=NEW, error="driver container failed with ExitCode: 1"),
    ]
    with pytest.raises(NotReadyError):
        run(target(), sequence)
    cleared = [
        seen("RUNNING", "b", pod=NEW),
        seen("RUNNING", "b", pod=NEW, error="driver container failed with ExitCode: 1"),
        seen("PENDING_RERUN", "b"),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(), cleared)
    assert "state PENDING_RERUN, operator's reason: driver container failed" in str(error.value)


CRASH = "driver container failed with ExitCode: 1, Reason: Error"


def test_a_failing_shorter_than_a_poll_still_gives_the_operators_reason() -> None:
    """The retry was due: FAILING and its reason were replaced by PENDING_RERUN between reads."""
    sequence = [
        seen("RUNNING", "b", pod=NEW),
        seen("PENDING_RERUN", "b", earlier=(("b", CRASH),)),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(), sequence)
    assert f"state PENDING_RERUN, operator's reason: {CRASH} (" in str(error.value)


def test_the_previous_runs_reason_between_reads_is_not_the_new_specs() -> None:
    sequence = [
        seen("RUNNING", "a", pod=OLD),
        seen("PENDING_RERUN", "a", earlier=(("a", "old crash"),)),
        seen("SUBMITTED", "b", pod=NEW),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=20), sequence)
    assert "old crash" not in str(error.value)
    assert "operator's reason: none given" in str(error.value)


def test_what_the_driver_pod_said_is_named_when_the_operator_said_nothing() -> None:
    ended = Driver(says="container spark-kubernetes-driver: Error, exit code 1: boom")
    sequence = [
        seen("RUNNING", "b", pod=NEW),
        seen("RUNNING", "b", pod=NEW, driver=ended),
        seen("PENDING_RERUN", "b"),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(), sequence)
    assert str(error.value) == (
        "stream orders-ingest: left RUNNING within 10s; state PENDING_RERUN, operator's "
        "reason: none given; driver pod: container spark-kubernetes-driver: Error, exit code 1: "
        "boom (SparkApplication spark-streams/orders-ingest)"
    )


def pulling(reason: str, submission: str = "b", pod: str = NEW) -> Observation:
    return seen("SUBMITTED", submission, pod=pod, driver=Driver(reason, f"{reason}: no such image"))


def test_a_driver_that_cannot_pull_its_image_fails_after_the_window_not_the_timeout() -> None:
    clock = Clock()
    with pytest.raises(NotReadyError) as error:
        wait(
            target(window=10, timeout=600),
            lambda: pulling("ImagePullBackOff"),
            lambda: 0,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.now == 10
    assert str(error.value).startswith(
        "stream orders-ingest: its driver cannot start (ImagePullBackOff for 10s); state "
        "SUBMITTED, operator's reason: none given; driver pod: ImagePullBackOff: no such image"
    )


def test_a_malformed_image_reference_fails_at_once() -> None:
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=600), [pulling("InvalidImageName")])
    assert "its driver cannot start (InvalidImageName); state SUBMITTED" in str(error.value)


def test_the_previous_runs_unpullable_driver_does_not_fail_the_new_spec_early() -> None:
    """A fix of a bad image: until the operator resubmits, the old driver still waits."""
    sequence = [pulling("ImagePullBackOff", "a", OLD)] * polls(30)
    sequence.append(seen("RUNNING", "b", pod=NEW))
    assert run(target(window=10, timeout=600), sequence).submission_id == "b"


# One poll each of this spec's driver waiting for that reason ("" for none), then RUNNING.
_WAITS = st.lists(st.sampled_from(["", "ContainerCreating", *sorted(CANNOT_START)]), max_size=40)


@given(waits=_WAITS, window=st.integers(min_value=1, max_value=15))
def test_a_driver_fails_early_exactly_when_it_cannot_start_for_the_window(
    waits: list[str], window: int
) -> None:
    sequence = [pulling(w) if w else seen("SUBMITTED", "b", pod=NEW) for w in waits]
    sequence.append(seen("RUNNING", "b", pod=NEW))
    # Where the first run of cannot-start polls that lasts the window (or never heals) ends.
    expected: int | None = None
    first: int | None = None
    for i, w in enumerate(waits):
        first = (first if first is not None else i) if w in CANNOT_START else None
        if first is not None and (w in NEVER_STARTS or (i - first) * POLL_SECONDS >= window):
            expected = i
            break
    try:
        run(target(window=window, timeout=600), sequence)
    except NotReadyError as error:
        assert expected is not None, str(error)
        assert f"cannot start ({waits[expected]}" in str(error)
    else:
        assert expected is None


@given(
    errors=st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["", "old crash", CRASH])),
        max_size=6,
    )
)
def test_a_failure_names_the_last_reason_of_this_specs_run_and_no_other(
    errors: list[tuple[str, str]],
) -> None:
    """The old run ("a", its driver the old spec's) then this spec's ("b"), the operator's
    messages between two reads in any order: the failure names the last of "b"'s, if any."""
    sequence = [
        seen("RUNNING", "a", pod=OLD),
        seen("SUBMITTED", "b", pod=NEW, earlier=tuple(errors)),
        seen("FAILED", "b", pod=NEW),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(), sequence)
    ours = [message for submission, message in errors if submission == "b" and message]
    assert f"operator's reason: {ours[-1] if ours else 'none given'} (" in str(error.value)


def _pod(**status: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {}}, "status": status}


def _container(name: str, **state: Any) -> dict[str, Any]:
    return {"name": name, "state": state}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "initContainerStatuses": [
                    _container(
                        "event-log-directory",
                        waiting={"reason": "ImagePullBackOff", "message": 'Back-off "x"'},
                    )
                ],
                "containerStatuses": [
                    _container("spark-kubernetes-driver", waiting={"reason": "PodInitializing"})
                ],
            },
            Driver(
                "ImagePullBackOff", 'container event-log-directory: ImagePullBackOff: Back-off "x"'
            ),
        ),
        (
            {
                "containerStatuses": [
                    _container("sidecar", running={}),
                    _container(
                        "spark-kubernetes-driver",
                        terminated={"exitCode": 1, "reason": "Error", "message": "Boom"},
                    ),
                ]
            },
            Driver("", "container spark-kubernetes-driver: Error, exit code 1: Boom"),
        ),
        (
            {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient memory.",
                    }
                ]
            },
            Driver("", "Unschedulable: 0/3 nodes are available: 3 Insufficient memory."),
        ),
        (
            {
                "containerStatuses": [
                    _container("spark-kubernetes-driver", waiting={"reason": "ContainerCreating"})
                ]
            },
            Driver(),
        ),
        ({"containerStatuses": [_container("spark-kubernetes-driver", running={})]}, Driver()),
    ],
)
def test_what_a_driver_pod_says(status: dict[str, Any], expected: Driver) -> None:
    assert driver_of(_pod(**status)) == expected


SUBMIT_OUTPUT = """failed to submit spark application: failed to run spark-submit: WARNING: x
26/12/02 06:33:17 WARN BlockedThreadChecker: Thread blocked for 2746 ms
io.vertx.core.VertxException: Thread blocked
\tat java.base/java.lang.Thread.run(Thread.java:840)
26/12/02 06:33:28 ERROR Client: Please check "kubectl auth can-i create pod" first.
Exception in thread "main" io.fabric8.kubernetes.client.KubernetesClientException: timeout
\tat org.apache.spark.deploy.SparkSubmit.main(SparkSubmit.scala)
Caused by: io.vertx.core.impl.NoStackTraceTimeoutException: timeout getting a connection
26/12/02 06:33:29 INFO ShutdownHookManager: Shutdown hook called
"""


def _submissions_failing(failures: int) -> list[Observation]:
    """A spec change whose first ``failures`` submissions fail, each retried by the operator
    after the interval (10 polls) as a new submission, then one that runs."""
    sequence = [seen("RUNNING", "a", pod=OLD), seen("PENDING_RERUN", "a")]
    for n in range(failures):
        sequence += [seen("SUBMISSION_FAILED", f"f{n}", error=SUBMIT_OUTPUT)] * polls(10)
    return [*sequence, seen("SUBMITTED", "b", pod=NEW), seen("RUNNING", "b", pod=NEW)]


@pytest.mark.parametrize("failures", [0, 1, 2, 3])
def test_one_failed_submission_is_left_to_the_operators_retry_a_second_fails(
    failures: int,
) -> None:
    sequence = _submissions_failing(failures)
    if failures <= 1:
        assert run(target(timeout=600), sequence).submission_id == "b"
        return
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=600), sequence)
    assert "2 submissions of this spec failed; state SUBMISSION_FAILED" in str(error.value)


def test_a_failed_submission_the_operator_does_not_retry_fails_at_once() -> None:
    """Never, or OnFailure out of submission retries: the operator writes FAILED at once."""
    sequence = [
        seen("RUNNING", "a", pod=OLD),
        seen("SUBMISSION_FAILED", "b", error="spark-submit failed"),
        seen("FAILED", "b", error="spark-submit failed"),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(timeout=600), sequence)
    assert "this spec failed; state FAILED, operator's reason: spark-submit failed" in str(
        error.value
    )


def test_a_failed_submissions_output_is_condensed_to_what_was_thrown() -> None:
    sequence = [
        seen("RUNNING", "a", pod=OLD),
        seen("SUBMISSION_FAILED", "b", error=SUBMIT_OUTPUT),
        seen("SUBMISSION_FAILED", "c", error=SUBMIT_OUTPUT),
    ]
    with pytest.raises(NotReadyError) as error:
        run(target(), sequence)
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        "stream orders-ingest: 2 submissions of this spec failed; state SUBMISSION_FAILED, "
        "operator's reason: failed to submit spark application: failed to run spark-submit: "
        'WARNING: x ... Exception in thread "main" io.fabric8.kubernetes.client.'
        "KubernetesClientException: timeout ... Caused by: io.vertx.core.impl."
        "NoStackTraceTimeoutException: timeout getting a connection (9 lines) "
        "(SparkApplication spark-streams/orders-ingest)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("driver pod not found", "driver pod not found"),
        ("  one line  \n\n", "one line"),
        ("first\nsecond\nthird", "first (3 lines)"),
        (
            "boom\n\tat x\nCaused by: java.io.IOException: disk",
            "boom ... Caused by: java.io.IOException: disk (3 lines)",
        ),
    ],
)
def test_condensed(text: str, expected: str) -> None:
    assert condensed(text) == expected
