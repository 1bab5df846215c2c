"""Pinning the servers' image by digest, against a registry stand-in.

The stand-in (a small http.server) speaks the part of the OCI distribution API the
resolver uses: a 401 naming its token endpoint, anonymous tokens, HEAD and GET of
manifests by tag and by digest. It stands in for ghcr.io only.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mlflowk8s import server, server_image
from mlflowk8s.errors import OperationError, UsageError

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


@pytest.fixture
def registry() -> Iterator[Registry]:
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
    yield state
    httpd.shutdown()
    httpd.server_close()


TAG = f"v{server.MLFLOW_VERSION}-full"


def test_resolves_the_index_digest_of_the_pinned_image(registry: Registry) -> None:
    body = index(("linux", "amd64"), ("linux", "arm64"))
    registry.tags[TAG] = body
    pinned = server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)
    assert pinned == f"ghcr.io/{REPO}@{registry.digest(body)}"
    methods = [(method, path.rpartition("/")[2]) for method, path, _ in registry.seen]
    assert methods == [("HEAD", TAG), ("HEAD", TAG), ("GET", registry.digest(body))]
    accept = registry.seen[-1][2]
    assert "application/vnd.oci.image.index.v1+json" in accept
    assert "application/vnd.docker.distribution.manifest.list.v2+json" in accept


def test_refuses_an_index_without_linux_amd64(registry: Registry) -> None:
    registry.tags[TAG] = index(("linux", "arm64"))
    with pytest.raises(OperationError, match=r"no linux/amd64 image \(has: linux/arm64\)"):
        server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)


def test_refuses_content_that_does_not_match_its_digest(registry: Registry) -> None:
    registry.tags[TAG] = index(("linux", "amd64"))
    registry.tamper = True
    with pytest.raises(OperationError, match="does not match"):
        server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)


def test_a_missing_tag_and_a_bad_reference_are_usage_errors(registry: Registry) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        server_image.resolve("ghcr.io/mlflow/mlflow:v0.0.0-full", base_url=registry.url)
    with pytest.raises(UsageError, match="not an image reference"):
        server_image.resolve("mlflow", base_url=registry.url)
