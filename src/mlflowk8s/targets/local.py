"""The local target: every tenant is a real ``mlflow server`` process under supervisord.

Files, under ``.mlflowk8s/local/`` (``local-<env>`` for another ``--env``):

* ``supervisord.conf`` — rendered by ``apply`` from users.yaml, one ``[program:mlflow-<user>]``
  per active user, running the command of :func:`mlflowk8s.server.server_command`;
* ``ports.json`` — each user's port, recorded once and never given to another user;
* ``applied.json`` — the config each running program was started with (decides restarts);
* ``data/<user>/`` — the tenant's SQLite store (``mlflow.db``) and ``artifacts/``;
* ``logs/`` — supervisord's log and one log per tenant.

Servers listen on 127.0.0.1 only: there is no authentication in front of them yet.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import socket
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflowk8s import server
from mlflowk8s import supervisor as sv
from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.fileio import WORK_DIR_NAME, lab_lock, write_atomic
from mlflowk8s.render import dumps
from mlflowk8s.settings import Settings, load_settings
from mlflowk8s.targets.base import Approve, Change, Plan, Progress, Status, TenantStatus
from mlflowk8s.users import User, load_users

HOST = "MLFLOWK8S_LOCAL_HOST"
BASE_PORT = "MLFLOWK8S_LOCAL_BASE_PORT"
START_TIMEOUT = "MLFLOWK8S_LOCAL_START_TIMEOUT"
DEFAULT_BASE_PORT = 5100
DEFAULT_START_TIMEOUT = 300
ROOT = "processes"
PROGRAM_PREFIX = "mlflow-"
INSTALL_HINT = "pip install 'mlflowk8s[local]'"
PROBE_TIMEOUT = 2.0


def local_dir(lab_dir: Path, env: str = "default") -> Path:
    """The local target's folder in a lab (absolute: supervisord needs absolute paths)."""
    name = "local" if env == "default" else f"local-{env}"
    return lab_dir.resolve() / WORK_DIR_NAME / name


def program_name(user: str) -> str:
    return f"{PROGRAM_PREFIX}{user}"


def local_host(settings: Settings) -> str:
    """The address servers listen on; only loopback until an authentication option exists."""
    host = settings.get(HOST) or server.LOCAL_HOST
    if host != server.LOCAL_HOST:
        raise UsageError(
            f"{HOST}={host!r} is refused: local tenants listen only on {server.LOCAL_HOST} "
            "because mlflowk8s has no authentication option for local servers yet, and "
            "anyone who can reach an MLflow server can read and change every run. "
            f"Reach the lab machine through an SSH tunnel (ssh -L PORT:{server.LOCAL_HOST}:PORT "
            "HOST), or use the gcp target for a shared service."
        )
    return host


def _int_setting(settings: Settings, key: str, default: int, low: int, high: int) -> int:
    raw = settings.get(key)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise UsageError(f"{key}={raw!r} in {settings.path} is not a number from {low} to {high}")
    return int(raw)


