"""The one owner of a tenant's MLflow server command, for every target.

The GKE tenants get these args and env through the tenants tfvars; the local target runs
the very same command under supervisord. Measured facts behind each flag are in
DESIGN.md ("MLflow facts").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

POD_PORT = 5000
LOCAL_HOST = "127.0.0.1"
# Host headers the server accepts besides the lab's domain: loopback for port-forwards
# and local use, and the pod network (10.0.0.0/8 on GKE) for the kubelet's probes.
_LOOPBACK_HOSTS = ("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*")
_POD_NETWORK_HOSTS = ("10.*",)

# Every tenant: one worker and no job execution keep a server near 360 MB (vs ~1.7 GB).
BASE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}
# A shared small Cloud SQL tier must hold every tenant's connections (30 x 5 = 150).
POD_DB_POOL_ENV = {
    "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "2",
    "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "3",
}


@dataclass(frozen=True)
class PodTarget:
    """A tenant in a GKE pod behind the load balancer and IAP.

    The backend store URI is not here: Terraform owns the database names and sets
    ``MLFLOW_BACKEND_STORE_URI``, which ``mlflow server`` reads.
    """

    domain: str
    artifact_bucket: str


@dataclass(frozen=True)
class LocalTarget:
    """A tenant as a process on this machine, its data in ``data_dir``."""

    port: int
    data_dir: Path
    host: str = LOCAL_HOST


@dataclass(frozen=True)
class ServerCommand:
    """Arguments after the ``mlflow`` executable, and the environment to add."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


def static_prefix(user: str) -> str:
    return f"/{user}"


def health_path(user: str) -> str:
    return f"{static_prefix(user)}/health"


def public_url(domain: str, user: str) -> str:
    return f"https://{domain}{static_prefix(user)}/"


def local_url(host: str, port: int, user: str) -> str:
    return f"http://{host}:{port}{static_prefix(user)}/"


def server_command(user: str, target: PodTarget | LocalTarget) -> ServerCommand:
    """Return the ``mlflow`` args and env that run ``user``'s tracking server on ``target``."""
    if isinstance(target, PodTarget):
        host, port = "0.0.0.0", POD_PORT
        allowed: tuple[str, ...] = (
            target.domain,
            f"{target.domain}:*",
            *_POD_NETWORK_HOSTS,
            *_LOOPBACK_HOSTS,
        )
        store_args: list[str] = []
        artifacts = f"gs://{target.artifact_bucket}/{user}"
        env = {**BASE_ENV, **POD_DB_POOL_ENV}
    else:
        host, port = target.host, target.port
        allowed = _LOOPBACK_HOSTS
        store_args = ["--backend-store-uri", f"sqlite:///{target.data_dir / 'mlflow.db'}"]
        artifacts = str(target.data_dir / "artifacts")
        env = dict(BASE_ENV)
    args = [
        "server",
        "--host", host,
        "--port", str(port),
        "--static-prefix", static_prefix(user),
        "--allowed-hosts", ",".join(allowed),
        *store_args,
        "--artifacts-destination", artifacts,
        "--serve-artifacts",
        "--workers", "1",
        # Behind the load balancer the client's scheme and address come in X-Forwarded-*.
        "--uvicorn-opts", "--forwarded-allow-ips=*",
    ]  # fmt: skip
    return ServerCommand(args=args, env=env)
