"""The lab's locks: one for its files, one per environment for plan/apply/destroy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from mlflowk8s.errors import OperationError

WORK_DIR_NAME = ".mlflowk8s"
LOCK_TIMEOUT_SECONDS = 60.0


def _work_folder(lab_dir: Path) -> Path:
    # The lab folder exists (Lab.open checked it); the work folder is made on first use.
    work = lab_dir / WORK_DIR_NAME
    work.mkdir(exist_ok=True)
    return work


@contextlib.contextmanager
def lab_lock(lab_dir: Path) -> Iterator[None]:
    """Hold the lab's write lock (one lock for all lab files, so multi-file updates are safe)."""
    from filelock import FileLock, Timeout

    work = _work_folder(lab_dir)
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

    path = _work_folder(lab_dir) / f"run-{env}.lock"
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise OperationError(
            f"another plan, apply or destroy of environment {env} is running in this lab "
            f"(it holds {path}): wait for it to finish"
        ) from exc
    try:
        # A run killed where nothing could clean up (kill -9) left its saved plans: they
        # hold every input, secrets too. Under this lock no other run of ours uses them.
        _remove_saved_plans(lab_dir, env)
        yield
    finally:
        _remove_saved_plans(lab_dir, env)
        lock.release()


def _remove_saved_plans(lab_dir: Path, env: str) -> None:
    for plan in (lab_dir / WORK_DIR_NAME / env).glob("*.tfplan"):
        plan.unlink(missing_ok=True)
