"""The store template: a seeded store is the one a tenant's server builds from nothing.

Real MLflow (its own initialization builds the template; its server code opens the stores),
real SQLite files, and in the last test a real apply under supervisord.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlflowk8s.progress import QuietProgress
from mlflowk8s.targets.local import schema, template
from tests.local.conftest import LocalLab

# What the launcher runs before it binds its port (launcher.main): MLflow's store setup.
OPEN_AS_SERVER = """\
import sys
from mlflow.server.handlers import initialize_backend_stores
uri = "sqlite:///" + sys.argv[1]
initialize_backend_stores(uri, uri, "mlflow-artifacts:/")
"""
# Set when the store is made: the moment differs between any two stores.
CLOCK_COLUMNS = {"experiments": ("creation_time", "last_update_time")}


def open_as_server(store: Path) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run([sys.executable, "-c", OPEN_AS_SERVER, str(store)],
                          capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _lines(sql: str | None) -> tuple[str, ...]:
    """A statement as the set of its lines (one column or constraint each): two stores the
    server built from nothing list the runs table's constraints in different orders (set
    order under hash randomization), so the order is no fact of a store."""
    return tuple(sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))


def describe(store: Path) -> dict[str, Any]:
    """Everything a server could tell two stores apart by, but the clock."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        pragmas = {p: db.execute(f"PRAGMA {p}").fetchone()[0] for p in (
            "page_size", "journal_mode", "user_version", "application_id", "auto_vacuum",
            "encoding")}  # fmt: skip
        objects = sorted(
            (kind, name, table, _lines(sql))
            for kind, name, table, sql in db.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            )
        )
        rows = {}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]
            kept = [c for c in columns if c not in CLOCK_COLUMNS.get(table, ())]
            listed = ", ".join(f'"{c}"' for c in kept)
            rows[table] = sorted(db.execute(f'SELECT {listed} FROM "{table}"'), key=repr)
    return {"pragmas": pragmas, "objects": objects, "rows": rows}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One template, built as apply builds it (a child running MLflow's initialization)."""
    root = tmp_path_factory.mktemp("local")
    return template.Build(root).finish()


def test_a_seeded_store_is_the_one_the_server_builds(built: Path, tmp_path: Path) -> None:
    seeded, fresh = tmp_path / "seeded" / "mlflow.db", tmp_path / "fresh" / "mlflow.db"
    seeded.parent.mkdir()
    fresh.parent.mkdir()
    assert template.seed(built, seeded)
    # The template holds the schema only: at the head, no experiment, nothing of a tenant.
    assert template.problem(built) is None
    open_as_server(seeded)
    open_as_server(fresh)
    ours, theirs = describe(seeded), describe(fresh)
    assert ours["rows"]["alembic_version"] == [(schema.revisions()[0],)]
    assert ours["pragmas"] == theirs["pragmas"]
    assert ours["objects"] == theirs["objects"]
    assert ours["rows"] == theirs["rows"]
    # The Default experiment is the server's own, pointing at the tenant's proxied artifacts.
    assert [r[:2] for r in ours["rows"]["experiments"]] == [(0, "Default")]


def test_seeding_never_overwrites_a_store(built: Path, tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"a tenant's runs")
    assert not template.seed(built, store)
    assert store.read_bytes() == b"a tenant's runs"
    # A journal left beside a missing store would be read into a new one: left to the server.
    other = tmp_path / "other"
    other.mkdir()
    (other / "mlflow.db-wal").write_bytes(b"stale")
    assert not template.seed(built, other / "mlflow.db")
    assert not (other / "mlflow.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db", "other"]


def test_an_unusable_template_is_refused(built: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    assert template.seed(built, old)
    with contextlib.closing(sqlite3.connect(old)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = 'cafe00000000'")
    assert "revision is cafe00000000" in str(template.problem(old))
    tenant = tmp_path / "tenant.db"
    assert template.seed(built, tenant)
    open_as_server(tenant)  # the server added the Default experiment
    assert "1 experiment(s)" in str(template.problem(tenant))


class Notes(QuietProgress):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_new_tenants_beyond_the_cpus_wait_for_the_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template, "_cpus", lambda: 2)
    root = tmp_path / "local"
    root.mkdir()
    data = {n: tmp_path / "data" / n for n in ("ann", "ben", "cat", "dan", "eli")}
    for folder in data.values():
        folder.mkdir(parents=True)
    (data["dan"] / "mlflow.db").write_bytes(b"dan's runs")
    # One new tenant more than CPUs: a template would not pay for itself.
    few = template.plan(root, {n: data[n] for n in ("ann", "ben", "cat")})
    assert (few.now, few.later, few.build) == (["ann", "ben", "cat"], [], None)
    split = template.plan(root, data)
    try:
        # One CPU builds the template; one new server starts beside it with the old ones.
        assert (split.now, split.later) == (["ann", "dan"], ["ben", "cat", "eli"])
        assert not (data["ann"] / "mlflow.db").exists()  # it builds its own
        split.finish(progress := Notes())
    finally:
        split.close()
    assert progress.notes == []
    for name in ("ben", "cat", "eli"):
        assert template.problem(data[name] / "mlflow.db") is None
    assert (data["dan"] / "mlflow.db").read_bytes() == b"dan's runs"
    [made] = (root / "templates").iterdir()
    assert template.current(root) == made and made.stat().st_mode & 0o777 == 0o600
    # With a template in place, every new store is copied before any server starts.
    (tmp_path / "data" / "eve").mkdir()
    again = template.plan(root, {"ann": data["ann"], "eve": tmp_path / "data" / "eve"})
    assert (again.now, again.later, again.build) == (["ann", "eve"], [], None)
    for folder in (data["ann"], tmp_path / "data" / "eve"):
        assert template.problem(folder / "mlflow.db") is None


def test_a_failed_build_leaves_the_stores_to_their_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template, "_cpus", lambda: 1)
    monkeypatch.setattr(template, "_BUILD", "import sys; sys.exit('no MLflow in this Python')")
    data = {n: tmp_path / n for n in ("ann", "ben", "cat")}
    for folder in data.values():
        folder.mkdir()
    split = template.plan(tmp_path, data)
    assert split.later == ["ann", "ben", "cat"]
    split.finish(progress := Notes())
    assert progress.notes == [
        "No store template (no MLflow in this Python): each new server builds its own store."
    ]
    assert not any((d / "mlflow.db").exists() for d in data.values())
    assert list((tmp_path / "templates").iterdir()) == []


def test_apply_seeds_new_tenants_and_they_serve(local_lab: LocalLab) -> None:
    lab = local_lab
    names = ("ann", "ben", "cat", "dan")
    for name in names:
        lab.ok("add-user", name)
    # Two CPUs for the CLI and what it starts: ann starts at once beside the template's
    # build, the others wait for it.
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(sorted(allowed)[:2]))
    try:
        lab.ok("apply", "--yes")
    finally:
        os.sched_setaffinity(0, allowed)
    [made] = (lab.root / "templates").iterdir()
    assert template.problem(made) is None
    for name in names:
        store = lab.root / "data" / name / "mlflow.db"
        found = describe(store)
        assert found["rows"]["alembic_version"] == [(schema.revisions()[0],)]
        assert [r[:2] for r in found["rows"]["experiments"]] == [(0, "Default")]
    for name in ("ann", "dan"):  # a store its server built, and a seeded one
        run = lab.client(name, "log")
        read = lab.client(name, "read", str(run["run_id"]))
        assert read["found"] and read["experiments"] == ["Default", "isolation"]
    assert all(t["healthy"] for t in lab.tenants().values())


def test_a_damaged_template_is_built_again(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "local"
    (root / "templates").mkdir(parents=True)
    damaged = root / "templates" / template.template_name()
    damaged.write_bytes(b"not a database" * 100)
    assert template.current(root) is None
    assert not template.seed(damaged, tmp_path / "mlflow.db")
    assert not (tmp_path / "mlflow.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local"]  # no partial copy left
