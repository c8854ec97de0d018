"""CI's own jobs on the twin: a job's script lines read from `.gitlab-ci.yml` and run as a GitLab
runner runs them (one bash, each line in order, stopping at the first failing one), or a step
of the GitHub workflow as its runner runs it, with `pulumi` the twin's CLI and only the
variables the job itself names and a runner sets.

Merge requests as CI meets them (:class:`GitLab`): a bare `origin` the project is pushed to, an
author's clone where each merge request is a commit on the stream files, and the runner's build
directory: a shallow clone, fetched and checked out for each pipeline, where the jobs run (the
twin's CLI runs the program from there, in that clone's own virtualenv, as from a fresh CI
clone). The project checkout itself is only read."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from components import STREAM
from spark_streams.deploy_report import UNCHANGED_OPS, stream_of
from tests.ci_files import github_env, github_script, gitlab_script
from tests.e2e.twin import PROJECT, PULUMI, STATE, Twin


def run_job(
    twin: Twin,
    job: str,
    workdir: Path,
    project: Path = PROJECT,
    variables: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """The GitLab job's script in one bash with errexit, as a GitLab runner does, in `project`
    (the build directory, `CI_PROJECT_DIR`) with the runner's `variables`; its exit and output."""
    env = {"CI_PROJECT_DIR": str(project), **(variables or {})}
    return _run(
        twin, ["bash", "-e", "-o", "pipefail", "-c", gitlab_script(job)], workdir, project, env
    )


def step_env(job: str, step: str, stack: str, workdir: Path) -> dict[str, str]:
    """What a GitHub runner puts in a step's environment for `stack`: the `env` the workflow
    declares for it (secrets and other expressions left out, but the matrix's stack) and the
    runner's files under `workdir`: RUNNER_TEMP, GITHUB_STEP_SUMMARY (step-summary.md),
    GITHUB_OUTPUT (github-output)."""
    matrix_stack = "${{ matrix.stack }}"
    env = {
        name: stack if value == matrix_stack else value
        for name, value in github_env(job, step).items()
        if "${{" not in value or value == matrix_stack
    }
    return env | {
        "GITHUB_WORKSPACE": str(PROJECT),
        "RUNNER_TEMP": str(workdir),
        "GITHUB_STEP_SUMMARY": str(workdir / "step-summary.md"),
        "GITHUB_OUTPUT": str(workdir / "github-output"),
    }


def run_step(twin: Twin, job: str, step: str, workdir: Path) -> tuple[int, str]:
    """A GitHub Actions step's `run` as the runner runs it (`shell: bash`: bash --noprofile
    --norc -eo pipefail), in the project with :func:`step_env`; its exit and output."""
    env = step_env(job, step, twin.stack, workdir)
    assert env.get("STACK") == twin.stack, f"{job} deploys {env.get('STACK')}, not {twin.stack}"
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", github_script(job, step)]
    return _run(twin, command, workdir, PROJECT, env)


def _run(
    twin: Twin, command: list[str], workdir: Path, project: Path, variables: Mapping[str, str]
) -> tuple[int, str]:
    """`command` in `project` with only what a runner's environment holds, `pulumi` the twin's
    CLI; its exit and output."""
    shims = STATE / "ci-bin"
    shims.mkdir(exist_ok=True)
    # A script, not a link: twin/pulumi finds the twin from where it lies, or from the state
    # this run's twin has (the job's environment is the runner's only).
    (shims / "pulumi").write_text(f'#!/bin/sh\nTWIN_STATE="{STATE}" exec "{PULUMI}" "$@"\n')
    (shims / "pulumi").chmod(0o755)
    uv = os.environ.get("UV")
    assert uv, "run under `uv run` (make e2e): the jobs call uv"
    env = {
        "PATH": f"{shims}:{Path(uv).parent}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(workdir)),
        "STACK": twin.stack,
        "TMPDIR": str(workdir),
        # The runner's cache (here the machine's uv cache, which `make sync` filled) holds all
        # that uv.lock names and the project's build backend: no job reaches an index.
        "UV_OFFLINE": "1",
        **variables,
    }
    result = subprocess.run(
        command,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "advice.detachedHead=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "twin",
            "GIT_AUTHOR_EMAIL": "twin@example.invalid",
            "GIT_COMMITTER_NAME": "twin",
            "GIT_COMMITTER_EMAIL": "twin@example.invalid",
        },
    )
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


