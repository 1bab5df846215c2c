"""The one owner of a tenant's tracking-server command, for every target.

A tenant's server is described once (:class:`TenantServer`, from a user and a target) and
rendered two ways:

* :func:`launcher_command` — what runs: ``mlflowk8s.launcher``, one process serving MLflow's
  app (``python -m mlflowk8s.launcher`` locally; ``python -c <its source>`` in pods and on
  Cloud Run, whose image has MLflow but not mlflowk8s);
* :func:`server_command` — the same tenant as ``mlflow server`` flags: the baseline of the
  contract test and the benchmark, and what the GKE tenants run until their module renders
  the launcher.

Measured facts behind each flag are in DESIGN.md ("MLflow facts").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s import launcher  # standard library only at import: cheap for the CLI

# The one MLflow version of the servers (pyproject's `local` extra pins the same): the
# static prefix is honoured by every route only from 3.12, and the launcher is held to
# this version's `mlflow server` by the contract test.
MLFLOW_VERSION = "3.17.2"
MLFLOW_IMAGE = f"ghcr.io/mlflow/mlflow:v{MLFLOW_VERSION}-full"

POD_PORT = 5000
CLOUD_RUN_PORT = 8080
# The GKE load balancer keeps backend connections 600 s; uvicorn's 5 s would close some of
# them under it (sporadic 502s).
POD_KEEP_ALIVE = 620
LAUNCHER_MODULE = launcher.__name__
READY_SUFFIX = launcher.READY_SUFFIX
LOCAL_HOST = "127.0.0.1"
# Host headers the server accepts besides the lab's domain: loopback for port-forwards
# and local use, and the pod network (10.0.0.0/8 on GKE) for the kubelet's probes.
_LOOPBACK_HOSTS = ("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*")
_POD_NETWORK_HOSTS = ("10.*",)

# Every tenant: one worker and no job execution keep a server near 300 MiB as one launcher
# process (~580 MiB as `mlflow server` and its child; ~1.7 GB with default settings).
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
    ``MLFLOW_BACKEND_STORE_URI``, which the launcher (like ``mlflow server``) reads.
    """

    domain: str
    artifact_bucket: str


@dataclass(frozen=True)
class CloudRunTarget:
    """A tenant as its own Cloud Run service: the service's URL is the tenant's, no prefix.

    ``service_host`` is the deterministic ``<service>-<project number>.<region>.run.app``;
    ``legacy_hosts`` are MLflow host patterns for the service's other run.app URL, whose
    hash is assigned only when the service is created (the target's renderer scopes them
    to the service's own name).
    """

    service_host: str
    artifact_bucket: str
    legacy_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LocalTarget:
    """A tenant as a process on this machine, its data in ``data_dir``."""

    port: int
    data_dir: Path
    host: str = LOCAL_HOST


Target = PodTarget | CloudRunTarget | LocalTarget


@dataclass(frozen=True)
class ServerCommand:
    """Arguments after the ``mlflow`` executable, and the environment to add."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LauncherCommand:
    """The whole argv of the tenant's server process, and the environment to add."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TenantServer:
    """How one tenant's server runs on one target, whichever program runs it."""

    user: str
    host: str
    port: int
    static_prefix: str | None  # None: the tenant owns the root path (Cloud Run)
    allowed_hosts: tuple[str, ...]
    # None: read from MLFLOW_BACKEND_STORE_URI, which Terraform sets (it owns the db names).
    backend_store_uri: str | None
    artifacts_destination: str
    forwarded_allow_ips: str | None  # behind a proxy that sets X-Forwarded-*
    timeout_keep_alive: int | None  # None: uvicorn's default
    env: dict[str, str]

    @property
    def ready_path(self) -> str:
        """The launcher's readiness route: the readiness probe and the local health check."""
        return f"{self.static_prefix or ''}{READY_SUFFIX}"


def static_prefix(user: str) -> str:
    return f"/{user}"


def health_path(user: str) -> str:
    return f"{static_prefix(user)}/health"


def ready_path(user: str) -> str:
    return f"{static_prefix(user)}{READY_SUFFIX}"


def public_url(domain: str, user: str) -> str:
    return f"https://{domain}{static_prefix(user)}/"


