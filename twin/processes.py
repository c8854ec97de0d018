"""What every runner of host processes here shares: the twin's pods (twin/hostpods.py), the data
path's servers and jobs (tests/e2e_data) and the scenarios waiting on either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class WaitError(AssertionError):
    """What a run waited for did not come in time."""


def poll(what: str, timeout: float, probe: Callable[[], T | None], every: float = 0.25) -> T:
    """Calls probe until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def stop_group(process: subprocess.Popen[bytes] | subprocess.Popen[str], grace: float) -> None:
    """SIGTERM to the process's group (it was started in a group of its own, so its children
    go too), SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass(frozen=True)
class Process:
    """A process as /proc/<pid>/stat has it."""

    pid: int
    state: str
    ppid: int
    session: int


def processes() -> Iterator[Process]:
    """Every process of the machine (those that end while they are read are left out)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # After the command's closing parenthesis: state, ppid, pgrp, session.
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        yield Process(int(entry), fields[0], int(fields[1]), int(fields[3]))


def session(sid: int) -> list[int]:
    """The live processes of session ``sid`` (those a process started with ``setsid`` left,
    whatever process group they put themselves in)."""
    return [p.pid for p in processes() if p.state != "Z" and p.session == sid]
