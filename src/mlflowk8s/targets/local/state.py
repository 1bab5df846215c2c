"""What the local target compares: the programs users.yaml asks for, what supervisord runs,
and what each running program was started with (``applied.json``, which decides restarts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.ports import port_free

PROGRAM_PREFIX = "mlflow-"


def program_name(user: str) -> str:
    return f"{PROGRAM_PREFIX}{user}"


@dataclass
class Desired:
    """What users.yaml and .env ask for, rendered."""

    host: str
    ports: dict[str, int]  # recorded ports plus the ones new users would get
    programs: dict[str, sv.Program]  # active user -> program
    config: str


@dataclass
class Applied:
    """What each running program was started with: its config digest and port."""

    programs: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, digest: str, port: int) -> None:
        self.programs[name], self.ports[name] = digest, port

    def forget(self, name: str) -> bool:
        self.ports.pop(name, None)
        return self.programs.pop(name, None) is not None


@dataclass(frozen=True)
class Diff:
    start: list[str]
    restart: list[str]
    stop: list[str]
    daemon_running: bool
    moved: list[str] = field(default_factory=list)  # restarts onto another port

    @property
    def empty(self) -> bool:
        return not (self.start or self.restart or self.stop)


DEAD = sv.ProcessInfo(name="", state="UNKNOWN", pid=0)


def read_applied(path: Path) -> Applied:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Applied(
            {str(k): str(v) for k, v in data["programs"].items()},
            {str(k): int(v) for k, v in data["ports"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return Applied()  # unknown: every running program then counts as changed


def write_applied(path: Path, applied: Applied) -> None:
    data = {"version": 1, "programs": applied.programs, "ports": applied.ports}
    write_atomic(path, dumps(data))


def diff(
    desired: Desired, live: dict[str, sv.ProcessInfo], applied: Applied, daemon_running: bool,
    user: str | None,
) -> Diff:  # fmt: skip
    """Who starts, restarts (config changed) and stops; ``user`` narrows it when it can."""
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
    return Diff(sorted(start), sorted(restart), sorted(stop), daemon_running, moved)


def taken_ports(
    desired: Desired, changes: Diff, live: dict[str, sv.ProcessInfo]
) -> list[tuple[str, int]]:
    """Ports of servers about to start that another program listens on.

    A running server holds its own port until it restarts, unless it moves to another.
    """
    starting = [
        name for name in (*changes.start, *changes.restart)
        if live.get(program_name(name), DEAD).state not in sv.RUNNING_STATES
        or name in changes.moved
    ]  # fmt: skip
    return [
        (name, desired.ports[name])
        for name in starting
        if not port_free(desired.host, desired.ports[name])
    ]