def local_url(host: str, port: int, user: str) -> str:
    return f"http://{host}:{port}{static_prefix(user)}/"


def tenant_server(user: str, target: Target) -> TenantServer:
    """Describe ``user``'s tracking server on ``target``."""
    if isinstance(target, LocalTarget):
        return TenantServer(
            user=user, host=target.host, port=target.port, static_prefix=static_prefix(user),
            allowed_hosts=_LOOPBACK_HOSTS,
            backend_store_uri=f"sqlite:///{target.data_dir / 'mlflow.db'}",
            artifacts_destination=str(target.data_dir / "artifacts"),
            forwarded_allow_ips=None, timeout_keep_alive=None, env=dict(BASE_ENV),
        )  # fmt: skip
    artifacts = f"gs://{target.artifact_bucket}/{user}"
    env = {**BASE_ENV, **POD_DB_POOL_ENV}
    if isinstance(target, CloudRunTarget):
        # Google's front end sets X-Forwarded-*; a scaled-to-zero service holds no connections.
        return TenantServer(
            user=user, host="0.0.0.0", port=CLOUD_RUN_PORT, static_prefix=None,
            allowed_hosts=(target.service_host, f"{target.service_host}:*",
                           *target.legacy_hosts, *_LOOPBACK_HOSTS),
            backend_store_uri=None, artifacts_destination=artifacts,
            forwarded_allow_ips="*", timeout_keep_alive=None, env=env,
        )  # fmt: skip
    return TenantServer(
        user=user, host="0.0.0.0", port=POD_PORT, static_prefix=static_prefix(user),
        allowed_hosts=(target.domain, f"{target.domain}:*", *_POD_NETWORK_HOSTS,
                       *_LOOPBACK_HOSTS),
        backend_store_uri=None, artifacts_destination=artifacts,
        forwarded_allow_ips="*", timeout_keep_alive=POD_KEEP_ALIVE, env=env,
    )  # fmt: skip


def _common_flags(spec: TenantServer) -> list[str]:
    """The flags ``mlflow server`` and the launcher share, in the same spelling."""
    flags = ["--host", spec.host, "--port", str(spec.port)]
    if spec.static_prefix:
        flags += ["--static-prefix", spec.static_prefix]
    flags += ["--allowed-hosts", ",".join(spec.allowed_hosts)]
    if spec.backend_store_uri:
        flags += ["--backend-store-uri", spec.backend_store_uri]
    return [*flags, "--artifacts-destination", spec.artifacts_destination, "--serve-artifacts"]


def _uvicorn_flags(spec: TenantServer) -> list[str]:
    flags = []
    if spec.forwarded_allow_ips is not None:
        flags.append(f"--forwarded-allow-ips={spec.forwarded_allow_ips}")
    if spec.timeout_keep_alive is not None:
        flags.append(f"--timeout-keep-alive={spec.timeout_keep_alive}")
    return flags


def server_command(user: str, target: Target) -> ServerCommand:
    """Return the ``mlflow`` args and env that run ``user``'s tracking server on ``target``."""
    spec = tenant_server(user, target)
    args = ["server", *_common_flags(spec), "--workers", "1"]
    uvicorn = _uvicorn_flags(spec)
    if uvicorn:
        args += ["--uvicorn-opts", " ".join(uvicorn)]
    return ServerCommand(args=args, env=dict(spec.env))


def launcher_source() -> str:
    """The launcher module's source, for ``python -c`` where mlflowk8s is not installed."""
    from importlib.resources import files

    return files("mlflowk8s").joinpath("launcher.py").read_text(encoding="utf-8")


def launcher_command(user: str, target: Target) -> LauncherCommand:
    """Return the argv and env of ``user``'s one-process tracking server on ``target``."""
    spec = tenant_server(user, target)
    flags = [*_common_flags(spec), *_uvicorn_flags(spec)]
    if isinstance(target, LocalTarget):
        # The CLI's own interpreter: it has mlflowk8s and, with the local extra, MLflow.
        program = [sys.executable, "-m", LAUNCHER_MODULE]
    else:
        program = ["python", "-c", launcher_source()]
    return LauncherCommand(argv=[*program, *flags], env=dict(spec.env))
