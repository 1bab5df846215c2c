"""Bringing a lab's supervisord to the rendered config (``apply``, the lab lock held).

Reconciling is what ``supervisorctl reread`` + ``update`` do, made through the same XML-RPC
calls so that errors come back structured; when supervisord is not running, starting it
with the config starts every program in it. New tenants that wait for the store template
(:mod:`template`) are left out until their stores are copied: from the config supervisord
starts with, or from the groups added, and then added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflowk8s.fileio import write_atomic
from mlflowk8s.targets.base import Progress
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.state import (
    Applied,
    Desired,
    Diff,
    program_name,
    read_applied,
    write_applied,
)
from mlflowk8s.targets.local.template import Seeding


@dataclass(frozen=True)
class Files:
    layout: sv.Layout
    applied: Path


def reconcile(
    supervisor: sv.Supervisor, files: Files, desired: Desired, live: dict[str, sv.ProcessInfo],
    diff: Diff, seeding: Seeding, progress: Progress,
) -> list[str]:  # fmt: skip
    """Start, restart and stop what ``diff`` says; returns who starts (to wait for)."""
    digests = {name: sv.section_digest(p) for name, p in desired.programs.items()}
    if not diff.daemon_running:
        first = [p for n, p in desired.programs.items() if n not in seeding.later]
        if seeding.later:  # supervisord starts what its config holds: the rest come later
            write_atomic(files.layout.conf, sv.render_config(files.layout, first), mode=0o600)
        progress.step("starting supervisord")
        supervisor.start_daemon()
        started = Applied()
        for name in desired.programs:
            if name not in seeding.later:
                started.record(name, digests[name], desired.ports[name])
        write_applied(files.applied, started)
        if seeding.later:
            seeding.finish(progress)
            write_atomic(files.layout.conf, desired.config, mode=0o600)
            supervisor.reread()
            for name in seeding.later:
                supervisor.add_group(program_name(name))
                started.record(name, digests[name], desired.ports[name])
            write_applied(files.applied, started)
        return sorted(desired.programs)
    applied = read_applied(files.applied)
    progress.step("updating supervisord (supervisorctl reread + update)")
    supervisor.reread()
    total = len(diff.stop) + len(diff.restart) + len(diff.start)
    done = 0
    for name in diff.stop:
        progress.advance(done, total, f"stopping {name}")
        supervisor.remove_group(program_name(name))
        applied.forget(name)
        done += 1
    for name in diff.restart:
        progress.advance(done, total, f"restarting {name}")
        supervisor.remove_group(program_name(name))
        supervisor.add_group(program_name(name))
        applied.record(name, digests[name], desired.ports[name])
        done += 1

    def start(name: str) -> None:
        if program_name(name) in live:
            supervisor.start_group(program_name(name))
        else:
            supervisor.add_group(program_name(name))
        applied.record(name, digests[name], desired.ports[name])

    for name in diff.start:
        if name not in seeding.later:
            progress.advance(done, total, f"starting {name}")
            start(name)
            done += 1
    if seeding.later:
        write_applied(files.applied, applied)
        seeding.finish(progress)
        for name in seeding.later:
            progress.advance(done, total, f"starting {name}")
            start(name)
            done += 1
    write_applied(files.applied, applied)
    return sorted([*diff.start, *diff.restart])
