"""Fixtures of the client tests: the pretend Google and IAP (no MLflow needed)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.client.helpers import ALICE, ALICE_JOB, BOB, DESKTOP_CLIENT, IAP_AUDIENCE
from tests.support.iap_standin import GoogleStandIn, IAPStandIn


@pytest.fixture
def token_lifetime() -> int:
    """Seconds the stand-in's ID tokens live; a test module may override it."""
    return 600


@pytest.fixture
def google(token_lifetime: int) -> Iterator[GoogleStandIn]:
    server = GoogleStandIn(lifetime=token_lifetime)
    server.add_desktop_client(DESKTOP_CLIENT)
    yield server
    server.stop()


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"OK" if self.path.endswith("/health") else b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def iap(google: GoogleStandIn) -> Iterator[IAPStandIn]:
    """IAP in front of a tiny backend that answers /<user>/health."""
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = int(backend.server_address[1])
    proxy = IAPStandIn(
        google.jwks_uri,
        audiences=[IAP_AUDIENCE, DESKTOP_CLIENT],
        backends={"alice": port, "bob": port},
        access={"alice": {ALICE, ALICE_JOB}, "bob": {BOB}},
    )
    yield proxy
    proxy.stop()
    backend.shutdown()
    backend.server_close()
