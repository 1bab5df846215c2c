"""What a target offers the commands, and the plain results it returns.

The commands only speak this interface, so they are the same for every target. Results are
plain data: the CLI renders them as tables or ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlflowk8s.progress import Progress, QuietProgress

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Checks

__all__ = ["Progress", "QuietProgress"]


@dataclass(frozen=True)
class Change:
    """One planned change: ``root`` is a Terraform root or ``processes`` (local)."""

    root: str
    action: str  # create | update | delete | replace | start | stop | restart
    address: str
    user: str | None = None


@runtime_checkable
class Discardable(Protocol):
    def discard(self) -> None: ...


@dataclass
class PlanHandle:
    """What ``apply`` needs to apply exactly what ``plan`` showed.

    ``inputs``: a digest of the inputs the plan was made from (apply refuses others);
    ``saved``: what the target saved per root (Terraform's plan files);
    ``basis``: what later roots were planned against (the platform's outputs).
    """

    user: str | None
    inputs: str = ""
    saved: dict[str, Any] = field(default_factory=dict)
    basis: str = ""

    def discard(self) -> None:
        """Drop what the plan saved (Terraform's plan files hold every input, secrets too)."""
        for item in self.saved.values():
            if isinstance(item, Discardable):
                item.discard()


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    handle: PlanHandle | None = None

    def counts(self) -> dict[str, dict[str, int]]:
        """Per root: how many changes of each action."""
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            per_root = out.setdefault(change.root, {})
            per_root[change.action] = per_root.get(change.action, 0) + 1
        return out

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.discard()

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [asdict(c) for c in self.changes],
            "counts": self.counts(),
            "notes": self.notes,
        }


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
    # What the running server says at <prefix>/version; None when it was not asked or silent.
    mlflow_version: str | None = None


@dataclass
class Status:
    tenants: list[TenantStatus] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # IP, name servers, cluster, ...

    def as_json(self) -> dict[str, Any]:
        return {"tenants": [asdict(t) for t in self.tenants], "facts": self.facts}


# A `doctor` line: name, status (ok | warn | fail), detail and, when it helps, fix.
Check = dict[str, str]


def check(name: str, status: str, detail: str, fix: str = "") -> Check:
    out = {"name": name, "status": status, "detail": detail}
    if fix:
        out["fix"] = fix
    return out


# `init` asks on a terminal: (setting key, prompt) -> answer.
Prompt = Callable[[str, str], str]


class TargetInit(Protocol):
    """What `init` asks and does for a target, before the lab's files are written."""

    def settings(
        self,
        values: dict[str, str],
        options: Mapping[str, str | None],
        prompt: Prompt | None,
        env_file: Path,
    ) -> dict[str, str]:
        """The lab's settings from ``values`` (.env and generic options) and the target's
        options (by option name); missing ones are asked for, or one error lists them.
        ``env_file`` is where they will live (relative file settings start there)."""
        ...

    def prepare(
        self,
        values: Mapping[str, str],
        say: Callable[[str], None],
        busy: Callable[[str], AbstractContextManager[object]],
    ) -> bool:
        """Create what the lab needs outside its folder (e.g. a state bucket); changed?"""
        ...

    def next_step(self, values: Mapping[str, str]) -> str | None:
        """What the admin should do next, when the lab was changed."""
        ...


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

    def tenant_url(self, name: str) -> str:
        """The tracking URI of tenant ``name`` (for ``mlflowk8s env``)."""
        ...

    def public_host(self) -> str | None:
        """The host researchers reach through IAP and sign in for; None: no sign-in."""
        ...

    def iap_audience(self) -> str | None:
        """The audience of the IAP tokens tenants accept, when the lab knows it."""
        ...

    def admin_checks(self, environ: Mapping[str, str]) -> list[Check]:
        """`doctor`'s checks of what an admin of this target needs (never raise)."""
        ...


class TargetClass(Protocol):
    """A registered target: its name, settings, `init` part, and the lab it serves."""

    name: str
    settings_checks: Checks
    init: TargetInit

    def __call__(self, lab: Lab) -> Target: ...


# What `destroy --yes` (data kept) does with a database that is billed while it runs.
STOP_DATABASE_BY_DEFAULT = True


@dataclass
class Destroyed:
    """What `destroy` (data kept) did: what stays, and whether it stopped the database."""

    kept: list[str] = field(default_factory=list)
    # True: stopped by this run; False: left as it was; None: no database stayed.
    database_stopped: bool | None = None


@runtime_checkable
class StopsDatabase(Protocol):
    """A target whose database stays when `destroy` keeps the data, and is billed while it
    runs: `destroy` offers to stop it (the CLI asks before calling, or ``--yes`` answers
    with :data:`STOP_DATABASE_BY_DEFAULT`), and the next `apply` starts it again."""

    # What is offered, as the question names it: "the Cloud SQL instance".
    stoppable_database: str

    def destroy_keeping_data(self, stop_database: bool, progress: Progress) -> Destroyed:
        """`destroy` without ``--delete-data``, stopping the database or leaving it be."""
        ...


@runtime_checkable
class Lockable(Protocol):
    """A target whose state can be left locked by a killed run (``mlflowk8s unlock``)."""

    def unlock(self, lock_id: str) -> str:
        """Release the lock ``lock_id``; returns where it was held (e.g. the root)."""
        ...


@runtime_checkable
class Renderable(Protocol):
    """A target whose inputs are files (Terraform's tfvars): ``render`` writes and shows them."""

    def render(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        """Per root: where its inputs were written, and what they are."""
        ...


@runtime_checkable
class Verifiable(Protocol):
    """A target whose tenants sit behind IAP: ``verify`` checks sign-in and isolation live."""

    def desktop_client_id(self) -> str | None:
        """The lab's desktop OAuth client: the audience of the admin's `login` tokens."""
        ...


@runtime_checkable
class Preflight(Protocol):
    """A target that checks its settings before ``apply`` plans anything."""

    def preflight(self) -> None: ...


@runtime_checkable
class Settles(Protocol):
    """A target whose servers may still be starting after an apply that changed nothing."""

    def settle(self, progress: Progress) -> None:
        """Wait until servers that are starting answer (as ``apply`` does after starting them)."""
        ...


@runtime_checkable
class Serviceable(Protocol):
    """A target that runs on the admin's own machine: a service starts it at boot."""

    def service_unit(self, system: bool) -> ServiceUnit:
        """The unit that starts the lab's servers at boot, and where it belongs."""
        ...


class ServiceUnit(Protocol):
    name: str
    path: Path
    text: str

    def next_steps(self) -> list[str]:
        """The commands that enable it, in order."""
        ...


@dataclass(frozen=True)
class CostLine:
    item: str
    usage: str  # what is paid for, e.g. "150,600 instance-s (2 vCPU, 1.25 GiB)"
    monthly_usd: float


@dataclass
class CostEstimate:
    """A month's estimate for ``users`` active users, and what it assumes."""

    target: str
    users: int
    lines: list[CostLine] = field(default_factory=list)
    prices: dict[str, str] = field(default_factory=dict)  # what it costs, as shown
    prices_as_of: str = ""
    assumptions: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def per_user(self) -> float | None:
        return round(self.total / self.users, 2) if self.users else None

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "users": self.users,
            "lines": [asdict(line) for line in self.lines],
            "total_usd": self.total,
            "per_user_usd": self.per_user,
            "prices": self.prices,
            "prices_as_of": self.prices_as_of,
            "assumptions": self.assumptions,
        }


@runtime_checkable
class Costable(Protocol):
    """A target that estimates what the lab costs a month (``mlflowk8s cost``)."""

    def cost(self, users: int | None = None) -> CostEstimate:
        """For the lab's active users, or ``users`` of them."""
        ...
