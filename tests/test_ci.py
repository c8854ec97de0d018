"""The CI definitions: valid against their published schemas (vendored by check-jsonschema),
the right jobs for each kind of pipeline, and their scripts run under bash with stub tools."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import engine_events as ee
from tests.ci_files import GITHUB, GITLAB, github_script, github_step, gitlab_job, gitlab_script
from tests.conftest import PROJECT


@pytest.mark.parametrize(
    ("schema", "path"), [("vendor.gitlab-ci", GITLAB), ("vendor.github-workflows", GITHUB)]
)
def test_ci_definitions_match_their_schema(schema: str, path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / ".gitlab-ci.yml"
    broken.write_text("test:\n  script: 42\n  when: sometimes\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.gitlab-ci",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1


def test_gitlab_pipeline_shape() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert "make test" in pipeline["test"]["script"]
    preview = pipeline["preview"]
    assert {m["STACK"] for m in preview["parallel"]["matrix"]} == {"dev", "prod"}
    assert any("mr-note" in line for line in preview["script"])
    assert pipeline[".aws-oidc"]["id_tokens"]["AWS_ID_TOKEN"]["aud"] == "sts.amazonaws.com"
    dev, prod = pipeline["deploy-dev"], pipeline["deploy-prod"]
    assert dev["resource_group"] != prod["resource_group"]
    assert prod["rules"][0]["when"] == "manual" and prod["environment"]["name"] == "prod"
    assert "when" not in dev["rules"][0]
    image = pipeline["default"]["image"]
    assert ":" in image and not image.endswith(":latest")


def test_ci_jobs_that_reach_the_cluster_have_the_aws_cli() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    # the kubeconfig runs `aws eks get-token`, and the Pulumi image ships no aws
    assert any("awscli==" in line for line in pipeline[".aws-oidc"]["before_script"])
    assert pipeline["preview"]["extends"] == ".aws-oidc"
    assert pipeline[".deploy"]["extends"] == ".aws-oidc"


@pytest.mark.parametrize(("preview_exit", "job_exit"), [(3, 3), (0, 1)])
def test_a_failed_preview_still_updates_the_note_then_fails_the_job(
    preview_exit: int, job_exit: int, tmp_path: Path
) -> None:
    # GitLab runs the lines in one bash with errexit and pipefail; pulumi, uv, git are stubs here.
    # The preview fails, and so does reading the secrets (as when the backend is unreachable).
    # The job still posts its note, then fails with the preview's status.
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls"
    (stubs / "pulumi").write_text(
        f'#!/bin/sh\necho "pulumi $*" >> {calls}\n'
        f'case "$1" in preview) echo "error: policy violation"; exit {preview_exit};; '
        'config) echo "error: cannot decrypt" >&2; exit 255;; esac\n'
    )
    for tool in ("uv", "git"):
        (stubs / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
    # the stream diff fails too (an invalid stream file)
    (stubs / "uv").write_text(
        f'#!/bin/sh\necho "uv $*" >> {calls}\n'
        'case "$*" in *" diff "*) echo "1 problem: streams/x.py" >&2; exit 1;; esac\n'
    )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    script = yaml.safe_load(GITLAB.read_text())["preview"]["script"]
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", "\n".join(script)],
        cwd=tmp_path,
        env={
            "PATH": f"{stubs}:/usr/bin:/bin",
            "STACK": "dev",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": "HEAD",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == job_exit  # the preview's failure first, else the diff's
    assert "policy violation" in (tmp_path / "preview-dev.txt").read_text()
    (note,) = [c for c in calls.read_text().splitlines() if " mr-note " in c]
    assert note.startswith("uv run --frozen spark-streams mr-note --stack dev")
    # the diff failed: mr-note computes it itself and says why in the note
    assert "--diff" not in note
    assert "1 problem: streams/x.py" in (tmp_path / "diff-dev.json").read_text()


def test_github_previews_never_borrow_another_stacks_role() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    preview = workflow["jobs"]["preview"]
    roles = {m["stack"]: m["role"] for m in preview["strategy"]["matrix"]["include"]}
    assert roles == {"dev": "AWS_PREVIEW_ROLE_ARN_DEV", "prod": "AWS_PREVIEW_ROLE_ARN_PROD"}
    (credentials,) = [
        s for s in preview["steps"] if "configure-aws-credentials" in s.get("uses", "")
    ]
    assert credentials["with"]["role-to-assume"] == "${{ vars[matrix.role] }}"


# --- which jobs a pipeline runs ---------------------------------------------------------------

_CLAUSE = re.compile(r'^\$(\w+)(?:\s*(==|!=)\s*(?:"([^"]*)"|\$(\w+)))?$')


def _holds(condition: str, variables: dict[str, str]) -> bool:
    """GitLab's `rules:if`, for the forms this pipeline uses: `&&` of `$A`, `$A == "x"`,
    `$A != "x"`, `$A == $B`. Anything else fails the test rather than being guessed."""
    for clause in condition.split("&&"):
        match = _CLAUSE.match(clause.strip())
        assert match, f"rules:if form not understood by this test: {clause!r}"
        name, operator, literal, other = match.groups()
        value = variables.get(name, "")
        if operator is None:
            if not value:
                return False
            continue
        expected = literal if literal is not None else variables.get(other, "")
        if (value == expected) != (operator == "=="):
            return False
    return True


def _included(rules: list[dict[str, Any]] | None, variables: dict[str, str]) -> bool:
    if rules is None:
        return True
    for rule in rules:
        if "if" not in rule or _holds(rule["if"], variables):
            when: str = rule.get("when", "on_success")
            return when != "never"
    return False


NOT_JOBS = {"workflow", "stages", "variables", "default", "include"}


def gitlab_jobs_run(variables: dict[str, str]) -> set[str]:
    pipeline = yaml.safe_load(GITLAB.read_text())
    if not _included(pipeline["workflow"]["rules"], variables):
        return set()
    names = [n for n in pipeline if n not in NOT_JOBS and not n.startswith(".")]
    return {n for n in names if _included(gitlab_job(pipeline, n).get("rules"), variables)}


MAIN = {"CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main"}


@pytest.mark.parametrize(
    ("variables", "jobs"),
    [
        ({**MAIN, "CI_PIPELINE_SOURCE": "schedule"}, {"drift-dev", "drift-prod"}),
        ({**MAIN, "CI_PIPELINE_SOURCE": "push"}, {"test", "deploy-dev", "deploy-prod"}),
        ({**MAIN, "CI_PIPELINE_SOURCE": "web"}, {"test", "deploy-dev", "deploy-prod"}),
        (
            {"CI_DEFAULT_BRANCH": "main", "CI_PIPELINE_SOURCE": "merge_request_event"},
            {"test", "preview"},
        ),
        (
            {"CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "x", "CI_PIPELINE_SOURCE": "push"},
            {"test"},
        ),
    ],
)
def test_a_schedule_runs_the_drift_jobs_and_nothing_else(
    variables: dict[str, str], jobs: set[str]
) -> None:
    assert gitlab_jobs_run(variables) == jobs


def test_the_rule_reader_understands_the_forms_it_claims() -> None:
    assert _holds('$A == "x" && $B', {"A": "x", "B": "1"})
    assert not _holds('$A == "x" && $B', {"A": "x"})
    assert _holds("$A == $B", {"A": "m", "B": "m"}) and not _holds("$A != $B", {"A": "m", "B": "m"})
    with pytest.raises(AssertionError):
        _holds("$A =~ /x/", {})


def test_gitlab_drift_jobs_preview_each_stack_with_its_preview_role() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    for stack in ("dev", "prod"):
        drift = gitlab_job(pipeline, f"drift-{stack}")
        assert drift["variables"] == {
            "STACK": stack,
            "AWS_ROLE_ARN": f"$AWS_PREVIEW_ROLE_ARN_{stack.upper()}",
        }
        (preview,) = [line for line in drift["script"] if "pulumi preview" in line]
        assert '--stack "$STACK"' in preview
        assert "--refresh" in preview and "--expect-no-changes" in preview
        assert "--event-log" in preview
        assert any("deploy_report --drift" in line for line in drift["script"])
        assert drift["artifacts"] == {
            "when": "always",
            "paths": ["drift-$STACK.md"],
            "expire_in": "4 weeks",
        }
        # never at the same time as a deploy of the stack, whose changes would read as drift
        assert drift["resource_group"] == pipeline[f"deploy-{stack}"]["resource_group"]
        assert "AWS_ID_TOKEN" in drift["id_tokens"]  # from .aws-oidc, through .drift


def test_github_runs_only_the_drift_check_on_its_schedule() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert [entry["cron"] for entry in triggers["schedule"]] == ["37 5 * * *"]
    jobs = workflow["jobs"]
    scheduled = "github.event_name == 'schedule'"
    assert {name for name, job in jobs.items() if scheduled in job["if"]} == {"drift"}
    for name in ("test", "preview", "deploy-dev", "deploy-prod"):
        assert "schedule" not in jobs[name]["if"] and "workflow_dispatch" not in jobs[name]["if"]
    drift = jobs["drift"]
    assert drift["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    roles = {m["stack"]: m["role"] for m in drift["strategy"]["matrix"]["include"]}
    assert roles == {"dev": "AWS_PREVIEW_ROLE_ARN_DEV", "prod": "AWS_PREVIEW_ROLE_ARN_PROD"}
    (credentials,) = [s for s in drift["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials["with"]["role-to-assume"] == "${{ vars[matrix.role] }}"
    check = github_step(drift, "check")
    assert "--refresh --expect-no-changes" in check["run"]
    assert drift["strategy"]["fail-fast"] is False


# --- deploys: --continue-on-error, the report, and the job's status ---------------------------


DEPLOY_SCRIPTS: dict[str, Callable[[], str]] = {
    "gitlab": lambda: gitlab_script("deploy-dev"),
    "github-dev": lambda: github_script("deploy-dev", "Deploy"),
    "github-prod": lambda: github_script("deploy-prod", "Deploy"),
}


def test_deploys_continue_on_error_and_run_the_report() -> None:
    for script in DEPLOY_SCRIPTS.values():
        (up,) = [line for line in script().splitlines() if "pulumi up" in line]
        assert (
            "--continue-on-error" in up and "--event-log" in up and "--policy-pack policies" in up
        )
        assert "python -m spark_streams.deploy_report --events" in script()
    # one script for both GitHub stacks (the stack comes from the step's env)
    assert DEPLOY_SCRIPTS["github-dev"]() == DEPLOY_SCRIPTS["github-prod"]()
    workflow = yaml.safe_load(GITHUB.read_text())
    for stack in ("dev", "prod"):
        assert github_step(workflow["jobs"][f"deploy-{stack}"], "Deploy")["env"]["STACK"] == stack


def test_every_command_writing_an_event_log_enables_pulumis_debug_commands() -> None:
    # `--event-log` exists only while PULUMI_DEBUG_COMMANDS=true (Pulumi 3.x): without it the
    # real CLI stops at `unknown flag: --event-log` before deploying or checking anything.
    lines = [*GITLAB.read_text().splitlines(), *GITHUB.read_text().splitlines()]
    commands = [
        line.strip().removeprefix("- ")
        for line in lines
        if "--event-log" in line and not line.strip().startswith("#")
    ]
    assert len(commands) == 5  # GitLab's deploy and drift; GitHub's two deploys and drift
    for command in commands:
        assert command.startswith("PULUMI_DEBUG_COMMANDS=true pulumi "), command


@dataclass
class Job:
    """A job script run as CI runs it (bash -eo pipefail), with stub pulumi, uv and gh."""

    tmp_path: Path
    pulumi_exit: int = 0
    events: str | None = ""  # what pulumi writes to --event-log; None: it never starts
    env: dict[str, str] = field(default_factory=dict)

    def run(self, script: str) -> subprocess.CompletedProcess[str]:
        stubs = self.tmp_path / "bin"
        stubs.mkdir(exist_ok=True)
        calls = self.tmp_path / "calls"
        events = self.tmp_path / "pulumi-writes.jsonl"
        copy = ""
        if self.events is not None:
            events.write_text(self.events)
            copy = f'[ "$1" = --event-log ] && cp {events} "$2"; '
        (stubs / "pulumi").write_text(
            f'#!/bin/sh\necho "pulumi $*" >> {calls}\n'
            f"while [ $# -gt 0 ]; do {copy}shift; done\n"
            f'echo "pulumi output"; exit {self.pulumi_exit}\n'
        )
        # `uv run --frozen python -m ...` runs the real report, from this checkout
        (stubs / "uv").write_text(
            f'#!/bin/sh\necho "uv $*" >> {calls}\n[ "$1 $2" = "run --frozen" ] && shift 2\n'
            f'[ "$1" = python ] && shift\nexec {sys.executable} "$@"\n'
        )
        # gh answers `issue list` (after its --jq) and `issue view` from the environment
        (stubs / "gh").write_text(
            f'#!/bin/sh\nprintf "gh" >> {calls}; printf " <%s>" "$@" >> {calls}; echo >> {calls}\n'
            'case "$1 $2" in\n'
            '  "issue list") [ -n "$OPEN_ISSUE" ] && echo "$OPEN_ISSUE";;\n'
            '  "issue view") cat "$OPEN_ISSUE_BODY";;\n'
            "esac\nexit 0\n"
        )
        for stub in stubs.iterdir():
            stub.chmod(0o755)
        return subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=self.tmp_path,
            env={
                "PATH": f"{stubs}:/usr/bin:/bin",
                "PYTHONPATH": str(PROJECT),
                "TMPDIR": str(self.tmp_path),
                "RUNNER_TEMP": str(self.tmp_path),
                "GITHUB_STEP_SUMMARY": str(self.tmp_path / "step-summary.md"),
                "GITHUB_OUTPUT": str(self.tmp_path / "github-output"),
                "STACK": "dev",
                **self.env,
            },
            capture_output=True,
            text=True,
            check=False,
        )

    @property
    def calls(self) -> str:
        path = self.tmp_path / "calls"
        return path.read_text() if path.exists() else ""


def _summary_of(name: str, job: Job) -> str:
    path = job.tmp_path / (
        "step-summary.md" if name.startswith("github") else "deploy-report-dev.md"
    )
    return path.read_text()


@pytest.mark.parametrize("name", DEPLOY_SCRIPTS)
def test_a_failed_deploy_still_reports_which_streams_failed_and_fails_the_job(
    name: str, tmp_path: Path
) -> None:
    job = Job(tmp_path, pulumi_exit=255, events=ee.lines(ee.one_stream_fails()))
    result = job.run(DEPLOY_SCRIPTS[name]())
    assert result.returncode == 255, result.stderr
    assert "pulumi output" in result.stdout  # pulumi's own log first
    assert (
        "Deploy of `dev`: 1 stream(s) did not reach their state (orders-ingest)." in result.stdout
    )
    assert "failed stream orders-ingest: aws:iam/role:Role orders-ingest-role" in result.stdout
    assert "| `orders-ingest` |" in _summary_of(name, job)
    assert "--continue-on-error" in job.calls


@pytest.mark.parametrize("name", DEPLOY_SCRIPTS)
def test_a_deploy_that_never_started_fails_with_pulumis_status_and_says_so(
    name: str, tmp_path: Path
) -> None:
    job = Job(tmp_path, pulumi_exit=255, events=None)  # e.g. the backend refused the login
    result = job.run(DEPLOY_SCRIPTS[name]())
    assert result.returncode == 255
    assert "Deploy of `dev`: no event log to read (pulumi exited 255)." in result.stdout


@pytest.mark.parametrize("name", DEPLOY_SCRIPTS)
def test_a_clean_deploy_passes_and_says_every_stream_reached_its_state(
    name: str, tmp_path: Path
) -> None:
    events = ee.lines([*ee.applied_stream("clicks", "update"), ee.summary(update=2)])
    result = Job(tmp_path, events=events).run(DEPLOY_SCRIPTS[name]())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every stream reached its state (1 stream(s) in the update)" in result.stdout


def test_a_report_that_cannot_be_written_fails_a_successful_deploy(tmp_path: Path) -> None:
    # Never silent: with pulumi's status 0, the report's own failure is the job's.
    job = Job(tmp_path, events=ee.lines([ee.summary()]), env={"GITHUB_STEP_SUMMARY": str(tmp_path)})
    result = job.run(DEPLOY_SCRIPTS["github-dev"]())
    assert result.returncode == 1
    assert "cannot write the report" in result.stderr


# --- drift ------------------------------------------------------------------------------------


def drifted() -> str:
    app = ee.child_urn("orders-ingest", "kubernetes:apiextensions.k8s.io:CustomResource", "app")
    parent = ee.stream_urn("orders-ingest")
    return ee.lines(
        [
            ee.pre(app, "refresh", parent, diffs=["spec"], planning=True),
            ee.pre(app, "update", parent, diffs=["spec"], planning=True),
            ee.error("error: no changes were expected but changes were proposed"),
            ee.summary(update=1),
        ]
    )


DRIFT_SCRIPTS: dict[str, Callable[[], str]] = {
    "gitlab": lambda: gitlab_script("drift-dev"),
    "github": lambda: github_script("drift", "check"),
}


@pytest.mark.parametrize("name", DRIFT_SCRIPTS)
def test_drift_fails_the_check_with_the_report_as_artifact(name: str, tmp_path: Path) -> None:
    job = Job(tmp_path, pulumi_exit=255, events=drifted())
    result = job.run(DRIFT_SCRIPTS[name]())
    assert result.returncode == 255
    assert "pulumi preview --stack dev --refresh --expect-no-changes" in job.calls
    artifact = (tmp_path / "drift-dev.md").read_text()
    assert artifact.startswith(
        "### Drift check of `dev`: drift in 1 resource(s), streams orders-ingest"
    )
    assert "changed outside Pulumi: spec; update: spec" in artifact
    if name == "github":
        assert (tmp_path / "github-output").read_text() == "drift=true\n"
        assert (tmp_path / "step-summary.md").read_text() == artifact


@pytest.mark.parametrize("name", DRIFT_SCRIPTS)
def test_no_drift_passes_the_check(name: str, tmp_path: Path) -> None:
    job = Job(tmp_path, events=ee.lines([*ee.applied_stream("clicks"), ee.summary(same=3)]))
    result = job.run(DRIFT_SCRIPTS[name]())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Drift check of `dev`: no drift." in result.stdout


def _drift_issue_job(tmp_path: Path, open_issue: str = "", body: str = "") -> Job:
    (tmp_path / "drift-dev.md").write_text("### Drift check of `dev`: drift in 1 resource(s)\n")
    (tmp_path / "issue-body.md").write_text(body)
    return Job(
        tmp_path,
        env={
            "OPEN_ISSUE": open_issue,
            "OPEN_ISSUE_BODY": str(tmp_path / "issue-body.md"),
            "RUN_URL": "https://github.example/runs/7",
        },
    )


def test_drift_opens_the_stacks_issue_when_there_is_none(tmp_path: Path) -> None:
    job = _drift_issue_job(tmp_path)
    result = job.run(github_script("drift", "Open or update"))
    assert result.returncode == 0, result.stderr
    calls = job.calls.splitlines()
    assert calls[0].startswith("gh <issue> <list> <--state> <open> <--label> <drift>")
    assert 'select(.title == "Drift in stack dev")' in calls[0]
    assert calls[1].startswith("gh <label> <create> <drift>") and "<--force>" in calls[1]
    assert calls[2].startswith(
        "gh <issue> <create> <--title> <Drift in stack dev> <--label> <drift> <--body-file>"
    )
    assert len(calls) == 3
    body = (tmp_path / "drift-issue.md").read_text()
    assert body.startswith("### Drift check of `dev`: drift in 1 resource(s)\n")


def test_a_changed_drift_updates_the_open_issue_and_says_so(tmp_path: Path) -> None:
    job = _drift_issue_job(tmp_path, open_issue="12", body="### an older report\n")
    assert job.run(github_script("drift", "Open or update")).returncode == 0
    calls = job.calls.splitlines()
    assert [c.split(" <--")[0] for c in calls] == [
        "gh <issue> <list>",
        "gh <issue> <view> <12>",
        "gh <issue> <edit> <12>",
        "gh <issue> <comment> <12>",
    ]
    assert "https://github.example/runs/7" in calls[3]


def test_the_same_drift_again_leaves_the_issue_alone(tmp_path: Path) -> None:
    job = _drift_issue_job(tmp_path, open_issue="12")
    assert job.run(github_script("drift", "Open or update")).returncode == 0
    (tmp_path / "issue-body.md").write_text((tmp_path / "drift-issue.md").read_text())
    (tmp_path / "calls").unlink()
    assert job.run(github_script("drift", "Open or update")).returncode == 0
    assert [c.split(" <--")[0] for c in job.calls.splitlines()] == [
        "gh <issue> <list>",
        "gh <issue> <view> <12>",
    ]


@pytest.mark.parametrize(("open_issue", "closed"), [("12", True), ("", False)])
def test_no_drift_closes_the_stacks_issue(open_issue: str, closed: bool, tmp_path: Path) -> None:
    job = _drift_issue_job(tmp_path, open_issue=open_issue)
    assert job.run(github_script("drift", "Close")).returncode == 0
    closes = [c for c in job.calls.splitlines() if c.startswith("gh <issue> <close>")]
    assert closes == (
        ["gh <issue> <close> <12> <--comment> <No drift any more (https://github.example/runs/7).>"]
        if closed
        else []
    )


def test_the_issue_steps_run_on_drift_only_and_the_close_only_after_a_clean_check() -> None:
    drift = yaml.safe_load(GITHUB.read_text())["jobs"]["drift"]
    assert github_step(drift, "Open or update")["if"] == (
        "${{ !cancelled() && steps.check.outputs.drift == 'true' }}"
    )
    assert github_step(drift, "Close")["if"] == "${{ success() }}"
    for step in ("Open or update", "Close"):
        assert github_step(drift, step)["env"]["GH_TOKEN"] == "${{ github.token }}"
