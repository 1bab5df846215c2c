"""The local target: every tenant is a real MLflow server process under supervisord.

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
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s import server
from mlflowk8s.errors import Interrupted, OperationError, UsageError
from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.lab.locks import WORK_DIR_NAME
from mlflowk8s.lab.users import User
from mlflowk8s.targets.base import (
    Approve,
    Change,
    Check,
    Plan,
    PlanHandle,
    Progress,
    Status,
    TenantStatus,
)
from mlflowk8s.targets.local import readiness, service, template
from mlflowk8s.targets.local import settings as ls
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.init import LocalInit
from mlflowk8s.targets.local.operations import LocalOperations
from mlflowk8s.targets.local.ports import allocate_ports, ports_of_other_environments, read_ports
from mlflowk8s.targets.local.reconcile import Files, reconcile
from mlflowk8s.targets.local.state import (
    Applied,
    Desired,
    program_name,
    read_applied,
    taken_ports,
    write_applied,
)
from mlflowk8s.targets.local.state import diff as compare

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Settings
    from mlflowk8s.targets.base import CostEstimate
    from mlflowk8s.targets.local.state import Diff

ROOT = "processes"


def local_dir(lab_dir: Path, env: str = "default") -> Path:
    """The local target's folder in a lab (absolute: supervisord needs absolute paths)."""
    name = "local" if env == "default" else f"local-{env}"
    return lab_dir.resolve() / WORK_DIR_NAME / name


