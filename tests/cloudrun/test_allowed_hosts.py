"""A Cloud Run tenant's server answers on both of its run.app hosts and on no other.

Real: the tenant server (the launcher in its ``python -c`` form with the args and env the
cloudrun renderer gives Terraform), MLflow's Host-validation middleware, raw HTTP over a
socket with the Host header as Cloud Run's front end forwards it. Stand-ins: the store is
SQLite (Terraform sets Cloud SQL's URI on Cloud Run), and nothing stands in for Google: the
request never leaves this machine.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflowk8s import launcher
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.targets.cloudrun.render import tenants_vars
from tests.server.support import free_port, launched, server_env, wait_status

pytestmark = pytest.mark.slow

OUTPUTS = {"project_number": "123456789012", "region": "europe-west1", "artifact_bucket": "lab-art"}
VALUES = {"GCP_PROJECT": "lab-project-1", "GCP_REGION": "europe-west1",
          "TF_GCS_BUCKET": "lab-tfstate", "MLFLOW_GCS_BUCKET": "lab-art",
          "MLFLOW_IMAGE": "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64}  # fmt: skip
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def get(port: int, host: str) -> int:
    """``GET SEARCH`` with ``Host: host``; the status."""
    request = f"GET {SEARCH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return int(b"".join(chunks).split(b" ", 2)[1])


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    work = tmp_path_factory.mktemp("alice")
    users = [User("alice", ("user:alice@lab.org",))]
    entry = tenants_vars(Settings(Path(".env"), VALUES), users, "dev", OUTPUTS)["users"]["alice"]
    command, args = entry["server"]["command"], list(entry["server"]["args"])
    assert command == ["python"]
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--host") + 1] = "127.0.0.1"
    env = server_env(**entry["server"]["env"],
                     MLFLOW_BACKEND_STORE_URI=f"sqlite:///{work / 'mlflow.db'}")  # fmt: skip
    env.pop("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", None)  # sqlite here, not Cloud SQL
    env.pop("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", None)
    with launched([sys.executable, *args], env, work / "server.log") as proc:
        wait_status(f"http://127.0.0.1:{port}{launcher.READY_SUFFIX}", 200, proc)
        yield port


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("mlflow-dev-alice-123456789012.europe-west1.run.app", 200),
        ("mlflow-dev-alice-2xqbzpojga-ew.a.run.app", 200),  # the legacy URL's host
        ("mlflow-dev-bob-2xqbzpojga-ew.a.run.app", 403),
        ("mlflow-dev-bob-123456789012.europe-west1.run.app", 403),
        ("evil-2xqbzpojga-ew.a.run.app", 403),
        ("mlflow-dev-alice-2xqbzpojga-ew.a.run.app.evil.example", 403),
    ],
)
def test_the_tenant_answers_on_its_own_run_app_hosts_only(
    alice: int, host: str, status: int
) -> None:
    assert get(alice, host) == status
