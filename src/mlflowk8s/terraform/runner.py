"""A thin Terraform runner: subprocess, ``-json`` events, typed results and errors, signals.

Not python-terraform (DESIGN.md says why). Every command runs with ``-input=false`` in its
own session, so the terminal's signals reach only us; :mod:`mlflowk8s.terraform.signals`
forwards SIGINT, SIGTERM and SIGHUP to it as SIGINT and we read it to its end (it stops
cleanly and releases the state lock, then we raise :class:`~mlflowk8s.errors.Interrupted`).
Commands that only read (init, output, state list) have a deadline, so an unreachable state
bucket cannot hang a run before anything changed. A state Terraform could not save
(``errored.tfstate``) stops every later run of the root until it is pushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlflowk8s.errors import Interrupted, OperationError, UsageError
from mlflowk8s.terraform.binary import base_env
from mlflowk8s.terraform.events import EventHandler, collect, parse_event
from mlflowk8s.terraform.results import (
    RunResult,
    StateLocked,
    StateNotSaved,
    TerraformError,
    lock_info,
)
from mlflowk8s.terraform.signals import SIGNALS, Signals, interrupted, signal_name

# Seconds a read-only command (init, output, state list) may take; tests make it short.
STATE_TIMEOUT_ENV = "MLFLOWK8S_STATE_TIMEOUT"
DEFAULT_STATE_TIMEOUT = 180.0
ERRORED_STATE = "errored.tfstate"


def state_timeout() -> float:
    text = os.environ.get(STATE_TIMEOUT_ENV, "")
    try:
        seconds = float(text) if text else DEFAULT_STATE_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86400:
        raise UsageError(f"{STATE_TIMEOUT_ENV}={text!r}: give seconds between 1 and 86400")
    return seconds


def forwarding_signals() -> contextlib.AbstractContextManager[Signals]:
    """Hold in the main thread while Terraform runs in worker threads."""
    return SIGNALS.forwarding()


class Terraform:
    """One Terraform root in a work folder (``cwd``), with the environment to run it in.

    ``on_interrupt(count, signum)`` is told each signal forwarded to a running Terraform.
    """

    def __init__(
        self,
        binary: Path,
        cwd: Path,
        root_name: str,
        env: Mapping[str, str] | None = None,
        unlock_command: str = "mlflowk8s unlock {lock_id}",
        on_interrupt: Callable[[int, int], None] | None = None,
    ) -> None:
        self.binary = binary
        self.cwd = cwd
        self.root_name = root_name
        self.env = base_env(os.environ if env is None else env)
        self.unlock_command = unlock_command
        self.on_interrupt = on_interrupt

    # -- commands ------------------------------------------------------------------
    def init(self, backend_config: Mapping[str, str]) -> RunResult:
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        args += [f"-backend-config={key}={value}" for key, value in backend_config.items()]
        return self._checked("init", self.run(args, deadline=state_timeout()))

    def plan(
        self,
        out: Path,
        var_files: Sequence[Path] = (),
        variables: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        on_event: EventHandler | None = None,
    ) -> RunResult:
        # A held lock fails at once (another run is active); it names its holder.
        args = ["plan", "-input=false", "-json", "-lock-timeout=0s", f"-out={out}"]
        args += ["-destroy"] if destroy else []
        args += self._inputs(var_files, variables, targets)
        try:
            result = self._checked("plan", self.run(args, on_event=on_event, json_ui=True))
        except BaseException:
            out.unlink(missing_ok=True)  # an interrupted or failed plan may have left it
            raise
        with contextlib.suppress(OSError):
            out.chmod(0o600)  # a saved plan holds every input value
        return result

    def apply(self, plan_file: Path, on_event: EventHandler | None = None) -> RunResult:
        args = ["apply", "-input=false", "-json", "-lock-timeout=0s", str(plan_file)]
        result = self.run(args, on_event=on_event, json_ui=True, changes=True)
        return self._checked("apply", result)

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json`` as {name: value}; {} when the state has none."""
        run = self.run(["output", "-json", "-no-color"], deadline=state_timeout())
        result = self._checked("output", run)
        try:
            raw = json.loads(result.stdout_text or "{}")
        except ValueError as exc:
            raise OperationError(f"terraform output ({self.root_name}) is not JSON") from exc
        return {name: item.get("value") for name, item in raw.items()}

    def state_list(self, *prefixes: str) -> list[str]:
        """Resource addresses in the state (only those under ``prefixes`` when given)."""
        run = self.run(["state", "list"], deadline=state_timeout())
        result = self._checked("state list", run)
        found = [line.strip() for line in result.stdout_text.splitlines() if line.strip()]
        if not prefixes:
            return found
        return [
            a for a in found if any(a == p or a.startswith((p + ".", p + "[")) for p in prefixes)
        ]

    def state_rm(self, addresses: Sequence[str]) -> None:
        """Forget resources that no longer exist (without destroying anything)."""
        if addresses:
            self._checked("state rm", self.run(["state", "rm", *addresses], changes=True))

    def force_unlock(self, lock_id: str) -> RunResult:
        # Allowed with an errored.tfstate waiting: pushing it needs the lock free.
        args = ["force-unlock", "-force", "-no-color", lock_id]
        return self.run(args, changes=True, saved_state_check=False)

    # -- machinery -----------------------------------------------------------------
    @staticmethod
    def _inputs(
        var_files: Sequence[Path], variables: Mapping[str, str] | None, targets: Sequence[str]
    ) -> list[str]:
        args = [f"-var-file={path}" for path in var_files]
        args += [f"-var={key}={value}" for key, value in (variables or {}).items()]
        args += [f"-target={target}" for target in targets]
        return args

    def _checked(self, command: str, result: RunResult) -> RunResult:
        if result.code == 0:
            return result
        lock = lock_info(result)
        if lock is not None:
            raise StateLocked(self.root_name, lock, self._unlock(lock.lock_id))
        raise TerraformError(self.root_name, command, result)

    def _unlock(self, lock_id: str) -> str:
        return self.unlock_command.format(lock_id=lock_id)

    @property
    def errored_state(self) -> Path:
        """Where Terraform writes a state it could not save to the backend."""
        return self.cwd / ERRORED_STATE

    def check_saved_state(self) -> None:
        """A state Terraform could not save stops everything until it is pushed."""
        if self.errored_state.exists():
            raise StateNotSaved(
                self.root_name, self.cwd, self.errored_state, self._unlock("LOCK_ID")
            )

    def run(
        self,
        args: Sequence[str],
        on_event: EventHandler | None = None,
        json_ui: bool = False,
        changes: bool = False,
        deadline: float | None = None,
        saved_state_check: bool = True,
    ) -> RunResult:
        """Run ``terraform ARGS`` in the root; with ``json_ui`` parse one event per line.

        ``changes``: the command changes state, so it is never killed (only sent SIGINT).
        ``deadline``: seconds after which a command that changes nothing is stopped.
        """
        if saved_state_check:
            self.check_saved_state()
        signals = SIGNALS
        with signals.forwarding():
            if signals.interrupts:
                raise interrupted(
                    signals.received[0],
                    f"interrupted before terraform ({self.root_name}) started",
                )
            try:
                process = subprocess.Popen(
                    [str(self.binary), *args],
                    cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    encoding="utf-8", errors="replace", bufsize=1,
                    start_new_session=True,  # the terminal's signals reach only us
                )  # fmt: skip
            except OSError as exc:
                raise OperationError(f"cannot run {self.binary}: {exc}") from exc
            signals.processes[process] = changes
            timer = _Deadline(process, deadline) if deadline is not None else None
            try:
                result = self._read(process, signals, on_event, json_ui)
            except BaseException:
                _stop(process, may_kill=not changes)
                raise
            finally:
                signals.processes.pop(process, None)
                if timer is not None:
                    timer.cancel()
            received = list(signals.received)
        if received:
            error = self._interrupted(received, changes)
            if self.errored_state.exists():
                saved = StateNotSaved(
                    self.root_name, self.cwd, self.errored_state, self._unlock("LOCK_ID")
                )
                saved.exit_code = error.exit_code
                raise saved
            raise error
        if saved_state_check:
            self.check_saved_state()
        if timer is not None and timer.expired:
            command = " ".join(a for a in args[:2] if not a.startswith("-"))
            raise OperationError(
                f"terraform {command} ({self.root_name}) did not finish within "
                f"{deadline:.0f} s and was stopped; nothing was changed. The state bucket "
                f"may be unreachable: check the network and the bucket ({STATE_TIMEOUT_ENV} "
                "sets the limit)"
            )
        return result

    def _interrupted(self, received: list[int], changes: bool) -> Interrupted:
        name = signal_name(received[0])
        if len(received) > 1:
            how = "was told to exit at once" if changes else "was killed"
            return interrupted(
                received[0],
                f"interrupted ({name}, then again): terraform ({self.root_name}) {how}; its "
                "state lock may still be held (the next run names it and how to release it)",
            )
        return interrupted(
            received[0],
            f"interrupted ({name}): terraform ({self.root_name}) stopped cleanly and saved "
            "its state",
        )

    def _read(
        self,
        process: subprocess.Popen[str],
        signals: Signals,
        on_event: EventHandler | None,
        json_ui: bool,
    ) -> RunResult:
        stderr_chunks: list[str] = []
        assert process.stderr is not None and process.stdout is not None
        stderr = process.stderr
        drain = threading.Thread(target=lambda: stderr_chunks.append(stderr.read()), daemon=True)
        drain.start()
        result = RunResult(code=-1)
        stdout_lines: list[str] = []
        noted = 0

        def tell() -> None:
            nonlocal noted
            while signals.interrupts > noted:
                noted += 1
                if self.on_interrupt is not None:
                    self.on_interrupt(noted, signals.received[noted - 1])

        # Told at once (not at Terraform's next line: it may be silent for minutes).
        signals.on_forward.append(tell)
        try:
            for line in process.stdout:
                tell()
                event = parse_event(line) if json_ui else None
                if event is None:
                    stdout_lines.append(line)
                    continue
                collect(result, event)
                if on_event is not None:
                    on_event(event)
            result.code = process.wait()
            tell()
        finally:
            with contextlib.suppress(ValueError):
                signals.on_forward.remove(tell)
        drain.join(timeout=10)
        result.stderr = "".join(stderr_chunks)
        result.stdout_text = "".join(stdout_lines)
        return result


class _Deadline:
    """Stops a command that changes nothing once ``seconds`` passed: SIGINT, then a kill."""

    GRACE_SECONDS = 30.0

    def __init__(self, process: subprocess.Popen[str], seconds: float) -> None:
        self.process = process
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired = True
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=self.GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def cancel(self) -> None:
        self._timer.cancel()


def _stop(process: subprocess.Popen[str], may_kill: bool, grace_seconds: float = 60.0) -> None:
    """End a terraform we stopped reading: it lives in its own session, so nothing else will.

    SIGINT, so that it saves its state and releases the lock; its output is drained so it
    never blocks on a full pipe. Only a command that changes nothing is killed when it does
    not stop in time.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    if process.stdout is not None:
        stdout = process.stdout
        threading.Thread(target=lambda: stdout.read(), daemon=True).start()
    try:
        process.wait(timeout=grace_seconds if may_kill else None)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