class GitLab:
    """The project's repository as GitLab holds it, an author who pushes merge requests to it,
    and a runner's build directory (under `root`)."""

    def __init__(self, root: Path, streams: Path) -> None:
        """`main` is the project as it is on disk (committed or not: the e2e run tests the
        working tree) with `streams` as its stream files: what the stack has deployed."""
        self.origin, self.author, self.build = root / "origin.git", root / "author", root / "build"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.origin))
        git(root, "clone", "--quiet", str(self.origin), str(self.author))
        listed = git(PROJECT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
        for name in filter(None, listed.split("\0")):
            source = PROJECT / name
            if source.is_file() and not name.startswith("streams/"):
                (self.author / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, self.author / name)
        shutil.copytree(
            streams, self.author / "streams", ignore=shutil.ignore_patterns("__pycache__")
        )
        self.main = self.commit("main", "the project as deployed")
        # The runner's first checkout: shallow, as GitLab fetches (GIT_DEPTH).
        git(root, "clone", "--quiet", "--depth", "1", f"file://{self.origin}", str(self.build))

    def commit(self, branch: str, message: str) -> str:
        """Commits the author's working tree on `branch`, pushes it; its commit id."""
        git(self.author, "checkout", "--quiet", "-B", branch)
        git(self.author, "add", "--all")
        git(self.author, "commit", "--quiet", "--allow-empty", "-m", message)
        git(self.author, "push", "--quiet", "--force", "origin", branch)
        return git(self.author, "rev-parse", "HEAD")

    def merge(self, branch: str) -> str:
        """The merge request's branch fast-forwarded onto main; main's new commit."""
        git(self.author, "checkout", "--quiet", "main")
        git(self.author, "merge", "--quiet", "--ff-only", branch)
        git(self.author, "push", "--quiet", "origin", "main")
        self.main = git(self.author, "rev-parse", "HEAD")
        return self.main

    def checkout(self, ref: str) -> Path:
        """The runner's fetch strategy: the build directory fetched (shallow) at `ref`, checked
        out, cleaned of what the previous pipeline left but the virtualenvs (GitLab keeps uv's
        cache; here the environments are that cache)."""
        git(self.build, "fetch", "--quiet", "--depth", "1", "origin", ref)
        git(self.build, "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD")
        git(self.build, "clean", "--quiet", "-ffdx", "-e", "/.venv/", "-e", "/policies/venv/")
        return self.build


# `pulumi preview --diff`'s text: a step's line ("    + type: (create)"), then its URN's.
_STEP = re.compile(r"^\s*[-+~<>=* ]*[\w./-]+(?::[\w./-]+)*: \((?P<op>[a-z-]+)\)")
_URN = re.compile(r"^\s*\[urn=(?P<urn>urn:pulumi:[^\]]+)\]")


def preview_steps(preview: str) -> dict[str, str]:
    """URN -> what `pulumi preview --diff` (its text, as a user reads it) says it does to that
    resource: create, update, replace, delete, ...; resources it leaves as they are omitted."""
    steps: dict[str, str] = {}
    op: str | None = None
    for line in preview.splitlines():
        if step := _STEP.match(line):
            op = step["op"]
        elif (urn := _URN.match(line)) and op is not None:
            if op not in UNCHANGED_OPS:
                steps[urn["urn"]] = op
            op = None
    return steps


def note_streams(note: str) -> dict[str, str]:
    """Stream name -> the section of the note's stream diff it is listed in (added, changed,
    removed), as a reviewer reads it."""
    found: dict[str, str] = {}
    section: str | None = None
    for line in note.splitlines():
        if line.startswith("#### "):
            title = line.removeprefix("#### ").lower()
            section = title if title in ("added", "changed", "removed") else None
        elif section and (entry := re.match(r"^- \*\*`([^`]+)`\*\*", line)):
            found[entry[1]] = section
    return found


def preview_streams(steps: Mapping[str, str], parents: Mapping[str, str]) -> dict[str, str]:
    """Stream identity -> added, removed or changed, as the preview's steps say; `parents` maps
    a URN to its parent's (the stack's state)."""
    kinds: dict[str, str] = {}
    for urn, op in steps.items():
        identity = stream_of(urn, dict(parents))
        if identity is None:
            continue
        if urn.split("::", 3)[2].split("$")[-1] == STREAM:  # the stream's component itself
            kinds[identity] = {"create": "added", "delete": "removed"}.get(op, "changed")
        else:
            kinds.setdefault(identity, "changed")
    return kinds
