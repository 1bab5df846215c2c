"""Finding and ending a lab's processes, whoever started them.

Every process supervisord starts inherits :data:`MARKER_ENV` (the lab's local folder), so
the lab's processes — supervisord, each tenant's server, even one orphaned by a crash — can
be found through ``/proc`` and ended, never by a substring of a command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from mlflowk8s.targets.local.supervisor_config import Layout

# Set in supervisord's environment, inherited by every process it starts.
MARKER_ENV = "MLFLOWK8S_LOCAL_DIR"


def lab_processes(layout: Layout, program: str | None = None) -> list[int]:
    """PIDs of this lab's processes (Linux ``/proc``; elsewhere an empty list).

    ``program`` narrows the search to one program's processes (supervisord sets
    ``SUPERVISOR_PROCESS_NAME`` in each child's environment).
    """
    marker = f"{MARKER_ENV}={layout.root}".encode() + b"\0"
    wanted = f"SUPERVISOR_PROCESS_NAME={program}".encode() + b"\0" if program else None
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    own = os.getpid()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if b"\0" + marker in b"\0" + environ and (
            wanted is None or b"\0" + wanted in b"\0" + environ
        ):
            found.append(int(entry.name))
    return sorted(found)


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def end_processes(pids: list[int], grace: float = 5.0) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns the PIDs that had to be ended."""
    alive = [pid for pid in pids if is_alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(pid) for pid in alive):
        time.sleep(0.1)
    for pid in alive:
        if is_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return alive


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
