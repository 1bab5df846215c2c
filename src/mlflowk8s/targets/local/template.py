"""A new tenant's SQLite store, copied from a template built once per MLflow version.

A tenant's server that finds no store builds one: every one of MLflow's alembic migrations,
~1.5 s of CPU per tenant, while the first apply of a lab starts every tenant at once on a
machine with a few cores. The migrations' result is the same for every tenant, so it is
built once, in the lab's private work folder (``templates/``), with MLflow's own
initialization (what its SQL store runs on an empty database, before it adds anything of
the tenant's), and copied with SQLite's backup API into each new tenant's data folder
before its server starts. The server then opens a store at the schema head, as it would
after a restart, and creates the Default experiment itself (its artifact location is the
tenant's own). ``tests/local/test_template.py`` compares a seeded store with one the server
built from nothing.

A template is named after what decides its content (the MLflow, SQLAlchemy and alembic
versions, SQLite's and the schema head): a new MLflow gets a new template, and an existing
store is never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mlflowk8s.targets.base import Progress
from mlflowk8s.targets.local import archive, schema

FOLDER = "templates"
STORE = archive.STORE
BUILD_TIMEOUT = 600
# Measured per store (2 CPUs, MLflow 3.17): a server migrating one ~5.9 s CPU, opening a
# seeded one ~4 s, a template's build ~5 s. With C CPUs the build and C - 1 new servers run
# first, so the build pays when 5 + 1.9 (C - 1) < 1.9 N: from N = C + 2 new tenants.
MORE_THAN_CPUS = 2
# Set only by tests/local/bench_local.py, to measure the same apply without templates.
DISABLE_ENV = "MLFLOWK8S_LOCAL_NO_STORE_TEMPLATE"

# Run in a child: importing MLflow's store code costs the CLI seconds it never needs again.
# The same two steps as MLflow's SqlAlchemyStore on an empty database; nothing after them.
_BUILD = """\
import sys
from mlflow.store.db import utils
engine = utils.create_sqlalchemy_engine_with_retry("sqlite:///" + sys.argv[1])
utils._initialize_tables(engine)
engine.dispose()
"""
# What may lie beside a store: SQLite's journal files. A store appearing next to a stale one
# would be read through it, so a folder holding any is left to the server.
_COMPANIONS = ("-journal", "-wal", "-shm")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "none"


def template_name() -> str:
    """``mlflow-<version>-<head>-<digest>.db``: what decides the template's content."""
    head, _ = schema.revisions()
    mlflow = _version("mlflow")
    inputs = f"{mlflow} {head} {_version('sqlalchemy')} {_version('alembic')} "
    digest = hashlib.sha256((inputs + sqlite3.sqlite_version).encode()).hexdigest()[:12]
    return f"mlflow-{mlflow}-{head}-{digest}.db"


def problem(store: Path) -> str | None:
    """Why ``store`` cannot serve as a template (None: it can): it must be at the schema head,
    hold no experiment, and name no path of its own (nothing of one tenant in it)."""
    head, _ = schema.revisions()
    found = archive.schema_revision(store)
    if found != head:
        return f"its schema revision is {found}, not {head}"
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        experiments = db.execute("SELECT count(*) FROM experiments").fetchone()[0]
        dump = "\n".join(db.iterdump())
    if experiments:
        return f"it holds {experiments} experiment(s)"
    if str(store.parent) in dump:
        return "it names its own folder"
    return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Build:
    """A template being built by a child process while the first servers start."""

    def __init__(self, root: Path) -> None:
        self.folder = root / FOLDER
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.path = self.folder / template_name()
        # The lab lock is held: a partial file here is a crashed build's.
        for stale in self.folder.glob(".*.db.*"):
            stale.unlink(missing_ok=True)
        self.partial = self.folder / f".{self.path.name}.{os.getpid()}"
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BUILD, str(self.partial)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.partial.unlink(missing_ok=True)

    def finish(self) -> Path:
        """Wait for the child; the checked template, in place (older ones removed)."""
        try:
            output, _ = self.proc.communicate(timeout=BUILD_TIMEOUT)
            if self.proc.returncode != 0:
                last = output.strip().splitlines()
                raise RuntimeError(last[-1] if last else f"exit {self.proc.returncode}")
            why = problem(self.partial)
            if why is not None:
                raise RuntimeError(f"the built template is unusable: {why}")
            self.partial.chmod(0o600)
            os.replace(self.partial, self.path)
        finally:
            self.stop()
        for old in self.folder.glob("*.db"):
            if old != self.path:
                old.unlink(missing_ok=True)
        return self.path


