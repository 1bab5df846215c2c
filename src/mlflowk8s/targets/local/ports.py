"""Each local tenant's port: recorded once in ``ports.json``, never given to another user.

Each environment (``--env``) keeps its own ``ports.json``; together they are the lab's one
allocation: a port recorded by any environment is never given out by another, so the
tenants of ``default`` and ``dev`` can run side by side. Ports are given out under the
lab lock, so two environments' applies never pick the same one.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Collection, Iterable
from pathlib import Path

from mlflowk8s.errors import OperationError


def read_ports(path: Path) -> dict[str, int]:
    """The recorded ports, user -> port (an absent file means none yet)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ports = data["ports"]
        return {str(user): int(port) for user, port in ports.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OperationError(
            f"{path} is damaged ({exc.__class__.__name__}); it records each user's port: "
            "fix or delete it (ports are then given out again)"
        ) from exc


def ports_of_other_environments(ports_file: Path) -> set[int]:
    """Ports recorded by the lab's other environments (``.mlflowk8s/local*/ports.json``)."""
    taken: set[int] = set()
    for other in sorted(ports_file.parent.parent.glob("local*/ports.json")):
        if other.parent != ports_file.parent:
            taken.update(read_ports(other).values())
    return taken


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def allocate_ports(
    recorded: dict[str, int], users: Iterable[str], host: str, base: int,
    reserved: Collection[int] = (),
) -> dict[str, int]:  # fmt: skip
    """Give each user without a port the lowest free one from ``base`` up.

    Ports already recorded (for anyone, retired or purged) are never given again, nor the
    ``reserved`` ones (other environments'), and ports other programs listen on are skipped.
    """
    ports = dict(recorded)
    taken = set(ports.values()) | set(reserved)
    candidate = base
    for user in users:
        if user in ports:
            continue
        while candidate in taken or not port_free(host, candidate):
            candidate += 1
            if candidate > 65535:
                raise OperationError(f"no free port from {base} up for {user}")
        ports[user] = candidate
        taken.add(candidate)
    return ports