class LocalTarget(LocalOperations):
    """Tenants as MLflow server processes under one supervisord per lab."""

    name = "local"
    settings_checks = ls.CHECKS
    init = LocalInit()

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.root = local_dir(lab.folder, lab.env)
        self.layout = sv.Layout(self.root)
        self.supervisor = sv.Supervisor(self.layout)

    @property
    def settings(self) -> Settings:
        return self.lab.settings()

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

    # -- rendering ----------------------------------------------------------------------
    def _desired(self) -> Desired:
        host = ls.local_host(self.settings)
        base = ls.base_port(self.settings)
        ls.require_tools()
        active = self.lab.users().active_users()
        ports = allocate_ports(
            read_ports(self.ports_file), (u.name for u in active), host, base,
            reserved=ports_of_other_environments(self.ports_file),
        )  # fmt: skip
        programs = {user.name: self._program(user, host, ports[user.name]) for user in active}
        config = sv.render_config(self.layout, list(programs.values()))
        return Desired(host, ports, programs, config)

    def _program(self, user: User, host: str, port: int) -> sv.Program:
        """A tenant's supervisord program: ``server.py``'s launcher, on its port.

        One process per tenant: a kill -9 leaves no child holding the port."""
        data = self.data_dir / user.name
        command = server.launcher_command(user.name, server.LocalTarget(port, data, host))
        return sv.Program(
            name=program_name(user.name),
            command=command.argv,
            env=command.env,
            directory=data,
            logfile=self.layout.program_log(program_name(user.name)),
        )

    def _snapshot(self, user: str | None) -> tuple[Desired, dict[str, sv.ProcessInfo], Diff]:
        desired = self._desired()
        running = self.supervisor.is_running()
        live = self.supervisor.processes() if running else {}
        applied = read_applied(self.applied_file) if running else Applied()
        return desired, live, compare(desired, live, applied, running, user)

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
            for name, port in taken_ports(desired, diff, live):
                notes.append(
                    f"Port {port} of {name} is in use by another program: apply fails until "
                    "it is free."
                )
        handle = PlanHandle(user=user, inputs=desired.config)
        return Plan(changes=changes, notes=notes, handle=handle)

    @staticmethod
    def _address(desired: Desired, name: str) -> str:
        port = desired.ports.get(name)
        where = f" ({desired.host}:{port})" if port is not None else ""
        return f"{program_name(name)}{where}"

    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        # Nothing is planned after the confirmation here: a changed config is refused.
        self.lab.reread()
        timeout = ls.start_timeout(self.settings)
        with self.lab.lock():
            desired, live, diff = self._snapshot(user)
            if plan.handle is not None and plan.handle.inputs != desired.config:
                raise OperationError(
                    "users.yaml or .env changed since the plan was shown: nothing was "
                    "changed; run apply again"
                )
            if not diff.daemon_running:
                self._end_orphans()
            taken = taken_ports(desired, diff, live)
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
            unchosen = self.layout.socket
            if not diff.daemon_running and self.layout.choose_socket() != unchosen:
                desired = self._desired()  # a deep lab's socket folder was chosen just now
            write_atomic(
                self.ports_file,
                dumps({"version": 1, "host": desired.host, "ports": desired.ports}),
            )
            write_atomic(self.layout.conf, desired.config, mode=0o600)
            for name in (*diff.start, *diff.restart):
                (self.data_dir / name / "artifacts").mkdir(parents=True, exist_ok=True)
            # A signal arrives as Interrupted (the CLI's handler) or, elsewhere, Ctrl-C.
            try:
                # Only where no server runs: a running one may be building its store now.
                seeding = template.plan(self.root, {n: self.data_dir / n for n in diff.start})
                files = Files(self.layout, self.applied_file)
                try:
                    waiting = reconcile(self.supervisor, files, desired, live, diff, seeding,
                                        progress)  # fmt: skip
                finally:
                    seeding.close()
            except (KeyboardInterrupt, Interrupted) as exc:
                raise self._interrupted(exc) from None
        try:
            self._wait_healthy(desired, waiting, timeout, progress)
        except (KeyboardInterrupt, Interrupted) as exc:
            raise self._interrupted(exc) from None
        return self.status()

    def _interrupted(self, cause: BaseException) -> Interrupted:
        """A signal: what supervisord keeps running, so the admin knows what was left."""
        try:
            live = self.supervisor.processes()
        except OperationError:
            live = {}
        running = [f"{info.name.removeprefix('mlflow-')} ({info.state.lower()})"
                   for info in live.values() if info.state in sv.RUNNING_STATES]  # fmt: skip
        left = (
            f"supervisord keeps running {', '.join(running)}" if running
            else "no server of this lab is running"
        )  # fmt: skip
        error = Interrupted(
            f"interrupted: {left}; `mlflowk8s status` shows them, `mlflowk8s apply` finishes "
            "the job (it waits for every server to answer)"
        )
        if isinstance(cause, Interrupted):
            error.exit_code = cause.exit_code  # 143 for SIGTERM, 129 for SIGHUP
        return error

    def _end_orphans(self) -> None:
        """Servers left by a supervisord that died would hold their ports: end them."""
        sv.end_processes(sv.lab_processes(self.layout))

    def _wait_healthy(
        self, desired: Desired, names: list[str], timeout: int, progress: Progress
    ) -> None:
        urls = {n: server.local_url(desired.host, desired.ports[n], n) for n in names}
        readiness.wait(self.supervisor, urls, timeout, progress)

    def status(self, check_health: bool = True) -> Status:
        host = ls.local_host(self.settings)
        users = self.lab.users().all_users()
        ports = read_ports(self.ports_file)
        running = self.supervisor.is_running()
        live = self.supervisor.processes() if running else {}
        urls = {u.name: server.local_url(host, ports[u.name], u.name)
                for u in users if u.name in ports}  # fmt: skip
        probed = {u.name: urls[u.name] for u in users if not u.retired and u.name in urls}
        health = readiness.healthy(probed) if check_health else {}
        versions = readiness.versions(probed) if check_health and running else {}
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
            elif user.name not in ports or running:
                state = "not started"
            else:
                state = "supervisord not running"  # apart from a server that is down
            tenants.append(TenantStatus(
                name=user.name,
                url=urls.get(user.name, ""),
                members=list(user.members),
                state=state,
                # Local tenants are always checkable: an active one with no server is down.
                healthy=health.get(user.name, None if user.retired or not check_health else False),
                mlflow_version=versions.get(user.name),
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
            "access": ls.OPEN_ACCESS,
        }
        return Status(tenants=tenants, facts=facts)

    def destroy_confirmation_word(self) -> str:
        return self.lab.root.name

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        with self.lab.lock():
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
        with self.lab.lock():
            if self.supervisor.is_running():
                self.supervisor.remove_group(program_name(name))
            sv.end_processes(sv.lab_processes(self.layout, program_name(name)))
            applied = read_applied(self.applied_file)
            if applied.forget(name):
                write_applied(self.applied_file, applied)
            shutil.rmtree(self.data_dir / name, ignore_errors=True)

    # -- researchers and doctor ---------------------------------------------------------
    def tenant_url(self, name: str) -> str:
        """The tracking URI of ``name``'s local server (for ``mlflowk8s env``)."""
        user = self.lab.users().get(name)
        if user.retired:
            raise UsageError(
                f"user {name!r} is retired: `mlflowk8s add-user {name}` brings it back"
            )
        host = ls.local_host(self.settings)
        port = read_ports(self.ports_file).get(name)
        if port is None:
            raise UsageError(f"user {name!r} has no local server yet: run `mlflowk8s apply`")
        return server.local_url(host, port, name)

    def public_host(self) -> str | None:
        return None  # loopback servers: nobody signs in

    def iap_audience(self) -> str | None:
        return None

    def service_unit(self, system: bool) -> service.Unit:
        return service.unit(self.layout, system)

    def admin_checks(self, environ: Mapping[str, str]) -> list[Check]:
        from mlflowk8s.targets.local.doctor import admin_checks

        return admin_checks(self, environ)

    def cost(self, users: int | None = None) -> CostEstimate:
        """Nothing beyond the machine the servers run on."""
        from mlflowk8s.prices import PRICES_AS_OF
        from mlflowk8s.targets.base import CostEstimate, CostLine

        count = len(self.lab.users().active_users()) if self.lab.has_users_file() else 0
        return CostEstimate(
            target="local", users=count if users is None else users, prices_as_of=PRICES_AS_OF,
            lines=[CostLine("this machine", "tenants as processes, SQLite and local files", 0.0)],
            assumptions=["the machine itself (its power, disk and upkeep) is not counted"],
        )  # fmt: skip
