"""Day-2 parts of the local target without servers: log reading, archives, schema checks.

Stores are real SQLite files migrated by MLflow's own alembic migrations.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from mlflowk8s.errors import UsageError
from mlflowk8s.targets.local import archive, schema
from mlflowk8s.targets.local import logs as tenant_logs


def _stamp(seconds_ago: float) -> str:
    return datetime.fromtimestamp(time.time() - seconds_ago).strftime(tenant_logs.STAMP_FORMAT)


def test_logs_since_and_last_across_rotated_files(tmp_path: Path) -> None:
    log = tmp_path / "mlflow-alice.log"
    (tmp_path / "mlflow-alice.log.2").write_text(f"{_stamp(7200)} INFO: oldest\n")
    (tmp_path / "mlflow-alice.log.1").write_text(
        f"{_stamp(3000)} INFO: older\nTraceback (most recent call last):\n"
    )
    log.write_text(f'{_stamp(60)} INFO: "GET /alice/health HTTP/1.1" 200\n{_stamp(1)} INFO: new\n')
    everything = tenant_logs.read(log)
    assert [line.rpartition(": ")[2] for line in everything] == [
        "oldest", "older", "Traceback (most recent call last):", '"GET /alice/health HTTP/1.1" 200',
        "new",
    ]  # fmt: skip
    # A line without a stamp goes with the stamped line before it.
    since = tenant_logs.read(log, since=3600)
    assert since[0].endswith("older") and since[1].startswith("Traceback")
    assert len(since) == 4
    assert tenant_logs.read(log, since=120, last=1) == [everything[-1]]
    assert tenant_logs.read(log, last=0) == []


def test_follow_goes_on_after_rotation(tmp_path: Path) -> None:
    log = tmp_path / "mlflow-alice.log"
    log.write_text("before\n")
    seen: list[str] = []
    follower = tenant_logs.follow(log, start=log.stat().st_size, poll=0.05)

    def consume() -> None:
        for line in follower:
            seen.append(line)
            if line == "after rotation":
                return

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    with log.open("a") as handle:
        handle.write("one\n")
    while "one" not in seen:
        time.sleep(0.05)
    os.rename(log, log.with_name(log.name + ".1"))  # what supervisord does at 10 MB
    log.write_text("after rotation\n")
    thread.join(timeout=60)
    assert seen == ["one", "after rotation"]


def _store(path: Path, revision: str | None = None) -> Path:
    """A real MLflow store: MLflow's initial tables, then its alembic migrations up to
    ``revision`` (default: head), as MLflow itself creates a store."""
    import sqlalchemy
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base

    url = f"sqlite:///{path}"
    engine = sqlalchemy.create_engine(url)
    Base.metadata.create_all(engine)
    config = _get_alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision or schema.revisions()[0])
    engine.dispose()
    return path


def test_older_schema_is_upgraded_newer_refused(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    head, known = schema.revisions()
    import mlflow

    migrations = Path(mlflow.__file__).parent / "store" / "db_migrations"
    alembic = ScriptDirectory(str(migrations))  # alembic's own reading agrees with ours
    assert [head] == alembic.get_heads()
    assert known == {rev.revision for rev in alembic.walk_revisions()}
    store = _store(tmp_path / "mlflow.db", "0a8213491aaa")  # an MLflow 1.x revision
    assert archive.schema_revision(store) == "0a8213491aaa"
    assert schema.check("0a8213491aaa", "3.17.2", "old.tar.gz") is True
    schema.upgrade(store)
    assert archive.schema_revision(store) == head
    assert schema.check(head, "3.17.2", "x") is False
    with pytest.raises(UsageError, match=r"newer than this MLflow \(3\.17\.2, revision"):
        schema.check("ffffffffffff", "3.17.2", "new.tar.gz")


def test_archive_round_trip_modes_and_refusals(tmp_path: Path) -> None:
    data = tmp_path / "data" / "alice"
    (data / "artifacts" / "1" / "run").mkdir(parents=True)
    (data / "artifacts" / "1" / "run" / "note.txt").write_text("hello\n")
    _store(data / "mlflow.db")
    dest = tmp_path / "backups" / archive.default_name()
    dest.parent.mkdir(mode=0o700)
    made = archive.create(data, "alice", "default", dest, "3.17.2")
    assert (made.tenant, made.mlflow_version, made.path) == ("alice", "3.17.2", dest)
    assert made.schema_revision == schema.revisions()[0]
    assert dest.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temporary left
    with pytest.raises(UsageError, match="never overwrites"):
        archive.create(data, "alice", "default", dest, "3.17.2")
    into = tmp_path / "into"
    into.mkdir()
    archive.extract(dest, into)
    assert (into / "artifacts" / "1" / "run" / "note.txt").read_text() == "hello\n"
    archive.check_store(into / "mlflow.db")
    assert sorted(p.name for p in into.iterdir()) == ["artifacts", "mlflow.db"]


def _tar(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo("artifacts/escape")
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
    return path


MANIFEST = json.dumps({"format": 1, "tenant": "alice", "created": "2026-01-01T00:00:00Z",
                       "mlflow_version": "3.17.2", "schema_revision": None}).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("members", "link", "error"),
    [
        ({"manifest.json": MANIFEST, "mlflow.db": b"", "../evil": b"x"}, None, "holds '../evil'"),
        ({"manifest.json": MANIFEST, "mlflow.db": b"", "/etc/x": b"x"}, None, "holds '/etc/x'"),
        ({"manifest.json": MANIFEST, "mlflow.db": b""}, "/etc/passwd", "could not unpack"),
        ({"manifest.json": MANIFEST}, None, "holds no mlflow.db"),
    ],
)
def test_extract_refuses_what_no_backup_holds(
    tmp_path: Path, members: dict[str, bytes], link: str | None, error: str
) -> None:
    bad = _tar(tmp_path / "bad.tar.gz", members, link)
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(Exception, match=error):
        archive.extract(bad, into)
    assert not (tmp_path / "evil").exists()


def test_info_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no backup"):
        archive.info(tmp_path / "missing.tar.gz")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(UsageError, match="is not a mlflowk8s backup"):
        archive.info(tmp_path / "junk.tar.gz")
    listed = archive.listing(tmp_path)
    assert [(b.path.name, b.mlflow_version) for b in listed] == [("junk.tar.gz", "unreadable")]
    with sqlite3.connect(tmp_path / "plain.db") as db:
        db.execute("CREATE TABLE t (x)")
    assert archive.schema_revision(tmp_path / "plain.db") is None
