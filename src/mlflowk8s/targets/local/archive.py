"""A local tenant's backup archive: its SQLite store and artifact folder, with a manifest.

``<UTC time>.tar.gz`` holds ``manifest.json`` (first, so listing reads only it), ``mlflow.db``
and ``artifacts/``. The store is copied with SQLite's online backup API, so a server writing
meanwhile leaves a consistent copy, never a torn file. The store is copied before the
artifacts: every artifact the copy refers to was complete by then (artifacts are written
before the client is told they exist), and artifacts logged later are harmless extras.

Archives are 0600 in 0700 folders (they hold every run of the tenant) and written under a
temporary name, then linked into place: a crash leaves no half archive, and an existing
archive is never overwritten.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.targets.day2 import BackupInfo

FORMAT = 1
MANIFEST = "manifest.json"
STORE = "mlflow.db"
ARTIFACTS = "artifacts"
SUFFIX = ".tar.gz"
# Microseconds: two backups in one second (a restore's safety backup right after one) must
# not share a name; the names still sort by time.
TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
COMPRESS_LEVEL = 1  # artifacts are mostly compressed already: gzip -1 costs a fraction of -6


def private_folder(path: Path, top: Path) -> None:
    """Make ``path`` and its parents up to ``top`` (inclusive) exist, owner-only."""
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        folder.chmod(0o700)
        if folder == top:
            break


def default_name(now: float | None = None) -> str:
    return datetime.fromtimestamp(now or time.time(), UTC).strftime(TIME_FORMAT) + SUFFIX


def schema_revision(store: Path) -> str | None:
    """The store's alembic revision (MLflow's schema version); None: no tables yet."""
    with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
    return str(row[0]) if row else None


def _copy_store(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the server keeps writing."""
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(target)) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise OperationError(f"could not copy the store {source}: {exc}") from exc


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _owner_only(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o700 if info.isdir() else 0o600
    return info


def create(data: Path, tenant: str, env: str, dest: Path, mlflow_version: str) -> BackupInfo:
    """Write the archive of the tenant whose folder is ``data`` to ``dest`` (a new file)."""
    store = data / STORE
    if not store.is_file():
        raise UsageError(f"{tenant} has no store yet ({store}): nothing to back up")
    if dest.exists():
        raise UsageError(f"{dest} exists: a backup never overwrites a file")
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=dest.parent) as tmp:
        snapshot = Path(tmp) / STORE
        _copy_store(store, snapshot)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "tenant": tenant,
            "env": env,
            "created": created,
            "mlflow_version": mlflow_version,
            "schema_revision": schema_revision(snapshot),
        }
        partial = Path(tmp) / dest.name
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=COMPRESS_LEVEL) as tar:
                _add_bytes(tar, MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
                tar.add(snapshot, arcname=STORE, filter=_owner_only)
                if (data / ARTIFACTS).is_dir():
                    tar.add(data / ARTIFACTS, arcname=ARTIFACTS, filter=_owner_only)
            raw.flush()
            os.fsync(raw.fileno())
        try:
            os.link(partial, dest)  # fails if dest appeared meanwhile: never overwrite
        except FileExistsError as exc:
            raise UsageError(f"{dest} exists: a backup never overwrites a file") from exc
    _fsync_folder(dest.parent)
    return info(dest)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def info(path: Path) -> BackupInfo:
    """What the archive's manifest says (only the manifest is read)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise ValueError(f"its first member is not {MANIFEST}")
            handle = tar.extractfile(first)
            assert handle is not None
            manifest = json.loads(handle.read(1 << 20))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r} is not {FORMAT}")
        return BackupInfo(
            path=path,
            tenant=str(manifest["tenant"]),
            created=str(manifest["created"]),
            mlflow_version=str(manifest["mlflow_version"]),
            schema_revision=_optional(manifest.get("schema_revision")),
            size=path.stat().st_size,
        )
    except FileNotFoundError as exc:
        raise UsageError(f"no backup {path}") from exc
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a mlflowk8s backup: {exc}") from exc


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def extract(path: Path, into: Path) -> None:
    """Unpack the archive into the empty folder ``into``, with tarfile's ``data`` filter
    (no absolute paths, links out, devices or set-id bits), and only the archive's names."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                top = member.name.split("/", 1)[0]
                if top not in (MANIFEST, STORE, ARTIFACTS):
                    raise UsageError(f"{path} holds {member.name!r}, which no backup holds")
            tar.extractall(into, members=members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise OperationError(f"could not unpack {path}: {exc}") from exc
    if not (into / STORE).is_file():
        raise UsageError(f"{path} holds no {STORE}")
    (into / MANIFEST).unlink()
    (into / ARTIFACTS).mkdir(exist_ok=True)


def check_store(store: Path) -> None:
    """SQLite's own integrity check of an unpacked store."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            result = db.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.Error as exc:
        raise UsageError(f"the backup's store is not a SQLite database: {exc}") from exc
    if not result or result[0] != "ok":
        raise UsageError(f"the backup's store fails SQLite's integrity check: {result}")


def listing(folder: Path) -> list[BackupInfo]:
    """The archives in ``folder``, oldest first (names are UTC times); unreadable ones are
    listed as such, so pruning and the admin still see them."""
    found = []
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        try:
            found.append(info(path))
        except UsageError:
            found.append(BackupInfo(path, "?", "", "unreadable", None, path.stat().st_size))
    return found
