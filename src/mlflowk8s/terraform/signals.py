"""SIGINT, SIGTERM and SIGHUP while mlflowk8s runs, and Terraform never left without a parent.

Terraform runs in its own session (the terminal's Ctrl-C reaches only us), so if we died it
would lose its reader and die at its next output line: state not saved, lock held. Each of
the three signals is therefore handled the same way: forwarded to every running Terraform
as SIGINT (it stops cleanly, saves its state, releases the lock) while we keep reading it;
a second signal forwards a second SIGINT (Terraform's own "exit now") to a command that
changes state (apply), which is never killed; one that changes nothing (plan) is killed.
Outside a Terraform run a signal raises :class:`~mlflowk8s.errors.Interrupted`, so that
``finally`` blocks run (saved plans are removed) and the CLI exits 128 + the signal number.

After SIGHUP the terminal is gone: stdout and stderr are pointed at the environment's
``last-run.log`` (or /dev/null before it is known), so the outcome is still written down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowk8s.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}
LAST_RUN_LOG = "last-run.log"


def signal_name(signum: int) -> str:
    return NAMES.get(signal.Signals(signum), signal.Signals(signum).name)


class Signals:
    """One per process: the signals received, the Terraform processes to forward them to.

    Terraform runs started from worker threads (parallel plans) register here too, while
    the main thread holds :meth:`forwarding`.
    """

    def __init__(self) -> None:
        # Each running Terraform, and whether it changes state (then it is never killed).
        self.processes: dict[subprocess.Popen[str], bool] = {}
        self.received: list[int] = []
        self.log_path: Path | None = None
        self.detached = False
        # Called after each forwarded signal (in the main thread, by the handler).
        self.on_forward: list[Callable[[], None]] = []
        self._depth = 0

    @property
    def interrupts(self) -> int:
        return len(self.received)

    @property
    def first(self) -> int | None:
        return self.received[0] if self.received else None

    # -- the handlers ------------------------------------------------------------------
    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if signum == signal.SIGHUP:
            self.detach_terminal()
        for process, changes in list(self.processes.items()):
            if process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                if len(self.received) == 1 or changes:
                    # Twice: Terraform's own "exit now", which still writes no half state.
                    process.send_signal(signal.SIGINT)
                else:
                    os.killpg(process.pid, signal.SIGKILL)  # it changes nothing
        for tell in list(self.on_forward):
            tell()

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if signum == signal.SIGHUP:
            self.detach_terminal()
        # Not KeyboardInterrupt: Typer would turn that into a silent exit code.
        raise interrupted(signum, f"interrupted ({signal_name(signum)})")

    def install_top_level(self) -> None:
        """At start-up (main thread): each of the signals raises Interrupted."""
        for signum in HANDLED:
            signal.signal(signum, self._raise)

    @contextlib.contextmanager
    def forwarding(self) -> Iterator[Signals]:
        """While Terraform runs: signals are forwarded to it instead of raising."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous: dict[int, Any] = {}
        if self._depth == 0:
            self.received = []
            previous = {signum: signal.signal(signum, self._forward) for signum in HANDLED}
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    # -- after SIGHUP --------------------------------------------------------------------
    def detach_terminal(self) -> None:
        """Write what follows to the log instead of the terminal that hung up."""
        if self.detached:
            return
        self.detached = True
        target = self.log_path
        try:
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            else:
                fd = os.open(os.devnull, os.O_WRONLY)
        except OSError:
            fd = os.open(os.devnull, os.O_WRONLY)
        for stream_fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(fd, stream_fd)
        os.close(fd)


SIGNALS = Signals()


def interrupted(signum: int, message: str) -> Interrupted:
    error = Interrupted(message)
    error.exit_code = 128 + signum
    return error


def set_run_log(path: Path) -> None:
    """Where the outcome goes when the terminal hangs up (the environment's work folder)."""
    SIGNALS.log_path = path
