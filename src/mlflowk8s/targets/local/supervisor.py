"""A lab's supervisord: starting the daemon and driving it through its XML-RPC API.

The local tenants run under supervisord (PyPI ``supervisor``), one program per tenant. The
config it runs lives in :mod:`supervisor_config`, finding and ending the lab's processes in
:mod:`processes`; both are named here too, for the modules that drive supervisord.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlflowk8s.errors import OperationError
from mlflowk8s.targets.local import rundir
from mlflowk8s.targets.local.processes import MARKER_ENV as MARKER_ENV
from mlflowk8s.targets.local.processes import end_processes as end_processes
from mlflowk8s.targets.local.processes import is_alive
from mlflowk8s.targets.local.processes import lab_processes as lab_processes
from mlflowk8s.targets.local.processes import tail as tail
from mlflowk8s.targets.local.supervisor_config import MAX_SOCKET_PATH as MAX_SOCKET_PATH
from mlflowk8s.targets.local.supervisor_config import Layout as Layout
from mlflowk8s.targets.local.supervisor_config import Program as Program
from mlflowk8s.targets.local.supervisor_config import _environment as _environment
from mlflowk8s.targets.local.supervisor_config import _value as _value
from mlflowk8s.targets.local.supervisor_config import render_config as render_config
from mlflowk8s.targets.local.supervisor_config import render_program as render_program
from mlflowk8s.targets.local.supervisor_config import section_digest as section_digest

DAEMON_START_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 60.0

# supervisord process states (supervisor.states.ProcessStates).
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF"})
DEAD_STATES = frozenset({"STOPPED", "EXITED", "FATAL", "UNKNOWN"})


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    state: str  # supervisord's state name: RUNNING, STARTING, BACKOFF, STOPPED, FATAL, ...
    pid: int
    description: str = ""


@dataclass
class Supervisor:
    """A lab's supervisord, reached over its unix socket."""

    layout: Layout
    _proxy: Any = field(default=None, repr=False)

    def _rpc(self) -> Any:
        if self._proxy is None:
            import xmlrpc.client

            from supervisor.xmlrpc import SupervisorTransport

            transport = SupervisorTransport(None, None, self.layout.server_url)
            self._proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
        return self._proxy.supervisor

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        import xmlrpc.client

        try:
            yield
        except xmlrpc.client.Fault as exc:
            raise OperationError(f"supervisord could not {what}: {exc.faultString}") from exc
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else exc.errmsg
            raise OperationError(
                f"supervisord ({self.layout.socket}) did not answer while trying to {what}: "
                f"{reason or exc}"
            ) from exc

    def is_running(self) -> bool:
        """Whether this lab's supervisord answers on its socket (and it is ours)."""
        import xmlrpc.client

        if not self.layout.socket.exists():
            return False
        try:
            identification = self._rpc().getIdentification()
            state = self._rpc().getState()
        except (OSError, xmlrpc.client.Error):
            self._proxy = None
            return False
        if identification != self.layout.identifier:
            raise OperationError(
                f"the socket {self.layout.socket} belongs to another supervisord "
                f"({identification!r}); stop it or move this lab"
            )
        return bool(state.get("statename") == "RUNNING")

    def processes(self) -> dict[str, ProcessInfo]:
        """Every loaded program and its state; empty when supervisord is down."""
        if not self.is_running():
            return {}
        with self._errors("list its processes"):
            infos = self._rpc().getAllProcessInfo()
        return {
            str(info["group"]): ProcessInfo(
                name=str(info["group"]),
                state=str(info["statename"]),
                pid=int(info["pid"]),
                description=str(info.get("description", "")),
            )
            for info in infos
        }

    def start_daemon(self) -> None:
        """Start supervisord with the rendered config (it daemonizes) and wait for it."""
        self.layout.logs.mkdir(parents=True, exist_ok=True)
        # Whoever reaches the socket controls every tenant: its folder is the owner's only.
        rundir.make_private(self.layout.root)
        rundir.make_private(self.layout.socket.parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SUPERVISOR_"))}
        env[MARKER_ENV] = str(self.layout.root)
        command = [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.layout.conf)]
        try:
            proc = subprocess.run(
                command, cwd=self.layout.root, env=env, capture_output=True, text=True,
                timeout=DAEMON_START_TIMEOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OperationError(f"could not start supervisord: {exc}") from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise OperationError(
                f"supervisord failed to start (exit {proc.returncode}): "
                f"{detail[-1] if detail else 'no output'}; see {self.layout.logs}"
            )
        deadline = time.monotonic() + DAEMON_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.is_running():
                return
            time.sleep(0.1)
        raise OperationError(
            f"supervisord did not answer on {self.layout.socket} within "
            f"{DAEMON_START_TIMEOUT:.0f} s; see {self.layout.logs / 'supervisord.log'}"
        )

    def reread(self) -> None:
        """``supervisorctl reread``: load the config file (``update`` then acts on it)."""
        with self._errors("reread its config"):
            self._rpc().reloadConfig()

    def add_group(self, name: str) -> None:
        with self._errors(f"start {name}"):
            self._rpc().addProcessGroup(name)

    def remove_group(self, name: str) -> None:
        """Stop a group (waiting for it) and unload it."""
        import xmlrpc.client

        from supervisor.xmlrpc import Faults

        with self._errors(f"stop {name}"):
            try:
                self._rpc().stopProcessGroup(name, True)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode not in (Faults.NOT_RUNNING, Faults.BAD_NAME):
                    raise
            try:
                self._rpc().removeProcessGroup(name)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode != Faults.BAD_NAME:
                    raise

    def stop_group(self, name: str) -> None:
        """Stop a group's processes, waiting until they have exited; it stays loaded."""
        import xmlrpc.client

        from supervisor.xmlrpc import Faults

        with self._errors(f"stop {name}"):
            try:
                self._rpc().stopProcessGroup(name, True)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode != Faults.NOT_RUNNING:
                    raise

    def start_group(self, name: str) -> None:
        import xmlrpc.client

        from supervisor.xmlrpc import Faults

        with self._errors(f"start {name}"):
            try:
                self._rpc().startProcessGroup(name, False)
            except xmlrpc.client.Fault as exc:
                if exc.faultCode != Faults.ALREADY_STARTED:
                    raise

    def shutdown(self) -> None:
        """Stop every program, then supervisord itself, and wait until it has exited."""
        if not self.is_running():
            return
        with self._errors("stop its programs"):
            self._rpc().stopAllProcesses(True)
        pid = self.daemon_pid()
        with self._errors("shut down"):
            self._rpc().shutdown()
        self._proxy = None
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        while time.monotonic() < deadline:
            if (pid is None or not is_alive(pid)) and not self.layout.socket.exists():
                return
            time.sleep(0.1)
        raise OperationError(f"supervisord (pid {pid}) did not exit within {SHUTDOWN_TIMEOUT} s")

    def daemon_pid(self) -> int | None:
        with contextlib.suppress(OSError):
            return int(self._rpc().getPID())
        return None
