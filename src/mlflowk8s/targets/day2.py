"""Day-2 operations on a lab's tenants (logs, restart, backup, restore): the interface
every target implements, and the plain results the commands render.

Targets offer them one by one: a command asks :func:`operations` and gets a clear error on a
target that has none yet. Each method's contract is the same on every target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlflowk8s.progress import Progress

if TYPE_CHECKING:
    from mlflowk8s.targets.base import Target


@dataclass(frozen=True)
class Restarted:
    """One tenant's server, restarted: the process before and after, and its health."""

    name: str
    before: str | None  # e.g. "pid 4242"; a pod name, a revision on the cloud targets
    after: str | None
    healthy: bool


@dataclass(frozen=True)
class BackupInfo:
    """A tenant's backup: one archive and what its manifest says."""

    path: Path
    tenant: str
    created: str  # UTC, ISO 8601
    mlflow_version: str
    schema_revision: str | None
    size: int

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class Restored:
    """What ``restore`` did: the backup brought in, the safety backup it took first."""

    tenant: str
    backup: BackupInfo
    safety: BackupInfo
    upgraded_from: str | None  # the schema revision an upgrade started from; None: none needed
    healthy: bool


@runtime_checkable
class Operations(Protocol):
    """Day-2 commands on a lab's tenants: logs, restart, backup, restore."""

    def logs(self, name: str, *, follow: bool, since: float | None, lines: int | None
             ) -> Iterator[str]:  # fmt: skip
        """The tenant's server log, access lines included, oldest first; ``since``: seconds
        back from now; ``lines``: only the last N; ``follow``: keep yielding new lines."""
        ...

    def restart(self, names: list[str], progress: Progress) -> list[Restarted]:
        """A new server process for each tenant named (the others are untouched), each
        waited for until it answers its health check."""
        ...

    def backup(self, name: str, to: Path | None, progress: Progress) -> BackupInfo:
        """A consistent copy of the tenant's store and artifacts in one archive; ``to``: a
        file or folder instead of the lab's backups folder."""
        ...

    def backups(self, name: str) -> list[BackupInfo]:
        """The tenant's backups in the lab's backups folder, oldest first."""
        ...

    def prune_backups(self, name: str, keep: int) -> list[Path]:
        """Delete all but the newest ``keep`` backups; returns what was deleted."""
        ...

    def restore(
        self,
        name: str,
        archive: Path,
        progress: Progress,
        *,
        from_tenant: str | None = None,
        on_safety: Callable[[BackupInfo], None] | None = None,
    ) -> Restored:
        """Replace the tenant's data by ``archive``'s, after a safety backup of the current
        data (``on_safety`` hears of it first); refuses a newer schema than the servers run
        and another tenant's backup unless ``from_tenant`` names that tenant."""
        ...


def operations(target: Target, command: str) -> Operations:
    """The target's day-2 operations, or one clear error naming the command and the target."""
    from mlflowk8s.errors import UsageError

    if not isinstance(target, Operations):
        raise UsageError(
            f"`mlflowk8s {command}` is not available on the {target.name} target yet; "
            "it works on the local target"
        )
    return target
