"""What a target (GKE via Terraform, or this machine via supervisord) offers the commands.

The commands in ``cli/ops.py`` only speak this interface, so they are the same for every
target. Results are plain data: the CLI renders them as tables or ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Change:
    """One planned change: ``root`` is a Terraform root or ``processes`` (local)."""

    root: str
    action: str  # create | update | delete | replace | start | stop | restart
    address: str
    user: str | None = None


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Target-specific handle to apply exactly this plan (saved plan files, a config).
    handle: Any = None

    def counts(self) -> dict[str, dict[str, int]]:
        """Per root: how many changes of each action."""
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            per_root = out.setdefault(change.root, {})
            per_root[change.action] = per_root.get(change.action, 0) + 1
        return out

    def discard(self) -> None:
        """Drop what the plan saved (Terraform's plan files hold every input, secrets too)."""
        if isinstance(self.handle, Discardable):
            self.handle.discard()

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [asdict(c) for c in self.changes],
            "counts": self.counts(),
            "notes": self.notes,
        }


@runtime_checkable
class Discardable(Protocol):
    def discard(self) -> None: ...


# Asked during ``apply`` when it had to plan again after the admin confirmed (the tenants
# after a platform change) and the new plan changes or deletes what was not shown.
Approve = Callable[[Plan], bool]


@dataclass
class TenantStatus:
    name: str
    url: str
    members: list[str] = field(default_factory=list)
    state: str = "unknown"  # e.g. running, stopped, retired, applied
    healthy: bool | None = None  # None: not checked or not reachable from here
    # Why health is what it is, when a word helps: "behind IAP", "unreachable", "HTTP 503".
    health_note: str | None = None


@dataclass
class Status:
    tenants: list[TenantStatus] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # IP, name servers, cluster, ...

    def as_json(self) -> dict[str, Any]:
        return {"tenants": [asdict(t) for t in self.tenants], "facts": self.facts}


class Progress(Protocol):
    """Live feedback during slow work; the CLI implements it with Rich."""

    def step(self, message: str) -> None:
        """A new phase started (e.g. 'planning tenants')."""

    def advance(self, done: int, total: int, current: str) -> None:
        """Progress within a phase; ``current`` is what is being worked on."""

    def note(self, message: str) -> None:
        """Something worth telling the admin (a retry, a kept resource)."""


class Target(Protocol):
    name: str

    def plan(self, user: str | None, progress: Progress) -> Plan: ...

    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        """Apply what ``plan`` showed; with ``approve`` None, unseen changes are refused."""
        ...

    def status(self, check_health: bool = True) -> Status: ...

    def destroy_confirmation_word(self) -> str:
        """What the admin types to confirm ``destroy`` (project id, lab folder name)."""
        ...

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        """Tear down; returns what was kept (to tell the admin)."""
        ...

    def purge_user(self, name: str, progress: Progress) -> None:
        """Delete a user's data for good (the user entry is removed by the caller)."""
        ...


@runtime_checkable
class Lockable(Protocol):
    """A target whose state can be left locked by a killed run (``mlflowk8s unlock``)."""

    def unlock(self, lock_id: str) -> str:
        """Release the lock ``lock_id``; returns where it was held (e.g. the root)."""
        ...


@runtime_checkable
class Preflight(Protocol):
    """A target that checks its settings before ``apply`` plans anything."""

    def preflight(self) -> None: ...
