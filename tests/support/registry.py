"""A stand-in for ghcr.io: the part of the OCI distribution API that pinning the servers'
image uses (``mlflowk8s.server_image``).

A small http.server: a 401 naming its token endpoint, anonymous tokens, HEAD and GET of
manifests by tag and by digest. It stands in for ghcr.io only.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

REPO = "mlflow/mlflow"


def index(*platforms: tuple[str, str]) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"digest": "sha256:" + "0" * 64, "platform": {"os": o, "architecture": a}}
                      for o, a in platforms],
    }).encode()  # fmt: skip


@dataclass
class Registry:
    url: str = ""
    tags: dict[str, bytes] = field(default_factory=dict)
    tamper: bool = False  # serve other bytes than the digest names
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, accept

    def digest(self, body: bytes) -> str:
        return f"sha256:{hashlib.sha256(body).hexdigest()}"

    def publish_servers_image(self) -> str:
        """Serve the servers' pinned tag (linux/amd64 and arm64); its pinned reference."""
        from mlflowk8s import server

        body = index(("linux", "amd64"), ("linux", "arm64"))
        tag = f"v{server.MLFLOW_VERSION}-full"
        self.tags[tag] = body
        return f"ghcr.io/{REPO}:{tag}@{self.digest(body)}"

    def env(self) -> dict[str, str]:
        """What points `mlflowk8s init` at this stand-in instead of https://ghcr.io."""
        from mlflowk8s.google.init import REGISTRY_URL_ENV

        return {REGISTRY_URL_ENV: self.url}


@contextmanager
def running() -> Iterator[Registry]:
    state = Registry()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _manifest(self, send_body: bool) -> None:
            state.seen.append((self.command, self.path, self.headers.get("Accept", "")))
            if self.headers.get("Authorization") != "Bearer anon-token":
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Bearer realm="{state.url}/token",'
                                 f'service="stand-in",scope="repository:{REPO}:pull"')  # fmt: skip
                self.end_headers()
                return
            ref = self.path.rpartition("/")[2]
            bodies = {**state.tags, **{state.digest(b): b for b in state.tags.values()}}
            body = bodies.get(ref)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            digest = state.digest(body)
            if state.tamper:
                body = body.replace(b"amd64", b"AMD64")
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.index.v1+json")
            self.send_header("Docker-Content-Digest", digest)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._manifest(send_body=False)

        def do_GET(self) -> None:
            if self.path.startswith("/token?"):
                assert f"scope=repository%3A{REPO.replace('/', '%2F')}%3Apull" in self.path
                body = json.dumps({"token": "anon-token"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self._manifest(send_body=True)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
