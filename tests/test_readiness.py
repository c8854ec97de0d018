"""The deploy's wait for a stream (spark_streams.readiness) against sequences of operator states.

Each sequence is what successive reads of the SparkApplication and its driver pod return, one per
poll; the clock advances by the poll interval between reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from spark_streams.metadata import SPEC_HASH_LABEL
from spark_streams.readiness import (
    POLL_SECONDS,
    SUBMISSION_LABEL,
    NotReadyError,
    Observation,
    ReadinessProvider,
    Target,
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
    state: str, submission: str, attempts: int = 1, pod: str | None = None, error: str = ""
) -> Observation:
    """``pod``: the hash on the driver pod of that submission (None: no driver pod)."""
    labels = None if pod is None else {SPEC_HASH_LABEL: pod, SUBMISSION_LABEL: submission}
    return Observation(state, error, submission, attempts, labels)


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
