"""A local tenant's server log: supervisord's file of it, rotated files included.

supervisord rotates ``mlflow-<user>.log`` at 10 MB into ``.log.1`` .. ``.log.3`` (oldest
last). The server's lines start with ``YYYY/MM/DD HH:MM:SS`` in the machine's local time
(MLflow's uvicorn log config, access lines too); a line without one (a traceback, a warning)
belongs to the stamped line before it, which decides ``--since``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

STAMP_FORMAT = "%Y/%m/%d %H:%M:%S"
STAMP_LENGTH = 19
BACKUPS = 3  # supervisord's stdout_logfile_backups in the rendered config
FOLLOW_POLL = 0.25


def _stamp(line: str) -> float | None:
    """The epoch time a line starts with, or None."""
    try:
        return datetime.strptime(line[:STAMP_LENGTH], STAMP_FORMAT).timestamp()
    except ValueError:
        return None


def _files(log: Path) -> list[Path]:
    """The rotated files, oldest first, then the live one."""
    rotated = [log.with_name(f"{log.name}.{i}") for i in range(BACKUPS, 0, -1)]
    return [p for p in rotated if p.is_file()] + ([log] if log.is_file() else [])


def _lines(path: Path, until: int | None = None) -> Iterator[str]:
    with path.open("rb") as handle:
        data = handle.read() if until is None else handle.read(until)
    lines = data.decode("utf-8", errors="replace").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    yield from lines


def read(
    log: Path, since: float | None = None, last: int | None = None, until: int | None = None
) -> list[str]:
    """The log's lines, oldest first: those from ``since`` seconds ago on, the last ``last``;
    ``until``: read the live file only up to that offset (where following begins)."""
    cutoff = time.time() - since if since is not None else None
    kept: deque[str] = deque(maxlen=last) if last is not None else deque()
    keep = cutoff is None
    for path in _files(log):
        for line in _lines(path, until if path == log else None):
            if cutoff is not None:
                stamp = _stamp(line)
                if stamp is not None:
                    keep = stamp >= cutoff
            if keep:
                kept.append(line)
    return list(kept)


def follow(log: Path, start: int = 0, poll: float = FOLLOW_POLL) -> Iterator[str]:
    """New lines as the server writes them, from offset ``start`` of the live file; after a
    rotation (the file renamed, a new one begun) the new file is read from its start."""
    handle = None
    inode = None
    partial = b""
    first = True
    try:
        while True:
            if handle is None:
                try:
                    handle = log.open("rb")
                except FileNotFoundError:
                    first = False  # a file that appears later is new: read it whole
                    time.sleep(poll)
                    continue
                inode = os.fstat(handle.fileno()).st_ino
                if first and start:
                    handle.seek(start)
                first = False
            chunk = handle.read()
            if chunk:
                partial += chunk
                *complete, partial = partial.split(b"\n")
                for line in complete:
                    yield line.decode("utf-8", errors="replace")
                continue
            try:
                current: os.stat_result | None = log.stat()
            except FileNotFoundError:
                current = None
            if current is None or current.st_ino != inode or current.st_size < handle.tell():
                # Rotated or truncated: what was left in the old file has been read above.
                handle.close()
                handle = None
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()