# -- ports ------------------------------------------------------------------------------------
def read_ports(path: Path) -> dict[str, int]:
    """The recorded ports, user -> port (an absent file means none yet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ports = data["ports"]
        return {str(user): int(port) for user, port in ports.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OperationError(
            f"{path} is damaged ({exc.__class__.__name__}); it records each user's port: "
            "fix or delete it (ports are then given out again)"
        ) from exc


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def allocate_ports(
    recorded: dict[str, int], users: Iterable[str], host: str, base: int
) -> dict[str, int]:
    """Give each user without a port the lowest free one from ``base`` up.

    Ports already recorded (for anyone, retired or purged) are never given again, and
    ports other programs listen on are skipped.
    """
    ports = dict(recorded)
    taken = set(ports.values())
    candidate = base
    for user in users:
        if user in ports:
            continue
        while candidate in taken or not port_free(host, candidate):
            candidate += 1
            if candidate > 65535:
                raise OperationError(f"no free port from {base} up for {user}")
        ports[user] = candidate
        taken.add(candidate)
    return ports


# -- health -----------------------------------------------------------------------------------
def probe(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    return server.ready_status(url, timeout) == 200


def _probe_all(urls: dict[str, str]) -> dict[str, bool]:
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = pool.map(probe, urls.values())
        return dict(zip(urls, results, strict=True))


def tenant_url(lab_dir: Path, name: str, env: str = "default") -> str:
    """The tracking URI of ``name``'s local server (for ``mlflowk8s env`` on local labs)."""
    user = load_users(lab_dir).get(name)
    if user.retired:
        raise UsageError(f"user {name!r} is retired: `mlflowk8s add-user {name}` brings it back")
    host = local_host(load_settings(lab_dir))
    port = read_ports(local_dir(lab_dir, env) / "ports.json").get(name)
    if port is None:
        raise UsageError(f"user {name!r} has no local server yet: run `mlflowk8s apply`")
    return server.local_url(host, port, name)


# -- the target ---------------------------------------------------------------------------------
@dataclass
class _Desired:
    """What users.yaml and .env ask for, rendered."""

    host: str
    ports: dict[str, int]  # recorded ports plus the ones new users would get
    programs: dict[str, sv.Program]  # active user -> program
    config: str


@dataclass
class _Applied:
    """What each running program was started with: its config digest and port."""

    programs: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, digest: str, port: int) -> None:
        self.programs[name], self.ports[name] = digest, port

    def forget(self, name: str) -> bool:
        self.ports.pop(name, None)
        return self.programs.pop(name, None) is not None


@dataclass(frozen=True)
class _Diff:
    start: list[str]
    restart: list[str]
    stop: list[str]
    daemon_running: bool
    moved: list[str] = field(default_factory=list)  # restarts onto another port

    @property
    def empty(self) -> bool:
        return not (self.start or self.restart or self.stop)


@dataclass(frozen=True)
class PlanHandle:
    """What ``apply`` checks before acting: the config the plan was made from."""

    config: str


