"""The lab's VPC after its database instance is gone: the Private Service Access peering.

The networking connection is abandoned on destroy (``deletion_policy = "ABANDON"``:
deleting it fails while Cloud SQL still holds producer resources), which leaves the
``servicenetworking-googleapis-com`` peering on the VPC; the VPC cannot be deleted while
it exists. Removing the peering through Compute fails until Google has released the
producer side, some minutes after the instance is gone, so it is retried for a while.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.google_api import COMPUTE, admin_session, endpoint, error_message, request_json
from mlflowk8s.progress import Progress

SERVICE_NETWORKING_PEERING = "servicenetworking-googleapis-com"
# How long to keep trying (seconds); tests make it short.
WAIT_ENV = "MLFLOWK8S_PEERING_WAIT_SECONDS"
DEFAULT_WAIT = 1800.0
# Answers that mean "not yet" (producer resources still held, another operation running).
_NOT_YET = {400, 409, 412, 429, 500, 502, 503}


def wait_seconds(env: Mapping[str, str]) -> float:
    text = env.get(WAIT_ENV, "")
    try:
        wait = float(text) if text else DEFAULT_WAIT
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 24 * 3600:
        raise UsageError(f"{WAIT_ENV}={text!r}: give seconds between 0 and 86400")
    return wait


class Compute:
    """The few Compute calls the peering needs, on one project and network."""

    def __init__(self, project: str, network: str, env: Mapping[str, str], session: Any) -> None:
        self.base = f"{endpoint(COMPUTE, env)}/compute/v1/projects/{project}/global"
        self.network = network
        self.session = session

    def peerings(self) -> list[str] | None:
        """Peering names of the network; None when the network does not exist."""
        code, body = request_json(self.session, "GET", f"{self.base}/networks/{self.network}")
        if code == 404:
            return None
        if code != 200:
            raise OperationError(f"Compute answered HTTP {code} for VPC {self.network}: "
                                 f"{error_message(body)}")  # fmt: skip
        return [str(p.get("name")) for p in body.get("peerings", [])]

    def remove(self, peering: str) -> str | None:
        """Ask to remove ``peering``: None once done, else why not (yet)."""
        url = f"{self.base}/networks/{self.network}/removePeering"
        code, body = request_json(self.session, "POST", url, {"name": peering})
        if code in _NOT_YET:
            return error_message(body) or f"HTTP {code}"
        if code != 200:
            raise OperationError(f"Compute answered HTTP {code} removing peering {peering} of "
                                 f"VPC {self.network}: {error_message(body)}")  # fmt: skip
        return self._wait(body)

    def _wait(self, operation: dict[str, Any]) -> str | None:
        while operation.get("status") != "DONE":
            time.sleep(2)
            code, operation = request_json(
                self.session, "GET", f"{self.base}/operations/{operation.get('name')}"
            )
            if code != 200:
                return f"operation status HTTP {code}"
        errors = (operation.get("error") or {}).get("errors") or []
        return "; ".join(str(e.get("message") or e.get("code")) for e in errors) or None


def remove_service_networking_peering(
    project: str,
    network: str,
    progress: Progress,
    env: Mapping[str, str] | None = None,
    session: Any = None,
) -> bool:
    """Remove the Private Service Access peering of ``network``, retrying for a while.

    True when the network no longer has it (or no longer exists); False when it was
    still refused when the time ran out (the VPC then stays: it costs nothing).
    """
    env = os.environ if env is None else env
    compute = Compute(project, network, env, session or admin_session())
    wait = wait_seconds(env)
    interval = min(30.0, wait / 60)
    deadline = time.monotonic() + wait
    progress.step(f"removing the {SERVICE_NETWORKING_PEERING} peering of VPC {network} "
                  f"(up to {wait / 60:g} min)")  # fmt: skip
    attempt = 0
    while True:
        peerings = compute.peerings()
        if peerings is None or SERVICE_NETWORKING_PEERING not in peerings:
            return True
        attempt += 1
        why = compute.remove(SERVICE_NETWORKING_PEERING)
        if why is None:
            progress.note(f"Removed the {SERVICE_NETWORKING_PEERING} peering of VPC {network}")
            return True
        progress.advance(attempt, 0, f"not yet: {why}")
        if time.monotonic() + interval > deadline:
            progress.note(f"The {SERVICE_NETWORKING_PEERING} peering of VPC {network} is still "
                          f"refused after {attempt} attempts: {why}")  # fmt: skip
            return False
        time.sleep(interval)
