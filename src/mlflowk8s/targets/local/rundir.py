"""Where a lab's supervisord control socket lives: a folder only its owner can enter.

Whoever can connect to the socket controls every tenant's server, so it never lies in a
folder another account could create first. It sits in the lab's local folder (made 0700);
when that path is too long for a unix socket, in a private folder chosen once and recorded
in the lab (``socket-dir``): ``$XDG_RUNTIME_DIR/mlflowk8s-<hash>`` when the user has a
private runtime folder, else a fresh ``mkdtemp`` folder (random name, 0700).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from mlflowk8s.errors import OperationError
from mlflowk8s.fileio import write_atomic

SOCKET_NAME = "supervisor.sock"
RECORD = "socket-dir"
# AF_UNIX paths hold at most 107 bytes on Linux (103 on macOS); leave some room.
MAX_SOCKET_PATH = 100


def is_private(folder: Path) -> bool:
    """A real folder (not a symlink) of this user that nobody else may enter."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def make_private(folder: Path) -> Path:
    """Create ``folder`` (0700) or tighten it; refuse one that is not this user's own."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
        os.chmod(folder, 0o700)
    if not is_private(folder):
        raise OperationError(
            f"{folder} is not a private folder of this user (a symlink, or another account's): "
            "the supervisord control socket cannot go there; remove it and run the command again"
        )
    return folder


def socket_path(root: Path, choose: bool = False) -> Path:
    """The control socket of the supervisord whose files are in ``root``.

    Only ``choose`` (apply, under the lab lock) creates a folder: before that, a deep lab's
    socket is its runtime-folder path, or, with none, a path in ``root`` no socket can have
    (nothing runs yet), so plan and status write nothing.
    """
    preferred = root / SOCKET_NAME
    if len(str(preferred)) <= MAX_SOCKET_PATH:
        return preferred
    recorded = _read(root / RECORD)
    if recorded is not None and is_private(recorded):
        return recorded / SOCKET_NAME
    if choose:
        return _short_folder(root) / SOCKET_NAME
    runtime = _runtime_folder(root, create=False)
    return (runtime or root) / SOCKET_NAME


def _short_folder(root: Path) -> Path:
    record = root / RECORD
    from filelock import FileLock

    make_private(root)
    with FileLock(str(root / f"{RECORD}.lock")):
        recorded = _read(record)  # another command may have chosen one meanwhile
        if recorded is not None and is_private(recorded):
            return recorded
        chosen = _runtime_folder(root) or Path(tempfile.mkdtemp(prefix="mlflowk8s-"))
        if len(str(chosen / SOCKET_NAME)) > MAX_SOCKET_PATH:
            raise OperationError(
                f"no short private folder for the supervisord socket of {root} ({chosen} is too "
                "long): set TMPDIR to a short folder, or move the lab"
            )
        write_atomic(record, f"{chosen}\n", mode=0o600)
    return chosen


def _runtime_folder(root: Path, create: bool = True) -> Path | None:
    """``$XDG_RUNTIME_DIR/mlflowk8s-<hash>`` when the runtime folder is this user's own."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if not runtime or not Path(runtime).is_absolute() or not is_private(Path(runtime)):
        return None
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    folder = Path(runtime) / f"mlflowk8s-{digest}"
    if len(str(folder / SOCKET_NAME)) > MAX_SOCKET_PATH:
        return None
    if not create:
        return folder
    try:
        return make_private(folder)
    except (OSError, OperationError):
        return None


def _read(record: Path) -> Path | None:
    try:
        text = record.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return Path(text) if text and Path(text).is_absolute() else None
