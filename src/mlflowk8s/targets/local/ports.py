"""Each local tenant's port: recorded once in ``ports.json``, never given to another user."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
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
    recorded: dict[str, int], users: Iterable[str], host: str, base: int
) -> dict[str, int]:
    """Give each user without a port the lowest free one from ``base`` up.

    Ports already recorded (for anyone, retired or purged) are never given again, and
    ports other programs listen on are skipped.
    """
    ports = dict(recorded)
    taken = set(ports.values())
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
