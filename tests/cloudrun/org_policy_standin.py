"""Resource Manager's ``projects.getEffectiveOrgPolicy`` standing in for Google's: answers
``constraints/sql.restrictPublicIp`` as a test sets it, behind the stand-in token
endpoint's access tokens (the admin's Application Default Credentials)."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.iap_standin import (
    TERRAFORM_BOOTSTRAP_APIS,
    GoogleStandIn,
    ServiceUsageStandIn,
)


class OrgPolicyStandIn:
    def __init__(self, google: GoogleStandIn) -> None:
        self.google = google
        self.enforced: bool | None = False  # None: the caller may not read policies (403)
        self.asked: list[tuple[str, str]] = []  # (path, constraint)
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                status, answer = standin.answer(self.path, body, token)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
        if token not in self.google.access_tokens:
            return 401, {"error": {"code": 401}}
        constraint = str(body.get("constraint"))
        self.asked.append((path, constraint))
        if not path.endswith(":getEffectiveOrgPolicy") or not path.startswith("/v1/projects/"):
            return 404, {"error": {"code": 404}}
        if self.enforced is None:
            return 403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}}
        if constraint == "constraints/sql.restrictPublicIp" and self.enforced:
            return 200, {"constraint": constraint, "booleanPolicy": {"enforced": True}}
        return 200, {"constraint": constraint}  # not set anywhere: not enforced

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class CloudRunAdminGoogle:
    env: dict[str, str]
    policy: OrgPolicyStandIn


@contextlib.contextmanager
def cloudrun_admin_google(project: str, folder: Path) -> Iterator[CloudRunAdminGoogle]:
    google = GoogleStandIn(lifetime=3600)
    usage = ServiceUsageStandIn(google, set(TERRAFORM_BOOTSTRAP_APIS))
    policy = OrgPolicyStandIn(google)
    try:
        key = folder / "admin-key.json"
        key.write_text(
            json.dumps(google.service_account_key(f"admin@{project}.iam.gserviceaccount.com"))
        )
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(key),
            "MLFLOWK8S_SERVICE_USAGE_ENDPOINT": usage.endpoint,
            "MLFLOWK8S_RESOURCE_MANAGER_ENDPOINT": policy.endpoint,
        }
        yield CloudRunAdminGoogle(env, policy)
    finally:
        policy.stop()
        usage.stop()
        google.stop()
