"""Merge-request notes: built, masked, truncated, and kept to one per stack on a fake GitLab."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from spark_streams import mrnote
from spark_streams.capacity import Cost
from spark_streams.cli import main
from spark_streams.diff.result import (
    CapacityChange,
    CostChange,
    DiffResult,
    StreamChange,
    StreamChanges,
    UnchangedCost,
)
from spark_streams.pricing import MonthlyAmount, Percent
from tests.conftest import PROJECT
from tests.fake_gitlab import TOKEN, FakeGitLab, serve

PREVIEW = """Previewing update (dev):
  pulumi:pulumi:Stack: (same)
    ~ kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication: (update)
        ~ spec: {
            ~ executor: { ~ instances: 1 => 2 }
          }
        password: "hunter2-value"
Resources:
    ~ 1 to update
"""


def test_note_starts_with_marker_and_stream_diff_then_folds_the_preview() -> None:
    note, full = mrnote.build("dev", PREVIEW, "**1 stream changed.**", [], None)
    assert note == full
    assert note.startswith(mrnote.marker("dev"))
    assert note.index("1 stream changed") < note.index("<details>")
    assert "```diff\n" + PREVIEW.rstrip() in note


def test_json_diffs_are_rendered_as_markdown() -> None:
    result = {
        "stack": "dev",
        "base": "main",
        "base_commit": "0123456789abcdef",
        "changed": True,
        "streams": {
            "added": [],
            "removed": [],
            "changed": [
                {
                    "name": "a",
                    "identity": "a",
                    "renamed_from": None,
                    "fields": [{"field": "executor.instances", "old": 1, "new": 2}],
                    "consequences": [{"kind": "restart", "text": "restarts"}],
                }
            ],
        },
        "other": {"added": [], "removed": [], "changed": []},
    }
    note, _ = mrnote.build("dev", PREVIEW, mrnote.read_diff(json.dumps(result)), [], None)
    assert "`executor.instances`: `1` → `2`" in note


def test_secret_values_are_masked_everywhere() -> None:
    note, full = mrnote.build(
        "dev", PREVIEW, "diff mentions hunter2-value too", ["hunter2-value", "ab"], None
    )
    for text in (note, full):
        assert "hunter2" not in text
        assert "[secret]" in text
    # short values would mask ordinary words, so they are left alone
    assert "Previewing" in note


def test_secret_values_come_from_pulumi_config_json() -> None:
    config = {
        "spark-streams:awsRegion": {"value": "eu-west-1", "secret": False},
        "spark-streams:secrets": {
            "value": json.dumps({"kafka-sasl-password": "hunter2-value"}),
            "objectValue": {"kafka-sasl-password": "hunter2-value"},
            "secret": True,
        },
    }
    values = mrnote.secret_values_from_config(json.dumps(config))
    assert "hunter2-value" in values and "eu-west-1" not in values


def test_long_previews_are_truncated_with_a_pointer_and_stay_well_formed() -> None:
    preview = "".join(f"    ~ resource-{i}: (update)\n" for i in range(5000))
    note, full = mrnote.build(
        "prod", preview, None, [], "https://gitlab.example/job/1/artifacts/file/n.md", limit=20_000
    )
    assert len(note) <= 20_000
    assert len(full) > 20_000 and "resource-4999" in full
    assert "https://gitlab.example/job/1/artifacts/file/n.md" in note
    assert note.rstrip().endswith("</details>")
    assert note.count("```") == 2


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with serve() as state:
        yield state


@pytest.fixture
def ci_env(gitlab: FakeGitLab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CI_API_V4_URL", f"{gitlab.url}/api/v4")
    monkeypatch.setenv("CI_PROJECT_ID", "42")
    monkeypatch.setenv("CI_MERGE_REQUEST_IID", "7")
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("CI_JOB_URL", "https://gitlab.example/acme/spark-streams/-/jobs/99")
    preview = tmp_path / "preview.txt"
    preview.write_text(PREVIEW)
    return preview


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("spark_streams.gitlab_notes.BACKOFF_SECONDS", 0)


Post = Callable[..., tuple[int, str, str]]


@pytest.fixture
def post(ci_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Post:
    """Run `mr-note` for a stack in the CI environment: ``(exit code, stdout, stderr)``."""
    return lambda stack, *extra: run_note(ci_env, stack, tmp_path, capsys, *extra)


def run_note(
    preview: Path, stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    code = main(
        [
            "mr-note",
            "--stack",
            stack,
            "--preview",
            str(preview),
            "--output",
            str(tmp_path / f"{stack}.md"),
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_repeated_runs_leave_exactly_one_note_per_stack(
    gitlab: FakeGitLab, ci_env: Path, post: Post
) -> None:
    # someone else's notes, enough to need several pages
    gitlab.mr_notes().extend(
        {"id": i, "body": f"review comment {i}", "system": False} for i in range(5)
    )
    for stack in ("dev", "prod", "dev", "prod", "dev"):
        code, out, err = post(stack, "--mask-env", "SECRET_IN_ENV")
        assert code == 0, err
    ours = [n for n in gitlab.mr_notes() if "spark-streams:mr-note" in n["body"]]
    assert len(ours) == 2
    assert {s for n in ours for s in ("dev", "prod") if mrnote.marker(s) in n["body"]} == {
        "dev",
        "prod",
    }
    assert "unchanged note" in out  # the third dev run had nothing new
    ci_env.write_text(PREVIEW.replace("1 => 2", "1 => 3"))
    code, out, _ = post("dev")
    assert code == 0 and out.startswith("updated note")
    assert len([n for n in gitlab.mr_notes() if "spark-streams:mr-note" in n["body"]]) == 2
    (dev,) = [n for n in gitlab.mr_notes() if mrnote.marker("dev") in n["body"]]
    assert "1 => 3" in dev["body"]
    assert ("PUT", f"/api/v4/projects/42/merge_requests/7/notes/{dev['id']}") in gitlab.requests


def test_no_secret_reaches_gitlab(
    gitlab: FakeGitLab, ci_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, post: Post
) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", "hunter2-value")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"spark-streams:secrets": {"objectValue": {"k": "hunter2-value"}, "secret": True}}
        )
    )
    ci_env.write_text(PREVIEW + f"token {TOKEN}\n")
    code, _, err = post("dev", "--secrets-from", str(config))
    assert code == 0, err
    (note,) = gitlab.mr_notes()
    assert "hunter2" not in note["body"] and TOKEN not in note["body"]
    assert "hunter2" not in (tmp_path / "dev.md").read_text()


def test_transient_failures_are_retried(gitlab: FakeGitLab, post: Post) -> None:
    gitlab.failures = [502, 503]
    code, out, err = post("dev")
    assert code == 0, err
    assert out.startswith("created note")
    assert len(gitlab.mr_notes()) == 1


def test_a_create_whose_answer_was_lost_is_not_posted_twice(gitlab: FakeGitLab, post: Post) -> None:
    gitlab.lost_create_answers = 1
    code, out, err = post("dev")
    assert code == 0, err
    assert len(gitlab.mr_notes()) == 1
    assert out.startswith("unchanged note")  # found by the next attempt's listing


def test_a_reviewer_quoting_the_note_is_not_taken_for_it(gitlab: FakeGitLab, post: Post) -> None:
    assert post("dev")[0] == 0
    (ours,) = gitlab.mr_notes()
    gitlab.mr_notes().append({"id": 1, "body": f"> {ours['body']}\n\nWhy?", "system": False})
    gitlab.mr_notes().sort(key=lambda n: n["id"])  # the quote comes first in the listing
    code, out, err = post("dev", "--mask-env", "NOTHING")
    assert code == 0, err
    assert out.startswith(("unchanged note", "updated note")) and str(ours["id"]) in out
    assert gitlab.mr_notes()[0]["body"].startswith("> ")


def test_a_lasting_failure_is_a_clear_error_and_writes_nothing(
    gitlab: FakeGitLab, tmp_path: Path, post: Post
) -> None:
    gitlab.failures = [500] * 10
    code, out, err = post("dev")
    assert code == 1 and out == ""
    assert "GitLab answered 500" in err and "Traceback" not in err
    assert str(tmp_path / "dev.md") in err
    assert gitlab.mr_notes() == []
    assert len(gitlab.requests) == 4  # bounded: attempts, not forever


def test_a_refused_token_is_not_retried(
    gitlab: FakeGitLab, monkeypatch: pytest.MonkeyPatch, post: Post
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "wrong")
    code, _, err = post("dev")
    assert code == 1 and "401" in err
    assert len(gitlab.requests) == 1


def test_missing_ci_variables_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "GITLAB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    preview = tmp_path / "p.txt"
    preview.write_text(PREVIEW)
    code, _, err = run_note(preview, "dev", tmp_path, capsys)
    assert code == 2 and "CI_MERGE_REQUEST_IID" in err


def test_dry_run_prints_the_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preview = tmp_path / "p.txt"
    preview.write_text(PREVIEW)
    code, out, _ = run_note(preview, "prod", tmp_path, capsys, "--dry-run")
    assert code == 0 and out.startswith(mrnote.marker("prod"))


def test_the_stack_files_own_secrets_are_masked(
    gitlab: FakeGitLab, ci_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, post: Post
) -> None:
    # a value pasted in plain text under `secrets`, and a ciphertext, in a scratch project
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: spark-streams\n")
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n"
        "  spark-streams:awsRegion: eu-west-1\n"
        "  spark-streams:secrets:\n"
        "    kafka-sasl-password: plain-hunter2\n"
        "    schema-registry-key:\n"
        "      secure: v1:AAABBBcipher\n"
    )
    monkeypatch.chdir(project)
    ci_env.write_text(PREVIEW + "echo plain-hunter2 v1:AAABBBcipher eu-west-1\n")
    code, _, err = post("dev")
    assert code == 0, err
    (note,) = gitlab.mr_notes()
    assert "plain-hunter2" not in note["body"] and "AAABBBcipher" not in note["body"]
    assert "eu-west-1" in note["body"]  # plain config stays readable


def test_an_unreachable_gitlab_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, post: Post
) -> None:
    with serve() as gone:
        url = gone.url
    monkeypatch.setenv("CI_API_V4_URL", f"{url}/api/v4")  # nothing listens there any more
    code, out, err = post("dev")
    assert code == 1 and out == ""
    assert "GitLab unreachable" in err and "Traceback" not in err


def test_a_malformed_api_url_fails_at_once(monkeypatch: pytest.MonkeyPatch, post: Post) -> None:
    monkeypatch.setattr("spark_streams.gitlab_notes.BACKOFF_SECONDS", 60)  # a retry would hang
    monkeypatch.setenv("CI_API_V4_URL", "gitlab.example.com/api/v4")  # no scheme
    code, out, err = post("dev")
    assert code == 1 and out == ""
    assert "GitLab unreachable" in err and "Traceback" not in err


@pytest.fixture
def preview(tmp_path: Path) -> Path:
    path = tmp_path / "preview.txt"
    path.write_text(PREVIEW)
    return path


def dry_run(preview: Path) -> list[str]:
    return ["mr-note", "--stack", "dev", "--preview", str(preview), "--dry-run"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not the expected shape"),
        ('{"a:b": "plain"}', "not the expected shape"),
    ],
)
def test_secrets_from_that_is_not_pulumi_config_json_stops_with_what_was_expected(
    tmp_path: Path,
    preview: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(content)
    code = main([*dry_run(preview), "--secrets-from", str(config)])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and "pulumi config --show-secrets --json" in err
    assert "Traceback" not in err


def test_secrets_from_with_no_secret_while_the_stack_has_some_warns(
    tmp_path: Path, preview: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"spark-streams:awsRegion": {"value": "eu-west-1", "secret": false}}')
    assert main([*dry_run(preview), "--secrets-from", str(config)]) == 0
    assert "warning: --secrets-from" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["just some text\n", '{"stack": "dev"}'])
def test_a_diff_file_that_is_not_a_diff_stops(
    tmp_path: Path, preview: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    bad = tmp_path / "diff.json"
    bad.write_text(content)
    code = main([*dry_run(preview), "--diff", str(bad)])
    assert code == 1 and "--diff" in capsys.readouterr().err


def test_the_note_is_kept_out_of_the_repository_and_a_dry_run_writes_only_its_output(
    tmp_path: Path, preview: Path
) -> None:
    before = set(PROJECT.iterdir())
    assert main(dry_run(preview)) == 0
    assert set(PROJECT.iterdir()) == before  # nothing written without --output
    out = tmp_path / "note.md"
    assert main([*dry_run(preview), "--output", str(out)]) == 0
    assert out.read_text().startswith("<!-- spark-streams:mr-note stack=dev -->")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".spark-streams/mr-note-dev.md"], cwd=PROJECT, check=False
    )
    assert ignored.returncode == 0  # where the note goes without --output, when posting


# --- what the change costs -----------------------------------------------------------------------


def stream_change(name: str, old: float | None, new: float | None) -> StreamChange:
    def cost(monthly: float | None) -> Cost | None:
        return None if monthly is None else Cost(monthly / 100, monthly / 50, monthly, "USD")

    return StreamChange(name, name, (), capacity=CapacityChange(cost(old), cost(new)))


def priced(
    changed: Mapping[str, tuple[float | None, float | None]],
    unchanged: Mapping[str, float] | None = None,
    warn_above: Percent | MonthlyAmount | None = None,
) -> DiffResult:
    """A priced diff: streams by name with their monthly cost before and after."""
    entries = [stream_change(name, old, new) for name, (old, new) in changed.items()]
    others = {name: Cost(0, 0, monthly, "USD") for name, monthly in (unchanged or {}).items()}
    old_total = sum(o or 0 for o, _ in changed.values()) + sum(
        c.monthly_cost for c in others.values()
    )
    new_total = sum(n or 0 for _, n in changed.values()) + sum(
        c.monthly_cost for c in others.values()
    )
    return DiffResult(
        stack="prod",
        base="main",
        base_commit="0" * 40,
        streams=StreamChanges(
            added=tuple(e for e in entries if e.capacity and e.capacity.old is None),
            removed=tuple(e for e in entries if e.capacity and e.capacity.new is None),
            changed=tuple(
                e for e in entries if e.capacity and None not in (e.capacity.old, e.capacity.new)
            ),
        ),
        cost=CostChange(
            old_monthly=old_total,
            new_monthly=new_total,
            currency="USD",
            warn_above=warn_above,
            unchanged=tuple(UnchangedCost(n, n, c) for n, c in others.items()),
        ),
    )


RISE = {"orders": (1000.0, 1200.0), "inventory": (None, 112.0), "clicks": (300.0, 300.0)}


def note_of(result: DiffResult) -> list[str]:
    note, _ = mrnote.build("prod", PREVIEW, result, [], None)
    return note.splitlines()


def test_the_note_opens_with_the_headline_after_its_marker() -> None:
    lines = note_of(priced(RISE, {"payments": 433.0}))
    assert lines[0] == mrnote.marker("prod")
    # 1733 -> 2045; clicks is listed (say, renamed) but costs the same
    assert lines[1] == "Monthly cost will increase by $312 (+18%) to $2,045 (2 streams changed)"
    table = lines.index("| stream | change | CPU | memory (GiB) | monthly cost |")
    assert lines.index("```mermaid") > table
    assert lines.index("## Pulumi preview of stack `prod`") > lines.index("```mermaid")
    assert sum("| stream | change |" in line for line in lines) == 1  # not again in the diff


def test_the_headline_of_a_decrease() -> None:
    fall = {"orders": (1200.0, 1000.0), "inventory": (112.0, None), "clicks": (300.0, 300.0)}
    result = priced(fall, {"payments": 433.0})
    assert mrnote.headline(result) == (
        "Monthly cost will decrease by $312 (-15%) to $1,733 (2 streams changed)"
    )


def test_the_headline_of_no_change_and_of_a_change_of_cents() -> None:
    assert mrnote.headline(priced({"clicks": (300.0, 300.0)}, {"orders": 1000.0})) == (
        "Monthly cost will not change ($1,300)."
    )
    assert mrnote.headline(priced({"clicks": (300.0, 300.25)})) == (
        "Monthly cost will increase by $0.25 (+0.1%) to $300 (1 stream changed)"
    )


def test_the_headline_when_the_cost_is_not_known() -> None:
    assert mrnote.headline(None).startswith("Monthly cost not estimated")
    unpriced = priced(RISE).model_copy(update={"cost": None})
    assert "without costs" in mrnote.headline(unpriced)
    assert "could not be planned" in mrnote.headline(
        priced(RISE).model_copy(update={"base_error": "boom"})
    )
    result = priced(RISE)
    assert result.cost is not None
    cost = replace(result.cost, old_monthly=None, unknown="the base is too old")
    unknown = result.model_copy(update={"cost": cost})
    lines = note_of(unknown)
    assert lines[1] == "Monthly cost change unknown (now $1,612): the base is too old."
    assert "```mermaid" not in lines  # the base's bars would be drawn as nothing


@pytest.mark.parametrize(
    ("threshold", "warned"),
    [
        (Percent(10), True),
        (Percent(20), False),
        (MonthlyAmount(311), True),
        (MonthlyAmount(312), False),
        (None, False),
    ],
)
def test_a_rise_past_warn_above_adds_a_warning_line(
    threshold: Percent | MonthlyAmount | None, warned: bool
) -> None:
    lines = note_of(priced(RISE, {"payments": 433.0}, warn_above=threshold))
    warnings = [line for line in lines if line.startswith("⚠️ **This change raises")]
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert lines[3] == warnings[0]  # under the headline
        assert f"`pricing.warnAbove: {threshold}`" in warnings[0]


def test_a_fall_never_warns() -> None:
    fall = {"orders": (1200.0, 100.0)}
    assert not any("⚠️" in line for line in note_of(priced(fall, warn_above=MonthlyAmount(0))))


MERMAID = re.compile(
    r"```mermaid\n"
    r"xychart-beta horizontal\n"
    r'    title "[^"\n]+"\n'
    r'    x-axis \[(?P<labels>"[^"\n]+"(?:, "[^"\n]+")*)\]\n'
    r'    y-axis "[^"\n]+" 0 --> (?P<top>[0-9]+)\n'
    r"    bar \[(?P<bars>[0-9]+(?:, [0-9]+)*)\]\n"
    r"```\n"
)


def test_the_chart_is_well_formed_mermaid_with_each_streams_cost_before_and_after() -> None:
    note = "\n".join(note_of(priced(RISE, {"payments": 433.0}))) + "\n"
    (chart,) = MERMAID.finditer(note)  # the whole block matches the grammar, once
    labels = re.findall(r'"([^"]+)"', chart["labels"])
    bars = [int(b) for b in chart["bars"].split(", ")]
    assert dict(zip(labels, bars, strict=True)) == {
        "clicks before": 300,
        "clicks after": 300,
        "inventory before": 0,
        "inventory after": 112,
        "orders before": 1000,
        "orders after": 1200,
        "payments before": 433,
        "payments after": 433,
    }
    assert max(bars) <= int(chart["top"])
