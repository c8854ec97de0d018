"""The deploy report reads Pulumi's event log and names the streams that did not reach their state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components import PACKAGE
from spark_streams.deploy_report import Report, main, read_events, stream_of
from tests.engine_events import (
    DENIED,
    ORDERS_ROLE,
    applied_stream,
    child_urn,
    error,
    failed,
    lines,
    one_stream_fails,
    pre,
    shared_urn,
    stream_urn,
    summary,
)
from tests.test_plan import plan as stack_plan

OPERATOR = shared_urn(
    "kubernetes:helm.sh/v3:Release", "spark-operator", f"{PACKAGE}:kubernetes:SparkOperator"
)


def report_of(events: list[dict[str, object]], exit_code: int | None = 255) -> Report:
    return Report("prod", False, exit_code, read_events(lines(events).splitlines()))


def test_the_urns_of_the_real_stream_component_resolve_to_its_identity() -> None:
    # The program's own plan: the URNs Pulumi would write in the event log.
    plan = stack_plan("prod")
    parents = {r.urn: r.parent for r in plan.resources if r.parent}
    resolved = {r.urn: r.stream for r in plan.resources}
    assert list(resolved.values()).count("orders-ingest") == 8
    assert set(resolved.values()) == {"orders-ingest", "clickstream-ingest", None}
    for urn, stream in resolved.items():
        assert stream_of(urn, parents) == stream
        assert stream_of(urn, {}) == stream  # by name alone, as from a log cut short


def test_a_failing_stream_among_passing_ones_is_named_and_the_others_are_not() -> None:
    report = report_of(one_stream_fails())
    assert report.failed_streams == ["orders-ingest"]
    text = report.text()
    assert text.startswith(
        "Deploy of `prod`: 1 stream(s) did not reach their state (orders-ingest)."
    )
    assert (
        f"failed stream orders-ingest: aws:iam/role:Role orders-ingest-role: creating IAM Role: {DENIED}"
        in text
    )
    assert "clicks" not in text and "payments" not in text
    assert "<{%" not in text  # colour directives are not shown
    assert "error: update failed" in text  # an error about no resource is kept too
    markdown = report.markdown()
    assert markdown.startswith("### Deploy of `prod`: 1 stream(s)")
    assert (
        "| `orders-ingest` | `aws:iam/role:Role orders-ingest-role` | creating IAM Role:"
        in markdown
    )


def test_a_child_whose_parent_is_not_in_the_log_is_found_by_its_name() -> None:
    # A log cut short may hold the failure but not the step that named the parent.
    urn = child_urn("orders-ingest", "kubernetes:apiextensions.k8s.io:CustomResource", "app")
    assert stream_of(urn, {}) == "orders-ingest"
    assert stream_of(urn, {urn: stream_urn("orders-v2")}) == "orders-v2"
    assert stream_of(stream_urn("orders-ingest"), {}) == "orders-ingest"
    assert stream_of(OPERATOR, {}) is None


def test_a_shared_failure_is_reported_as_shared_with_what_it_holds_back() -> None:
    events = [
        pre(OPERATOR, "update"),
        error("Helm release spark-operator: timed out waiting for the condition", OPERATOR),
        failed(OPERATOR, "update"),
        *applied_stream("clicks"),
        summary(update=0, same=5),
    ]
    report = report_of(events)
    assert report.failed_streams == []
    text = report.text()
    assert text.startswith("Deploy of `prod`: 1 shared resource(s) failed.")
    assert "failed shared: kubernetes:helm.sh/v3:Release spark-operator: Helm release" in text
    assert "streams not listed may be unchanged too" in text
    assert "| (shared) | `kubernetes:helm.sh/v3:Release spark-operator` |" in report.markdown()


def test_no_failure_says_every_stream_reached_its_state() -> None:
    events = [*applied_stream("clicks", "update"), *applied_stream("payments"), summary(update=2)]
    report = report_of(events, exit_code=0)
    assert report.failures == []
    assert report.text() == (
        "Deploy of `prod`: every stream reached its state (2 stream(s) in the update).\n"
    )


def test_a_failed_pulumi_without_a_failed_resource_does_not_read_as_success() -> None:
    events = [error("error: preview failed: program exited with code 1"), summary()]
    text = report_of(events, exit_code=255).text()
    assert text.startswith("Deploy of `prod`: pulumi exited 255 with no failed resource operation")
    assert "error: error: preview failed" in text


def test_a_mandatory_policy_violation_fails_its_stream() -> None:
    policy: dict[str, object] = {
        "policyEvent": {
            "resourceUrn": ORDERS_ROLE,
            "message": "the role may not use iam:*",
            "color": "never",
            "policyName": "no-iam-wildcards",
            "policyPackName": "spark-streams",
            "policyPackVersion": "",
            "policyPackVersionTag": "",
            "enforcementLevel": "mandatory",
        }
    }
    advisory = json.loads(json.dumps(policy))
    advisory["policyEvent"]["enforcementLevel"] = "advisory"
    advisory["policyEvent"]["resourceUrn"] = child_urn("clicks", "aws:iam/role:Role", "role")
    report = report_of([policy, advisory, summary()])
    assert report.failed_streams == ["orders-ingest"]
    assert "policy no-iam-wildcards: the role may not use iam:*" in report.text()


@pytest.mark.parametrize(
    "garbage",
    [
        '{"sequence": 9, "resOpFailedEvent": {"metadata": {"urn": "urn:pul',  # cut mid-line
        "[1, 2, 3]",
        '{"resOpFailedEvent": {"metadata": "not an object"}}',
        '{"diagnosticEvent": {"urn": 5, "severity": "error", "message": null}}',
        '{"resourcePreEvent": {"metadata": {"urn": "not-a-urn", "op": 3, "diffs": "x"}}}',
        "\x00\x01 not json at all",
    ],
)
def test_a_truncated_or_garbled_log_still_gives_a_report(
    garbage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    # Pulumi was killed mid-write: no summary, and the last line is whatever was left.
    up_to_the_failure = one_stream_fails()[:10]  # clicks, then orders-ingest until it failed
    events.write_text(lines(up_to_the_failure) + garbage + "\n", encoding="utf-8")
    summary_file = tmp_path / "summary.md"
    assert (
        main(
            [
                "--events",
                str(events),
                "--stack",
                "prod",
                "--exit-code",
                "1",
                "--summary",
                str(summary_file),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "orders-ingest" in out
    assert "The event log ends before Pulumi's summary" in out
    assert "these lists may be incomplete" in summary_file.read_text()


def test_a_log_of_invalid_utf8_is_read_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(lines(one_stream_fails()).encode() + b"\xff\xfe\xfa\n")
    assert main(["--events", str(events), "--stack", "prod"]) == 0
    assert "1 unreadable line(s) in the event log, skipped." in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, ""])
def test_no_event_log_at_all_is_reported(
    content: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pulumi failed before it began (login, credentials): no log, or the empty file the job made.
    events = tmp_path / "events.jsonl"
    if content is not None:
        events.write_text(content)
    assert main(["--events", str(events), "--stack", "dev", "--exit-code", "255"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Deploy of `dev`: no event log to read (pulumi exited 255).")
    assert "pulumi stopped before it started" in out


def test_the_summary_is_appended_to_not_overwritten(tmp_path: Path) -> None:
    # $GITHUB_STEP_SUMMARY may already hold what earlier steps wrote.
    events = tmp_path / "events.jsonl"
    events.write_text(lines(one_stream_fails()))
    summary_file = tmp_path / "summary.md"
    summary_file.write_text("earlier step\n")
    assert main(["--events", str(events), "--stack", "prod", "--summary", str(summary_file)]) == 0
    written = summary_file.read_text()
    assert written.startswith("earlier step\n### Deploy of `prod`")


def test_a_summary_that_cannot_be_written_fails_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lines([summary()]))
    assert main(["--events", str(events), "--stack", "prod", "--summary", str(tmp_path)]) == 1
    assert "cannot write the report" in capsys.readouterr().err


def test_markdown_cells_keep_their_table_shape() -> None:
    events = [error("a | b\nc", ORDERS_ROLE), failed(ORDERS_ROLE), summary()]
    row = next(
        line for line in report_of(events).markdown().splitlines() if line.startswith("| `orders")
    )
    assert row.count(" | ") == 2 and "a \\| b c" in row


def drift_events() -> list[dict[str, object]]:
    app = child_urn("orders-ingest", "kubernetes:apiextensions.k8s.io:CustomResource", "app")
    bucket = shared_urn("aws:s3/bucketV2:BucketV2", "data-lake", f"{PACKAGE}:storage:DataBuckets")
    parent = stream_urn("orders-ingest")
    return [
        pre(parent, planning=True),
        # Someone scaled the driver by hand: the refresh sees it, the preview would undo it.
        pre(app, "refresh", parent, diffs=["spec"], planning=True),
        pre(app, "update", parent, diffs=["spec"], planning=True),
        pre(bucket, "refresh", diffs=[], planning=True),
        # no `diffs`: the property names come from the detailed diff
        pre(bucket, "update", detailed={"tags": {"diffKind": "update"}}, planning=True),
        *applied_stream("clicks"),
        error("error: no changes were expected but changes were proposed"),
        summary(update=2, same=6),
    ]


def test_a_drift_check_lists_what_drifted_with_property_names_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lines(drift_events()))
    output = tmp_path / "github-output"
    summary_file = tmp_path / "drift.md"
    args = ["--events", str(events), "--stack", "prod", "--drift", "--exit-code", "255"]
    assert main([*args, "--summary", str(summary_file), "--github-output", str(output)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Drift check of `prod`: drift in 2 resource(s), streams orders-ingest:")
    assert (
        "drift  orders-ingest: kubernetes:apiextensions.k8s.io:CustomResource orders-ingest-app: changed outside Pulumi: spec; update: spec"
        in out
    )
    assert "drift  (shared): aws:s3/bucketV2:BucketV2 data-lake: update: tags" in out
    assert "clicks" not in out
    assert output.read_text() == "drift=true\n"
    assert "| stream | resource | change |" in summary_file.read_text()


def test_a_drift_check_without_drift_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lines([*applied_stream("clicks"), summary(same=4)]))
    output = tmp_path / "github-output"
    args = ["--events", str(events), "--stack", "dev", "--drift", "--exit-code", "0"]
    assert main([*args, "--github-output", str(output)]) == 0
    assert capsys.readouterr().out == "Drift check of `dev`: no drift.\n"
    assert output.read_text() == "drift=false\n"


def test_a_drift_check_that_fails_for_another_reason_is_not_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Credentials expired during the refresh: no issue must be opened for that.
    events = tmp_path / "events.jsonl"
    events.write_text(
        lines([pre(ORDERS_ROLE, "refresh", planning=True), error(DENIED, ORDERS_ROLE), summary()])
    )
    output = tmp_path / "github-output"
    args = ["--events", str(events), "--stack", "prod", "--drift", "--exit-code", "255"]
    assert main([*args, "--github-output", str(output)]) == 0
    assert capsys.readouterr().out.startswith(
        "Drift check of `prod`: failed on 1 resource(s), drift unknown."
    )
    assert output.read_text() == "drift=false\n"


def test_a_refresh_that_only_sees_outputs_move_is_not_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The operator writes the SparkApplication's status all day: the refresh sees it, the
    # program does not set it, so the preview proposes nothing and pulumi exits 0.
    app = child_urn("orders-ingest", "kubernetes:apiextensions.k8s.io:CustomResource", "app")
    events = tmp_path / "events.jsonl"
    events.write_text(lines([pre(app, "refresh", diffs=["status"], planning=True), summary()]))
    output = tmp_path / "github-output"
    args = ["--events", str(events), "--stack", "prod", "--drift", "--exit-code", "0"]
    assert main([*args, "--github-output", str(output)]) == 0
    assert capsys.readouterr().out == "Drift check of `prod`: no drift.\n"
    assert output.read_text() == "drift=false\n"


def test_a_deploy_cut_off_after_its_preview_is_not_taken_as_whole() -> None:
    # `pulumi up` logs its preview's summary first; only the update's says the log is whole.
    preview = [*applied_stream("clicks", "update"), summary(is_preview=True, update=1)]
    role = child_urn("clicks", "aws:iam/role:Role", "role")
    cut_off = report_of([*preview, pre(role, "update", stream_urn("clicks"))], exit_code=255)
    assert "The event log ends before Pulumi's summary" in cut_off.text()
    whole = report_of([*preview, summary(is_preview=False, update=1)], exit_code=0)
    assert "ends before" not in whole.text()
