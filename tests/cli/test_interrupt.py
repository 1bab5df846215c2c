"""Signals outside Terraform: one line naming the signal, exit 128 + its number."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Cli


def handles_signals(pid: int) -> bool:
    """Whether the CLI installed its handlers (SIGTERM and SIGHUP caught: Python alone
    catches only SIGINT); /proc/PID/status lists caught signals as a bit mask."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("SigCgt:"):
            caught = int(line.split()[1], 16)
            return all(caught & (1 << (signum - 1)) for signum in (signal.SIGHUP, signal.SIGTERM))
    return False


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [
        (signal.SIGINT, 130, "error: interrupted (Ctrl-C)\n"),
        (signal.SIGTERM, 143, "error: interrupted (SIGTERM)\n"),
    ],
)
def test_signal_while_waiting_for_the_lab_lock(cli: Cli, signum: int, code: int, line: str) -> None:
    from filelock import FileLock

    assert cli("init", "--no-input", "--target", "local").code == 0
    lock_path = (cli.lab / ".mlflowk8s" / "lab.lock").resolve()
    with FileLock(str(lock_path)):
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflowk8s", "add-user", "bob", "--member", "bob@lab.org"],
            cwd=cli.lab, env=cli.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300  # a bound for a hang, not a timing: loaded CI
        # The lock is held throughout, so once its handlers are in, the CLI can only wait.
        while not handles_signals(process.pid):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert err == line
