"""The MLflow schema of a local tenant's store, against the MLflow the servers run.

MLflow versions its SQL schema with alembic; a server refuses a store whose revision is not
its head. A store of an older revision is upgraded with ``mlflow db upgrade`` (MLflow's own
migrations); one whose revision this MLflow does not know was written by a newer MLflow and
cannot be served by this one.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from mlflowk8s.errors import OperationError, UsageError

UPGRADE_TIMEOUT = 1800


# Each migration file names itself and its parent on lines of their own (alembic's template).
_REVISION = re.compile(r'^revision\s*=\s*["\']([0-9a-z_]+)["\']', re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


@cache
def revisions() -> tuple[str, frozenset[str]]:
    """The head revision of the installed MLflow's migrations, and every revision it knows.

    Read from the migration files' text: alembic's own walk imports every migration module,
    which takes seconds, and a restore only needs the names."""
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("MLflow is not installed here: pip install 'mlflowk8s[local]'")
    versions = (
        Path(next(iter(spec.submodule_search_locations))) / "store" / "db_migrations" / "versions"
    )
    known: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        known.add(found.group(1))
        down = _DOWN.search(text)
        if down is not None:
            parents.update(re.findall(r"[0-9a-z_]{6,}", down.group(1).replace("None", "")))
    heads = sorted(known - parents)
    if len(heads) != 1:
        raise OperationError(f"MLflow's migrations in {versions} have {len(heads)} heads")
    return heads[0], frozenset(known)


def check(revision: str | None, mlflow_version: str, where: str) -> bool:
    """Whether a store of ``revision`` needs an upgrade; an unknown (newer) one is refused."""
    head, known = revisions()
    if revision is None or revision == head:
        return False
    if revision not in known:
        raise UsageError(
            f"{where} has MLflow schema revision {revision}, newer than this MLflow "
            f"({mlflow_version}, revision {head}) knows: upgrade MLflow here first "
            "(pip install -U 'mlflowk8s[local]'), then restore"
        )
    return True


def upgrade(store: Path) -> None:
    """``mlflow db upgrade`` on a store no server uses yet (the unpacked backup)."""
    command = [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{store}"]
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=UPGRADE_TIMEOUT,
            stdin=subprocess.DEVNULL, env={**_quiet_env()},
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OperationError(f"mlflow db upgrade did not finish: {exc}") from exc
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        raise OperationError(
            f"mlflow db upgrade of the backup's store failed: {last[-1] if last else 'no output'}"
        )


def _quiet_env() -> dict[str, str]:
    import os

    return {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
