"""supervisord for the local target: config rendering, the daemon, and its XML-RPC API.

The local tenants run under supervisord (PyPI ``supervisor``), one ``[program:...]`` per
tenant. Reconciling is what ``supervisorctl reread`` + ``update`` do, made through the same
XML-RPC calls so that errors come back structured: ``reloadConfig`` diffs the file against
the running config, then removed groups are stopped and removed, changed groups are
stopped, removed and re-added (a restart), and added groups are added (and autostart).

Every process supervisord starts inherits :data:`MARKER_ENV` (the lab's local folder), so
the lab's processes — supervisord, each ``mlflow server`` and its uvicorn child, even one
orphaned by a crash — can be found and ended (:func:`lab_processes`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.targets.local import rundir

# Set in supervisord's environment, inherited by every process it starts.
MARKER_ENV = "MLFLOWK8S_LOCAL_DIR"
MAX_SOCKET_PATH = rundir.MAX_SOCKET_PATH
DAEMON_START_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 60.0

# supervisord process states (supervisor.states.ProcessStates).
RUNNING_STATES = frozenset({"STARTING", "RUNNING", "BACKOFF"})
DEAD_STATES = frozenset({"STOPPED", "EXITED", "FATAL", "UNKNOWN"})


@dataclass(frozen=True)
class Program:
    """One supervised program: the command, its extra environment and its log file."""

    name: str
    command: list[str]
    env: Mapping[str, str]
    directory: Path
    logfile: Path
    startsecs: int = 10
    stopwaitsecs: int = 15


@dataclass(frozen=True)
class Layout:
    """Where supervisord's files live for one lab (``.mlflowk8s/local/``)."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def program_log(self, program: str) -> Path:
        """Where supervisord writes a program's output (rotated beside it as ``.1``..)."""
        return self.logs / f"{program}.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def socket(self) -> Path:
        """The control socket, in a private folder (:mod:`rundir`)."""
        return rundir.socket_path(self.root)

    def choose_socket(self) -> Path:
        """Make the socket's private folder (a deep lab's is chosen and recorded once)."""
        return rundir.socket_path(self.root, choose=True)

    @property
    def server_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def identifier(self) -> str:
        return f"mlflowk8s:{self.root}"


# -- config rendering ---------------------------------------------------------------------
def _value(text: str, expansions: int = 1) -> str:
    """Escape a config value: supervisord expands ``%(name)s`` and ini files end at newlines.

    supervisord expands most values once, but program log file names twice.
    """
    if "\n" in text or "\r" in text:
        raise UsageError(f"a line break cannot go into supervisord's config: {text!r}")
    return text.replace("%", "%" * 2**expansions)


def _environment(env: Mapping[str, str]) -> str:
    """Render ``KEY="value",...`` as supervisord's ``environment=`` parses it (no escapes)."""
    parts = []
    for key, value in sorted(env.items()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"invalid environment variable name {key!r}")
        if '"' not in value:
            parts.append(f'{key}="{value}"')
        elif "'" not in value:
            parts.append(f"{key}='{value}'")
        else:
            raise UsageError(f"{key}: a value with both quote kinds cannot go into supervisord")
    return _value(",".join(parts))


def render_program(program: Program) -> str:
    """The ``[program:NAME]`` section; its text decides whether a tenant restarts."""
    lines = [
        f"[program:{program.name}]",
        f"command={_value(shlex.join(program.command))}",
        f"directory={_value(str(program.directory))}",
        f"environment={_environment(program.env)}",
        "autostart=true",
        # `mlflow server` exits 0 when its uvicorn child dies: restart on any exit.
        "autorestart=true",
        f"startsecs={program.startsecs}",
        "startretries=3",
        "stopsignal=TERM",
        f"stopwaitsecs={program.stopwaitsecs}",
        # Signal the whole process group, or the uvicorn child outlives its parent.
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={_value(str(program.logfile), expansions=2)}",
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=3",
    ]
    return "\n".join(lines) + "\n"


def render_config(layout: Layout, programs: list[Program]) -> str:
    """The whole supervisord.conf: daemon, control socket (owner only) and programs."""
    root = _value(str(layout.root))
    head = f"""\
; Written by mlflowk8s apply; edits are overwritten. Control it with:
;   supervisorctl -c {layout.conf} status
[unix_http_server]
file={_value(str(layout.socket))}
chmod=0700

[supervisord]
identifier={_value(layout.identifier)}
logfile={_value(str(layout.logs / "supervisord.log"))}
logfile_maxbytes=10MB
logfile_backups=3
pidfile={_value(str(layout.pidfile))}
directory={root}
childlogdir={_value(str(layout.logs))}
umask=022

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl={_value(layout.server_url)}
"""
    sections = [render_program(p) for p in sorted(programs, key=lambda p: p.name)]
    return "\n".join([head, *sections])


def section_digest(program: Program) -> str:
    return hashlib.sha256(render_program(program).encode()).hexdigest()


# -- the running daemon ---------------------------------------------------------------------
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
            if (pid is None or not _alive(pid)) and not self.layout.socket.exists():
                return
            time.sleep(0.1)
        raise OperationError(f"supervisord (pid {pid}) did not exit within {SHUTDOWN_TIMEOUT} s")

    def daemon_pid(self) -> int | None:
        with contextlib.suppress(OSError):
            return int(self._rpc().getPID())
        return None


# -- finding the lab's processes --------------------------------------------------------------
def lab_processes(layout: Layout, program: str | None = None) -> list[int]:
    """PIDs of this lab's processes (Linux ``/proc``; elsewhere an empty list).

    ``program`` narrows the search to one program's processes (supervisord sets
    ``SUPERVISOR_PROCESS_NAME`` in each child's environment).
    """
    marker = f"{MARKER_ENV}={layout.root}".encode() + b"\0"
    wanted = f"SUPERVISOR_PROCESS_NAME={program}".encode() + b"\0" if program else None
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    own = os.getpid()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if b"\0" + marker in b"\0" + environ and (
            wanted is None or b"\0" + wanted in b"\0" + environ
        ):
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def end_processes(pids: list[int], grace: float = 5.0) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the PIDs that had to be ended."""
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in alive):
        time.sleep(0.1)
    for pid in alive:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return alive


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
