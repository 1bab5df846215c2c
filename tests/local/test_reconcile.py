"""Reconciling a real supervisord: tenants waiting for the store template start only after it.

Real supervisord, real processes; the tenants' servers are stood in for by a sleeping Python
(what is tested is when supervisord starts them, not what they serve).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlflowk8s.progress import QuietProgress
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.reconcile import Files, reconcile
from mlflowk8s.targets.local.state import Applied, Desired, diff, program_name, read_applied
from mlflowk8s.targets.local.template import Seeding

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


class Recorded(Seeding):
    """A seeding that notes which programs supervisord had loaded when it was finished."""

    def __init__(self, now: list[str], later: list[str], supervisor: sv.Supervisor) -> None:
        super().__init__(now=now, later=later)
        self.supervisor = supervisor
        self.loaded_at_finish: set[str] | None = None

    def finish(self, progress: object) -> None:
        self.loaded_at_finish = set(self.supervisor.processes())


def desired(layout: sv.Layout, names: list[str]) -> Desired:
    programs = {
        n: sv.Program(name=program_name(n), command=SLEEPER, env={}, directory=layout.root,
                      logfile=layout.program_log(program_name(n)), startsecs=0)
        for n in names
    }  # fmt: skip
    ports = {n: 20000 + i for i, n in enumerate(names)}
    return Desired("127.0.0.1", ports, programs, sv.render_config(layout, list(programs.values())))


@pytest.fixture
def layout(tmp_path: Path) -> sv.Layout:
    layout = sv.Layout(tmp_path / "local")
    layout.root.mkdir()
    layout.choose_socket()
    return layout


def test_waiting_tenants_start_after_the_template(layout: sv.Layout) -> None:
    supervisor = sv.Supervisor(layout)
    files = Files(layout, layout.root / "applied.json")
    try:
        # supervisord not running: it starts with the config minus those who wait.
        first = desired(layout, ["ann", "ben", "cat"])
        layout.conf.write_text(first.config)
        change = diff(first, {}, Applied(), False, None)
        seeding = Recorded(now=["ann"], later=["ben", "cat"], supervisor=supervisor)
        started = reconcile(supervisor, files, first, {}, change, seeding, QuietProgress())
        assert started == ["ann", "ben", "cat"]
        assert seeding.loaded_at_finish == {"mlflow-ann"}
        assert layout.conf.read_text() == first.config  # the whole config, once they started
        live = supervisor.processes()
        assert sorted(live) == ["mlflow-ann", "mlflow-ben", "mlflow-cat"]
        assert sorted(read_applied(files.applied).programs) == ["ann", "ben", "cat"]

        # supervisord running: the new groups come in two steps as well.
        second = desired(layout, ["ann", "ben", "cat", "dan", "eve", "fay"])
        layout.conf.write_text(second.config)
        change = diff(second, live, read_applied(files.applied), True, None)
        assert change.start == ["dan", "eve", "fay"] and not change.restart
        seeding = Recorded(now=["dan"], later=["eve", "fay"], supervisor=supervisor)
        started = reconcile(supervisor, files, second, live, change, seeding, QuietProgress())
        assert started == ["dan", "eve", "fay"]
        assert seeding.loaded_at_finish == {f"mlflow-{n}" for n in ("ann", "ben", "cat", "dan")}
        live = supervisor.processes()
        assert len(live) == 6 and all(i.state in sv.RUNNING_STATES for i in live.values())
        assert sorted(read_applied(files.applied).programs) == sorted(second.programs)
        # Nothing changed since: the next apply has nothing to do.
        assert diff(second, live, read_applied(files.applied), True, None).empty
    finally:
        supervisor.shutdown()
