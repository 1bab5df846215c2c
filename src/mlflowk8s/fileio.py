"""Atomic writes, and the one stable JSON form of the files the tool writes.

Every change to a lab's files goes through :func:`write_atomic` (under the lab's lock,
``lab.locks``), so a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


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


def dumps(data: object) -> str:
    """Stable bytes: sorted keys, fixed indentation, trailing newline."""
    import json

    return json.dumps(data, sort_keys=True, indent=2) + "\n"