class LocalTarget:
    """Tenants as ``mlflow server`` processes under one supervisord per lab."""

    name = "local"

    def __init__(self, lab_dir: Path, settings: Settings, env: str = "default") -> None:
        self.lab_dir = lab_dir.resolve()
        self.settings = settings
        self.env = env
        self.root = local_dir(self.lab_dir, env)
        self.layout = sv.Layout(self.root)
        self.supervisor = sv.Supervisor(self.layout)

    # -- files ------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def applied_file(self) -> Path:
        return self.root / "applied.json"

    def _read_applied(self) -> _Applied:
        try:
            data = json.loads(self.applied_file.read_text(encoding="utf-8"))
            return _Applied(
                {str(k): str(v) for k, v in data["programs"].items()},
                {str(k): int(v) for k, v in data["ports"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return _Applied()  # unknown: every running program then counts as changed

    def _write_applied(self, applied: _Applied) -> None:
        data = {"version": 1, "programs": applied.programs, "ports": applied.ports}
        write_atomic(self.applied_file, dumps(data))

    # -- rendering ----------------------------------------------------------------------
    def _require_tools(self) -> Path:
        """The ``mlflow`` executable (next to this Python, else on PATH); supervisor importable."""
        if importlib.util.find_spec("supervisor") is None:
            raise UsageError(f"the local target needs supervisor and MLflow: {INSTALL_HINT}")
        beside = Path(sys.executable).parent / "mlflow"
        if beside.is_file():
            return beside
        found = shutil.which("mlflow")
        if found is None:
            raise UsageError(f"the local target needs MLflow and supervisor: {INSTALL_HINT}")
        return Path(found)

    def _desired(self) -> _Desired:
        host = local_host(self.settings)
        base = _int_setting(self.settings, BASE_PORT, DEFAULT_BASE_PORT, 1024, 65535)
        self._require_tools()
        active = load_users(self.lab_dir).active_users()
        ports = allocate_ports(read_ports(self.ports_file), (u.name for u in active), host, base)
        programs = {user.name: self._program(user, host, ports[user.name]) for user in active}
        return _Desired(
            host, ports, programs, sv.render_config(self.layout, list(programs.values()))
        )

    def _program(self, user: User, host: str, port: int) -> sv.Program:
        # One process per tenant (the launcher): a kill -9 leaves no child holding the port.
        data = self.data_dir / user.name
        command = server.launcher_command(user.name, server.LocalTarget(port, data, host))
        return sv.Program(
            name=program_name(user.name),
            command=command.argv,
            env=command.env,
            directory=data,
            logfile=self.layout.logs / f"{program_name(user.name)}.log",
        )

    def _diff(
        self, desired: _Desired, live: dict[str, sv.ProcessInfo], daemon_running: bool,
        user: str | None,
    ) -> _Diff:  # fmt: skip
        applied = self._read_applied() if daemon_running else _Applied()
        start: list[str] = []
        restart: list[str] = []
        stop: list[str] = []
        for name, program in desired.programs.items():
            # Starting supervisord starts every program in the config, so --user cannot narrow it.
            if user is not None and name != user and daemon_running:
                continue
            info = live.get(program.name)
            if info is None:
                start.append(name)
            elif applied.programs.get(name) != sv.section_digest(program):
                restart.append(name)
            elif info.state in sv.DEAD_STATES:
                start.append(name)
        for group, info in live.items():
            name = group.removeprefix(PROGRAM_PREFIX)
            if not group.startswith(PROGRAM_PREFIX) or name in desired.programs:
                continue
            if (user is None or name == user) and info.state in sv.RUNNING_STATES:
                stop.append(name)
        moved = [n for n in restart if applied.ports.get(n) != desired.ports[n]]
        return _Diff(sorted(start), sorted(restart), sorted(stop), daemon_running, moved)

    def _taken_ports(
        self, desired: _Desired, diff: _Diff, live: dict[str, sv.ProcessInfo]
    ) -> list[tuple[str, int]]:
        """Ports of servers about to start that another program listens on.

        A running server holds its own port until it restarts, unless it moves to another.
        """
        starting = [
            name for name in (*diff.start, *diff.restart)
            if live.get(program_name(name), _DEAD).state not in sv.RUNNING_STATES
            or name in diff.moved
        ]  # fmt: skip
        return [
            (name, desired.ports[name])
            for name in starting
            if not port_free(desired.host, desired.ports[name])
        ]

    def _snapshot(self, user: str | None) -> tuple[_Desired, dict[str, sv.ProcessInfo], _Diff]:
        desired = self._desired()
        running = self.supervisor.is_running()
        live = self.supervisor.processes() if running else {}
        return desired, live, self._diff(desired, live, running, user)

    # -- Target interface ---------------------------------------------------------------
    def plan(self, user: str | None, progress: Progress) -> Plan:
        progress.step("comparing users.yaml with the running servers")
        desired, live, diff = self._snapshot(user)
        changes = [
            Change(ROOT, action, self._address(desired, name), name)
            for action, names in (("start", diff.start), ("restart", diff.restart),
                                  ("stop", diff.stop))
            for name in names
        ]  # fmt: skip
        notes = []
        if not diff.daemon_running and diff.start:
            notes.append(
                "supervisord is not running: apply starts it, and with it the server of "
                "every active user."
            )
        orphans = [] if diff.daemon_running else sv.lab_processes(self.layout)
        if orphans:
            notes.append(
                f"{len(orphans)} process(es) of this lab run without supervisord (it died): "
                "apply ends them first."
            )
        else:
            for name, port in self._taken_ports(desired, diff, live):
                notes.append(
                    f"Port {port} of {name} is in use by another program: apply fails until "
                    "it is free."
                )
        return Plan(changes=changes, notes=notes, handle=PlanHandle(desired.config))

    @staticmethod
    def _address(desired: _Desired, name: str) -> str:
        port = desired.ports.get(name)
        where = f" ({desired.host}:{port})" if port is not None else ""
        return f"{program_name(name)}{where}"

    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        # Nothing is planned after the confirmation here: a changed config is refused.
        timeout = _int_setting(self.settings, START_TIMEOUT, DEFAULT_START_TIMEOUT, 1, 86400)
        with lab_lock(self.lab_dir):
            desired, live, diff = self._snapshot(user)
            if isinstance(plan.handle, PlanHandle) and plan.handle.config != desired.config:
                raise OperationError(
                    "users.yaml or .env changed since the plan was shown: nothing was "
                    "changed; run apply again"
                )
            if not diff.daemon_running:
                self._end_orphans()
            taken = self._taken_ports(desired, diff, live)
            if taken:
                listed = ", ".join(f"port {port} ({name})" for name, port in taken)
                raise OperationError(
                    f"already in use by another program: {listed}; nothing was started. "
                    "Stop that program (find it with `ss -ltnp`) and run apply again: "
                    "each user keeps its port."
                )
            # Other accounts on a shared machine must not read the tenants' data or logs.
            self.root.mkdir(parents=True, exist_ok=True)
            self.root.chmod(0o700)
            write_atomic(
                self.ports_file,
                dumps({"version": 1, "host": desired.host, "ports": desired.ports}),
            )
            write_atomic(self.layout.conf, desired.config, mode=0o600)
            for name in (*diff.start, *diff.restart):
                (self.data_dir / name / "artifacts").mkdir(parents=True, exist_ok=True)
            waiting = self._reconcile(desired, live, diff, progress)
        self._wait_healthy(desired, waiting, timeout, progress)
        return self.status()

    def _reconcile(
        self, desired: _Desired, live: dict[str, sv.ProcessInfo], diff: _Diff,
        progress: Progress,
    ) -> list[str]:  # fmt: skip
        """Bring supervisord to the config (the lab lock is held); returns who starts."""
        digests = {name: sv.section_digest(p) for name, p in desired.programs.items()}
        if not diff.daemon_running:
            progress.step("starting supervisord")
            self.supervisor.start_daemon()
            started = _Applied()
            for name in desired.programs:
                started.record(name, digests[name], desired.ports[name])
            self._write_applied(started)
            return sorted(desired.programs)
        applied = self._read_applied()
        progress.step("updating supervisord (supervisorctl reread + update)")
        self.supervisor.reread()
        total = len(diff.stop) + len(diff.restart) + len(diff.start)
        done = 0
        for name in diff.stop:
            progress.advance(done, total, f"stopping {name}")
            self.supervisor.remove_group(program_name(name))
            applied.forget(name)
            done += 1
        for name in diff.restart:
            progress.advance(done, total, f"restarting {name}")
            self.supervisor.remove_group(program_name(name))
            self.supervisor.add_group(program_name(name))
            applied.record(name, digests[name], desired.ports[name])
            done += 1
        for name in diff.start:
            progress.advance(done, total, f"starting {name}")
            if program_name(name) in live:
                self.supervisor.start_group(program_name(name))
            else:
                self.supervisor.add_group(program_name(name))
            applied.record(name, digests[name], desired.ports[name])
            done += 1
        self._write_applied(applied)
        return sorted([*diff.start, *diff.restart])

    def _end_orphans(self) -> None:
        """Servers left by a supervisord that died would hold their ports: end them."""
        sv.end_processes(sv.lab_processes(self.layout))

    def _wait_healthy(
        self, desired: _Desired, names: list[str], timeout: int, progress: Progress
    ) -> None:
        if not names:
            return
        progress.step(f"waiting for {len(names)} server(s) to answer /<user>/health")
        urls = {n: server.local_url(desired.host, desired.ports[n], n) for n in names}
        pending = set(names)
        deadline = time.monotonic() + timeout
        while True:
            healthy = _probe_all({n: urls[n] for n in sorted(pending)})
            pending -= {n for n, ok in healthy.items() if ok}
            progress.advance(len(names) - len(pending), len(names), ", ".join(sorted(pending)))
            if not pending:
                return
            live = self.supervisor.processes()
            failed = [n for n in sorted(pending) if live.get(program_name(n), _DEAD).state
                      in ("FATAL", "STOPPED")]  # fmt: skip
            if failed or time.monotonic() > deadline:
                name = (failed or sorted(pending))[0]
                log = self.layout.logs / f"{program_name(name)}.log"
                why = "failed to start" if failed else f"did not answer within {timeout} s"
                last = sv.tail(log)
                raise OperationError(
                    f"the server of {name} {why} ({urls[name]}health); see {log}"
                    + (f"; its last lines:\n{last}" if last else "")
                )
            time.sleep(0.5)

    def status(self, check_health: bool = True) -> Status:
        host = local_host(self.settings)
        users = load_users(self.lab_dir).all_users()
        ports = read_ports(self.ports_file)
        running = self.supervisor.is_running()
        live = self.supervisor.processes() if running else {}
        urls = {u.name: server.local_url(host, ports[u.name], u.name)
                for u in users if u.name in ports}  # fmt: skip
        health = (
            _probe_all({u.name: urls[u.name] for u in users if not u.retired and u.name in urls})
            if check_health else {}
        )  # fmt: skip
        tenants = []
        for user in users:
            info = live.get(program_name(user.name))
            if user.retired:
                state = (
                    "retired"
                    if info is None or info.state in sv.DEAD_STATES
                    else ("retired, still running (run apply)")
                )
            elif info is not None:
                state = info.state.lower()
                # supervisord says STARTING for `startsecs`; a server that answers is running.
                if info.state == "STARTING" and health.get(user.name):
                    state = "running"
            else:
                state = "not started" if user.name not in ports or running else "stopped"
            tenants.append(TenantStatus(
                name=user.name,
                url=urls.get(user.name, ""),
                members=list(user.members),
                state=state,
                healthy=health.get(user.name),
            ))  # fmt: skip
        daemon = "not running"
        if running:
            pid = self.supervisor.daemon_pid()
            daemon = f"running (pid {pid})" if pid else "running"
        facts: dict[str, Any] = {
            "supervisord": daemon,
            "config": str(self.layout.conf),
            "data": str(self.data_dir),
            "logs": str(self.layout.logs),
        }
        return Status(tenants=tenants, facts=facts)

    def destroy_confirmation_word(self) -> str:
        return self.lab_dir.name

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        with lab_lock(self.lab_dir):
            progress.step("stopping every server and supervisord")
            if importlib.util.find_spec("supervisor") is not None:
                self.supervisor.shutdown()
            leftovers = sv.end_processes(sv.lab_processes(self.layout))
            if leftovers:
                progress.note(f"Ended {len(leftovers)} leftover process(es) of this lab.")
            with contextlib.suppress(FileNotFoundError):
                self.applied_file.unlink()
            if delete_data:
                progress.step("deleting the lab's data and logs")
                shutil.rmtree(self.data_dir, ignore_errors=True)
                shutil.rmtree(self.layout.logs, ignore_errors=True)
                return [f"each user's port, so it is never given to another: {self.ports_file}"]
        return [f"every user's runs and artifacts: {self.data_dir}"]

    def purge_user(self, name: str, progress: Progress) -> None:
        progress.step(f"stopping {name} and deleting its data")
        with lab_lock(self.lab_dir):
            if self.supervisor.is_running():
                self.supervisor.remove_group(program_name(name))
            sv.end_processes(sv.lab_processes(self.layout, program_name(name)))
            applied = self._read_applied()
            if applied.forget(name):
                self._write_applied(applied)
            shutil.rmtree(self.data_dir / name, ignore_errors=True)


_DEAD = sv.ProcessInfo(name="", state="UNKNOWN", pid=0)
