"""The local target's day-2 operations: logs, restart, backup, restore (``day2.Operations``).

Every operation acts on one tenant's supervisord program (``mlflow-<user>``) and data folder
(``data/<user>/``); the other tenants' processes are never touched.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.targets.base import Progress, QuietProgress
from mlflowk8s.targets.day2 import BackupInfo, Restarted, Restored
from mlflowk8s.targets.local import archive, readiness, schema
from mlflowk8s.targets.local import logs as tenant_logs
from mlflowk8s.targets.local import settings as ls
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.state import program_name

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Settings


class LocalOperations:
    """Mixed into ``LocalTarget``, which provides the lab, its folders and its supervisord."""

    lab: Lab
    root: Path
    layout: sv.Layout
    supervisor: sv.Supervisor

    if TYPE_CHECKING:

        @property
        def settings(self) -> Settings: ...

        @property
        def data_dir(self) -> Path: ...

        def tenant_url(self, name: str) -> str: ...

    # -- helpers ------------------------------------------------------------------------------
    def _active(self, name: str) -> None:
        """``name`` is a user of the lab that is not retired (one error otherwise)."""
        self.tenant_url(name)

    def _pid(self, name: str) -> int | None:
        info = self.supervisor.processes().get(program_name(name))
        return info.pid if info is not None and info.pid else None

    def _loaded(self, names: list[str]) -> None:
        if not self.supervisor.is_running():
            raise OperationError(
                "supervisord is not running: `mlflowk8s apply` starts it and every server"
            )
        live = self.supervisor.processes()
        missing = [n for n in names if program_name(n) not in live]
        if missing:
            raise OperationError(
                f"no server of {', '.join(missing)} is loaded in supervisord: run `mlflowk8s apply`"
            )

    def _wait(self, names: list[str], progress: Progress) -> None:
        urls = {name: self.tenant_url(name) for name in names}
        readiness.wait(self.supervisor, urls, ls.start_timeout(self.settings), progress)

    # -- logs -----------------------------------------------------------------------------------
    def log_file(self, name: str) -> Path:
        return self.layout.program_log(program_name(name))

    def logs(
        self, name: str, *, follow: bool, since: float | None, lines: int | None
    ) -> Iterator[str]:
        self.lab.users().get(name)  # a retired tenant's log is still worth reading
        log = self.log_file(name)
        if not follow and not log.exists():
            raise UsageError(f"{name} has no log yet ({log}): its server never ran")
        # Following goes on exactly where reading stopped: no line twice, none lost.
        offset = log.stat().st_size if follow and log.exists() else None
        yield from tenant_logs.read(log, since, lines, until=offset)
        if follow:
            yield from tenant_logs.follow(log, offset or 0)

    # -- restart ---------------------------------------------------------------------------------
    def restart(self, names: list[str], progress: Progress) -> list[Restarted]:
        for name in names:
            self._active(name)
        with self.lab.lock():
            self._loaded(names)
            before = {name: self._pid(name) for name in names}
            for i, name in enumerate(names):
                progress.advance(i, len(names), f"restarting {name}")
                self._stop(name)
                self.supervisor.start_group(program_name(name))
        self._wait(names, progress)
        return [
            Restarted(name, _pid_text(before[name]), _pid_text(self._pid(name)), True)
            for name in names
        ]

    def _stop(self, name: str) -> None:
        self.supervisor.stop_group(program_name(name))

    # -- settle ---------------------------------------------------------------------------------
    def settle(self, progress: Progress) -> None:
        """Wait for the servers supervisord is (re)starting, as apply does after starting them."""
        if not self.supervisor.is_running():
            return
        live = self.supervisor.processes()
        active = [u.name for u in self.lab.users().active_users()]
        starting = [n for n in active if live.get(program_name(n)) is not None
                    and live[program_name(n)].state in sv.RUNNING_STATES]  # fmt: skip
        urls = {n: self.tenant_url(n) for n in starting}
        answered = readiness.healthy(urls)
        self._wait([n for n in starting if not answered.get(n)], progress)

    # -- backup ---------------------------------------------------------------------------------
    @property
    def backups_root(self) -> Path:
        return self.lab.work_folder().resolve() / "backups"

    def backup(self, name: str, to: Path | None, progress: Progress) -> BackupInfo:
        self.lab.users().get(name)  # retired tenants keep data worth backing up
        version = ls.require_tools()
        if to is None:
            folder = self.backups_root / name
            archive.private_folder(folder, self.backups_root)
            dest = folder / archive.default_name()
        elif to.is_dir():
            dest = to.resolve() / archive.default_name()
        else:
            dest = to.resolve()
            if not dest.parent.is_dir():
                raise UsageError(f"no folder {dest.parent} for the backup")
            if not dest.name.endswith(archive.SUFFIX):
                raise UsageError(f"a backup's file name ends in {archive.SUFFIX}: {to}")
        progress.step(f"backing up {name} (SQLite online backup, then artifacts)")
        return archive.create(self.data_dir / name, name, self.lab.env, dest, version)

    def backups(self, name: str) -> list[BackupInfo]:
        self.lab.users().get(name)
        return archive.listing(self.backups_root / name)

    def prune_backups(self, name: str, keep: int) -> list[Path]:
        if keep < 0:
            raise UsageError("--keep takes 0 or more")
        found = self.backups(name)
        doomed = [b.path for b in found[: max(0, len(found) - keep)]]
        for path in doomed:
            path.unlink(missing_ok=True)
        return doomed

    # -- restore --------------------------------------------------------------------------------
    def restore(
        self,
        name: str,
        archive_path: Path,
        progress: Progress,
        *,
        from_tenant: str | None = None,
        on_safety: Callable[[BackupInfo], None] | None = None,
    ) -> Restored:
        self._active(name)
        incoming = archive.info(archive_path)
        if incoming.tenant != name and incoming.tenant != from_tenant:
            raise UsageError(
                f"{archive_path} is a backup of {incoming.tenant}, not of {name}: pass "
                f"--from-tenant {incoming.tenant} to restore it into {name}"
            )
        version = ls.require_tools()
        schema.check(incoming.schema_revision, version, str(archive_path))
        self._loaded([name])
        data = self.data_dir / name
        with tempfile.TemporaryDirectory(prefix=f".restore-{name}-", dir=self.data_dir) as tmp:
            staged = Path(tmp) / "data"
            staged.mkdir(mode=0o700)
            progress.step(f"unpacking {archive_path.name}")
            archive.extract(archive_path, staged)
            store = staged / archive.STORE
            archive.check_store(store)
            revision = archive.schema_revision(store)  # the store's word, not the manifest's
            upgrade = schema.check(revision, version, str(archive_path))
            if upgrade:
                progress.step(f"upgrading the backup's schema from revision {revision}")
                schema.upgrade(store)
            # Only now, with the new data ready, is the current data backed up and swapped.
            safety = self.backup(name, None, progress)
            if on_safety is not None:
                on_safety(safety)
            old = Path(tmp) / "old"
            with self.lab.lock():
                progress.step(f"stopping {name}, swapping its data in")
                self._stop(name)
                try:
                    data.rename(old)
                    staged.rename(data)
                except OSError:
                    if old.exists() and not data.exists():
                        old.rename(data)
                    self.supervisor.start_group(program_name(name))
                    raise
                self.supervisor.start_group(program_name(name))
            try:
                self._wait([name], progress)
            except OperationError as exc:
                self._swap_back(name, data, old)
                raise OperationError(
                    f"{exc}\nThe restored data did not serve: {name}'s previous data is back "
                    f"in place (also in {safety.path})"
                ) from exc
        return Restored(name, incoming, safety, revision if upgrade else None, True)

    def _swap_back(self, name: str, data: Path, old: Path) -> None:
        with self.lab.lock():
            self._stop(name)
            failed = data.with_name(f".{name}.failed-restore")
            shutil.rmtree(failed, ignore_errors=True)
            data.rename(failed)
            old.rename(data)
            shutil.rmtree(failed, ignore_errors=True)
            self.supervisor.start_group(program_name(name))
        with contextlib.suppress(OperationError):
            self._wait([name], QuietProgress())


def _pid_text(pid: int | None) -> str | None:
    return f"pid {pid}" if pid else None
