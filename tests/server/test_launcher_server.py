"""The launcher as a real server: raw paths over a socket, readiness of a broken store.

The server runs in the ``python -c <source>`` form pods use (with this interpreter), with
the local target's flags. Requests go over a plain socket: ``requests`` and ``urllib``
normalize paths, the attacks below depend on the raw bytes arriving as written.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.support import (
    free_port,
    launched,
    local_launcher,
    server_env,
    status,
    wait_status,
)

pytestmark = pytest.mark.slow

GUARD_404 = {"error_code": "ENDPOINT_NOT_FOUND", "message": "Not Found"}


def raw_get(port: int, raw_path: str) -> tuple[int, bytes]:
    """Send ``GET raw_path`` exactly as written; the status and body."""
    request = (f"GET {raw_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Connection: close\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Alice's server, and a run logged in it through the API."""
    data = tmp_path_factory.mktemp("alice")
    (data / "artifacts").mkdir()
    port = free_port()
    argv = local_launcher("alice", port, data, as_source=True)
    with launched(argv, server_env(), data / "server.log") as proc:
        wait_status(f"http://127.0.0.1:{port}/alice/ready", 200, proc)
        yield port


SEARCH = "api/2.0/mlflow/experiments/search?max_results=1"


@pytest.mark.parametrize(
    "raw",
    [
        f"/bob/%2e%2e/alice/{SEARCH}",
        f"/bob/%2E%2E/alice/{SEARCH}",
        f"/alice/%2e%2e/alice/{SEARCH}",
        f"/alice/..%2falice/{SEARCH}",
        f"/alice/..%2Falice/{SEARCH}",
        f"/alice/..%5calice/{SEARCH}",
        f"/alice/../alice/{SEARCH}",
        f"/alice/./{SEARCH}",
        f"/alice//{SEARCH}",
        f"/{SEARCH}",
        "/health",
        "/alicex/health",
        "/",
    ],
)
def test_raw_paths_outside_the_tenant_get_the_guards_404(alice: int, raw: str) -> None:
    code, body = raw_get(alice, raw)
    assert (code, json.loads(body)) == (404, GUARD_404)


def test_the_tenants_own_paths_pass_the_guard(alice: int) -> None:
    code, body = raw_get(alice, f"/alice/{SEARCH}")
    assert code == 200 and json.loads(body)["experiments"][0]["name"] == "Default"
    assert raw_get(alice, "/alice/health")[0] == 200
    assert raw_get(alice, "/alice/ready") == (200, b'{"status": "ready"}')
    code, body = raw_get(alice, "/alice/")  # the UI
    assert code == 200 and b"<html" in body.lower()


def _corrupt(db: Path) -> None:
    """Overwrite the SQLite header and first pages: every later read fails."""
    with db.open("r+b") as handle:
        handle.write(b"this is not a database " * 2000)


def test_readiness_fails_for_a_broken_store_and_a_broken_store_fails_the_start(
    tmp_path: Path,
) -> None:
    (tmp_path / "artifacts").mkdir()
    port = free_port()
    argv = local_launcher("carol", port, tmp_path)
    base = f"http://127.0.0.1:{port}/carol"
    with launched(argv, server_env(), tmp_path / "server.log") as proc:
        wait_status(f"{base}/ready", 200, proc)
        _corrupt(tmp_path / "mlflow.db")
        wait_status(f"{base}/ready", 503, proc, timeout=60)
        assert status(f"{base}/health") == 200  # the process answers; its store does not
    log = (tmp_path / "server.log").read_text()
    assert "readiness check failed: MlflowException" in log  # the class name only
    assert "this is not a database" not in log  # no store content or detail in the log

    # Started on the broken store, the launcher exits before it binds the port.
    proc = subprocess.run(argv, env=server_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Error initializing backend store" in proc.stderr
    assert "Uvicorn running" not in proc.stderr + proc.stdout
