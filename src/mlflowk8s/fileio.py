"""Atomic, locked writes of the lab's files.

Every change to ``.env`` and ``users.yaml`` goes through :func:`lab_lock` and
:func:`write_atomic`, so concurrent commands never interleave and a crash never leaves a
half-written file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mlflowk8s.errors import OperationError, UsageError

WORK_DIR_NAME = ".mlflowk8s"
LOCK_TIMEOUT_SECONDS = 60.0


def _work_folder(lab_dir: Path, create_lab: bool) -> Path:
    if not create_lab and not lab_dir.is_dir():
        # A mistyped --lab-dir must not become a new, empty lab.
        raise UsageError(f"no lab folder {lab_dir}: check --lab-dir, or run `mlflowk8s init` there")
    work = lab_dir / WORK_DIR_NAME
    work.mkdir(parents=create_lab, exist_ok=True)
    return work


@contextlib.contextmanager
def lab_lock(lab_dir: Path, create_lab: bool = False) -> Iterator[None]:
    """Hold the lab's write lock (one lock for all lab files, so multi-file updates are safe)."""
    from filelock import FileLock, Timeout

    work = _work_folder(lab_dir, create_lab)
    lock = FileLock(str(work / "lab.lock"))
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            yield
    except Timeout as exc:
        raise OperationError(
            f"another mlflowk8s command holds the lab lock {work / 'lab.lock'} "
            f"for more than {LOCK_TIMEOUT_SECONDS:.0f} s"
        ) from exc


@contextlib.contextmanager
def run_lock(lab_dir: Path, env: str) -> Iterator[None]:
    """Hold the lock of one environment's plan/apply/destroy; a second run fails at once.

    Runs take minutes, so waiting would look like a hang; the lab lock stays free for
    ``add-user`` and friends meanwhile.
    """
    from filelock import FileLock, Timeout

    path = _work_folder(lab_dir, create_lab=False) / f"run-{env}.lock"
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise OperationError(
            f"another plan, apply or destroy of environment {env} is running in this lab "
            f"(it holds {path}): wait for it to finish"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def write_atomic(path: Path, data: str | bytes, mode: int | None = None) -> bool:
    """Write ``data`` to ``path`` via temp file, fsync and rename.

    Returns False (and touches nothing) when the file already holds exactly these bytes,
    so re-running a command is visibly a no-op.
    """
    import tempfile

    raw = data.encode() if isinstance(data, str) else data
    try:
        if path.read_bytes() == raw:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