def current(root: Path) -> Path | None:
    """The template of this MLflow in ``root/templates/``, if one was built and is usable."""
    path = root / FOLDER / template_name()
    try:
        return path if path.is_file() and problem(path) is None else None
    except sqlite3.Error:  # not a database (a damaged file): built again
        return None


def seed(template: Path, store: Path) -> bool:
    """Copy ``template`` to ``store`` if there is no store yet; True when copied.

    Written beside it and linked into place: the server sees no store or a whole one, and
    an existing store (or one that appears meanwhile) is never overwritten."""
    if store.exists() or any(store.with_name(store.name + s).exists() for s in _COMPANIONS):
        return False
    partial = store.with_name(f".{store.name}.seed-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{template}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
        os.link(partial, store)
        return True
    except (OSError, sqlite3.Error):
        # Already there (never overwritten), or no copy could be made (a full disk): the
        # server builds its own store, or reports why it cannot.
        return False
    finally:
        partial.unlink(missing_ok=True)


@dataclass
class Seeding:
    """Which servers start now and which once the template is built and copied to them.

    With no template yet, building one costs about what migrating 2.6 stores does (most of
    it is importing MLflow's store code), in a child process beside the first new servers
    (one CPU fewer: they build their own stores), the others waiting for it. On C CPUs that
    pays from C + 2 new tenants on (:data:`MORE_THAN_CPUS`); fewer start at once, and the
    template waits for an apply that pays for it. Apply holds the lab lock throughout:
    nobody else builds or removes templates."""

    now: list[str]
    later: list[str] = field(default_factory=list)
    build: Build | None = None
    data: dict[str, Path] = field(default_factory=dict)

    def close(self) -> None:
        """End a build still running (apply stopped early: a signal, an error)."""
        if self.build is not None:
            self.build.stop()
            self.build = None

    def finish(self, progress: Progress) -> None:
        """Seed the waiting tenants' stores; a template that failed is a note, not an error:
        each server then builds its own store, as without templates."""
        if self.build is None:
            return
        progress.step(f"copying the store template for {len(self.later)} new tenant(s)")
        try:
            path = self.build.finish()
        except (OSError, RuntimeError, sqlite3.Error, subprocess.TimeoutExpired) as exc:
            progress.note(f"No store template ({exc}): each new server builds its own store.")
            return
        finally:
            self.build = None
        for name in self.later:
            seed(path, self.data[name] / STORE)


def plan(root: Path, starting: dict[str, Path]) -> Seeding:
    """How the servers in ``starting`` (name -> data folder, none running) get their stores:
    copied now from the current template, or split as :class:`Seeding` says."""
    new = sorted(n for n, d in starting.items() if not (d / STORE).exists())
    old = sorted(n for n in starting if n not in new)
    if not new or os.environ.get(DISABLE_ENV):
        return Seeding(now=sorted(starting))
    template = current(root)
    if template is not None:
        for name in new:
            seed(template, starting[name] / STORE)
        return Seeding(now=sorted(starting))
    cpus = _cpus()
    if len(new) < cpus + MORE_THAN_CPUS:
        return Seeding(now=sorted(starting))
    first = new[: cpus - 1]
    try:
        build = Build(root)
    except OSError:
        return Seeding(now=sorted(starting))
    return Seeding(now=sorted([*old, *first]), later=new[cpus - 1 :], build=build,
                   data=dict(starting))  # fmt: skip
