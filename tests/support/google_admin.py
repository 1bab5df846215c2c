"""Stand-ins for the Google APIs the CLI calls itself around Terraform, on 127.0.0.1.

* :class:`ResourceManagerStandIn`: ``projects.get`` (v3): a project id's number.
* :class:`IapSettingsStandIn`: ``projects/N/iap_web:iapSettings`` GET and PATCH (with the
  update mask), holding each project's programmatic clients.
* :class:`ComputeStandIn`: ``networks.get`` and ``networks.removePeering`` with its global
  operation; a peering can be made to refuse removal a number of times (Google refuses
  while Cloud SQL still holds producer resources). A peered network has a marker file,
  which the fixture platform root's network checks before it can be destroyed, as a VPC
  with a peering cannot be deleted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.iap_standin import GoogleStandIn, _GoogleApiStandIn

PROJECT_NUMBER = "123456789012"
IAP_MASK = "iapSettings.accessSettings.oauthSettings.programmaticClients"
PRODUCER_BUSY = (
    "Producer services (e.g. CloudSQL, Cloud Memstore, etc.) are still using this connection."
)


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message}}


class ResourceManagerStandIn(_GoogleApiStandIn):
    def __init__(self, google: GoogleStandIn, numbers: dict[str, str]) -> None:
        self.numbers = numbers
        super().__init__(google)

    def answer(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        # /v3/projects/ID
        if len(parts) == 4 and parts[2] == "projects" and parts[3] in self.numbers:
            return 200, {"name": f"projects/{self.numbers[parts[3]]}", "projectId": parts[3]}
        return _error(403, "The caller does not have permission")


class IapSettingsStandIn(_GoogleApiStandIn):
    def __init__(self, google: GoogleStandIn) -> None:
        self.clients: dict[str, list[str]] = {}  # project number -> programmatic clients
        self.patches: list[dict[str, Any]] = []
        super().__init__(google)

    def reset(self) -> None:
        self.clients.clear()
        self.patches.clear()

    def handle(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        # /v1/projects/N/iap_web:iapSettings
        if len(parts) != 5 or parts[2] != "projects" or parts[4] != "iap_web:iapSettings":
            return _error(404, "not found")
        number = parts[3]
        if method == "PATCH":
            if query.get("updateMask") != IAP_MASK:
                return _error(400, f"unexpected update mask {query.get('updateMask')!r}")
            clients = body["accessSettings"]["oauthSettings"]["programmaticClients"]
            self.patches.append({"project": number, "clients": list(clients)})
            self.clients[number] = list(clients)
        elif method != "GET":
            return _error(405, method)
        oauth = {"programmaticClients": self.clients[number]} if self.clients.get(number) else {}
        settings = {"oauthSettings": oauth}
        return 200, {"name": f"projects/{number}/iap_web", "accessSettings": settings}


@dataclass
class Network:
    peerings: list[str] = field(default_factory=list)
    marker: Path | None = None
    refusals: int = 0  # removePeering answers "still in use" this many more times
    attempts: int = 0


class ComputeStandIn(_GoogleApiStandIn):
    def __init__(self, google: GoogleStandIn, project: str) -> None:
        self.project = project
        self.networks: dict[str, Network] = {}
        self._lock = threading.Lock()
        super().__init__(google)

    def reset(self) -> None:
        self.networks.clear()

    def peer(self, network: str, peering: str, marker: Path, refusals: int = 0) -> Network:
        marker.write_text(peering)
        self.networks[network] = Network([peering], marker, refusals)
        return self.networks[network]

    def handle(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        # /compute/v1/projects/P/global/networks/N[/removePeering] | .../operations/OP
        if len(parts) < 8 or parts[4] != self.project or parts[5] != "global":
            return _error(404, "not found")
        if parts[6] == "operations":
            return 200, {"name": parts[7], "status": "DONE"}
        with self._lock:
            network = self.networks.get(parts[7])
            if network is None:
                return _error(404, f"The resource 'networks/{parts[7]}' was not found")
            if method == "GET" and len(parts) == 8:
                return 200, {"name": parts[7], "peerings": [{"name": p} for p in network.peerings]}
            if method == "POST" and parts[8:] == ["removePeering"]:
                return self._remove(network, str(body.get("name")))
        return _error(405, method)

    def _remove(self, network: Network, peering: str) -> tuple[int, dict[str, Any]]:
        network.attempts += 1
        if peering not in network.peerings:
            return _error(400, f"There is no peering named '{peering}'")
        if network.refusals > 0:
            network.refusals -= 1
            return _error(400, PRODUCER_BUSY)
        network.peerings.remove(peering)
        if network.marker is not None:
            network.marker.unlink(missing_ok=True)
        return 200, {"name": f"operation-remove-{peering}", "status": "RUNNING"}
