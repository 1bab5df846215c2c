"""A thin Terraform runner: subprocess, ``-json`` events, typed results and errors, signals.

Not python-terraform (DESIGN.md says why). Every command runs with ``-input=false`` in its
own process group, so the terminal's Ctrl-C reaches only us: the first one is forwarded
to Terraform once (it stops cleanly and releases the state lock, then we raise
:class:`~mlflowk8s.errors.Interrupted`), a second one kills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowk8s.errors import Interrupted, OperationError
from mlflowk8s.terraform.binary import base_env
from mlflowk8s.terraform.events import EventHandler, collect, parse_event
from mlflowk8s.terraform.results import RunResult, StateLocked, TerraformError, lock_info


class _SignalForwarder:
    """While Terraform runs: the first SIGINT is forwarded once, a second one kills it.

    One per process: Terraform runs started from worker threads (parallel plans) register
    here too, while the main thread holds :func:`forwarding_signals`.
    """

    def __init__(self) -> None:
        self.processes: set[subprocess.Popen[str]] = set()
        self.interrupts = 0
        self._depth = 0
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.interrupts += 1
        for process in list(self.processes):
            if process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                if self.interrupts == 1:
                    process.send_signal(signal.SIGINT)
                else:
                    os.killpg(process.pid, signal.SIGKILL)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_SignalForwarder]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        if self._depth == 0:
            self.interrupts = 0
            self._previous = signal.signal(signal.SIGINT, self._handle)
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                signal.signal(signal.SIGINT, self._previous)


_FORWARDER = _SignalForwarder()


def forwarding_signals() -> contextlib.AbstractContextManager[_SignalForwarder]:
    """Hold in the main thread while Terraform runs in worker threads."""
    return _FORWARDER.installed()


class Terraform:
    """One Terraform root in a work folder (``cwd``), with the environment to run it in."""

    def __init__(
        self,
        binary: Path,
        cwd: Path,
        root_name: str,
        env: Mapping[str, str] | None = None,
        unlock_command: str = "mlflowk8s unlock {lock_id}",
        on_interrupt: Callable[[], None] | None = None,
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
        return self._checked("init", self.run(args))

    def plan(
        self,
        out: Path,
        var_files: Sequence[Path] = (),
        variables: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        on_event: EventHandler | None = None,
    ) -> RunResult:
        args = ["plan", "-input=false", "-json", f"-out={out}"]
        args += ["-destroy"] if destroy else []
        args += self._inputs(var_files, variables, targets)
        result = self._checked("plan", self.run(args, on_event=on_event, json_ui=True))
        with contextlib.suppress(OSError):
            out.chmod(0o600)  # a saved plan holds every input value
        return result

    def apply(self, plan_file: Path, on_event: EventHandler | None = None) -> RunResult:
        args = ["apply", "-input=false", "-json", str(plan_file)]
        return self._checked("apply", self.run(args, on_event=on_event, json_ui=True))

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json`` as {name: value}; {} when the state has none."""
        result = self._checked("output", self.run(["output", "-json", "-no-color"]))
        try:
            raw = json.loads(result.stdout_text or "{}")
        except ValueError as exc:
            raise OperationError(f"terraform output ({self.root_name}) is not JSON") from exc
        return {name: item.get("value") for name, item in raw.items()}

    def state_list(self, *prefixes: str) -> list[str]:
        """Resource addresses in the state (only those under ``prefixes`` when given)."""
        result = self._checked("state list", self.run(["state", "list"]))
        found = [line.strip() for line in result.stdout_text.splitlines() if line.strip()]
        if not prefixes:
            return found
        return [
            a for a in found if any(a == p or a.startswith((p + ".", p + "[")) for p in prefixes)
        ]

    def state_rm(self, addresses: Sequence[str]) -> None:
        """Forget resources that no longer exist (without destroying anything)."""
        if addresses:
            self._checked("state rm", self.run(["state", "rm", *addresses]))

    def force_unlock(self, lock_id: str) -> RunResult:
        return self.run(["force-unlock", "-force", "-no-color", lock_id])

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
            raise StateLocked(
                self.root_name, lock, self.unlock_command.format(lock_id=lock.lock_id)
            )
        raise TerraformError(self.root_name, command, result)

    def run(
        self,
        args: Sequence[str],
        on_event: EventHandler | None = None,
        json_ui: bool = False,
    ) -> RunResult:
        """Run ``terraform ARGS`` in the root; with ``json_ui`` parse one event per line."""
        forwarder = _FORWARDER
        with forwarder.installed():
            before = forwarder.interrupts
            if before:
                raise Interrupted(f"interrupted before terraform ({self.root_name}) started")
            try:
                process = subprocess.Popen(
                    [str(self.binary), *args],
                    cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    encoding="utf-8", errors="replace", bufsize=1,
                    start_new_session=True,  # the terminal's Ctrl-C reaches only us
                )  # fmt: skip
            except OSError as exc:
                raise OperationError(f"cannot run {self.binary}: {exc}") from exc
            forwarder.processes.add(process)
            try:
                result, stdout_lines, stderr_chunks = self._read(
                    process, forwarder, on_event, json_ui
                )
            except BaseException:
                _stop(process)
                raise
            finally:
                forwarder.processes.discard(process)
            interrupts = forwarder.interrupts
        result.stderr = "".join(stderr_chunks)
        result.stdout_text = "".join(stdout_lines)
        if interrupts:
            if interrupts > 1:
                raise Interrupted(
                    f"interrupted: terraform ({self.root_name}) was killed; its state lock "
                    "may still be held (the next run names it and how to release it)"
                )
            raise Interrupted(
                f"interrupted: terraform ({self.root_name}) stopped cleanly and saved its state"
            )
        return result

    def _read(
        self,
        process: subprocess.Popen[str],
        forwarder: _SignalForwarder,
        on_event: EventHandler | None,
        json_ui: bool,
    ) -> tuple[RunResult, list[str], list[str]]:
        stderr_chunks: list[str] = []
        assert process.stderr is not None and process.stdout is not None
        stderr = process.stderr
        drain = threading.Thread(target=lambda: stderr_chunks.append(stderr.read()), daemon=True)
        drain.start()
        result = RunResult(code=-1)
        stdout_lines: list[str] = []
        noted = 0
        for line in process.stdout:
            if forwarder.interrupts > noted:
                noted = forwarder.interrupts
                if self.on_interrupt is not None:
                    self.on_interrupt()
            event = parse_event(line) if json_ui else None
            if event is None:
                stdout_lines.append(line)
                continue
            collect(result, event)
            if on_event is not None:
                on_event(event)
        result.code = process.wait()
        drain.join(timeout=10)
        return result, stdout_lines, stderr_chunks


def _stop(process: subprocess.Popen[str], grace_seconds: float = 60.0) -> None:
    """End a terraform we stopped reading: it lives in its own session, so nothing else will.

    SIGINT first, so that it releases the state lock; killed if it does not stop in time.
    """
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
