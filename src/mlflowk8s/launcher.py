"""A tenant's tracking server: one process, MLflow's ASGI app served by uvicorn in-process.

``mlflow server`` is two processes: a parent that validates its flags, sets the server's
environment, builds the stores and then only waits, and a ``python -m uvicorn`` child that
serves. This module does the parent's work itself and then serves, so a tenant costs one
interpreter (half the memory) and a supervisor that kills it kills the server (no orphan
holding the port). What ``mlflow server`` sets is held to this module by
``tests/server/test_contract.py``, which runs the real one.

Two wrappers around ``mlflow.server.fastapi_app:app``:

* a path guard: 404 for a request whose raw path (before percent-decoding) is outside the
  tenant's prefix or could be read as another path once decoded or normalized;
* a readiness route, ``<prefix>/ready``: 200 when a one-row experiments search succeeds,
  503 otherwise (``<prefix>/health`` says only that the process answers).

This file is shipped as ``python -c <source>`` to pods and Cloud Run, whose image has MLflow
but not mlflowk8s: it imports nothing but the standard library, mlflow and uvicorn, and the
mlflow imports come after the environment is set (``mlflow.server`` registers its routes
under the prefix it reads from the environment when it is imported).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

READY_SUFFIX = "/ready"
READY_TIMEOUT = 10.0
# What `mlflow server` defaults to when no artifact root is given and artifacts are proxied.
PROXIED_ARTIFACT_ROOT = "mlflow-artifacts:/"
UVICORN_KEEP_ALIVE = 5  # uvicorn's own default, kept where no load balancer pools connections

# Spelled out, not imported: importing mlflow.server before the environment is set would
# register its routes without the prefix. The contract test checks every name.
ENV_BACKEND_STORE = "_MLFLOW_SERVER_FILE_STORE"
ENV_REGISTRY_STORE = "_MLFLOW_SERVER_REGISTRY_STORE"
ENV_ARTIFACT_ROOT = "_MLFLOW_SERVER_ARTIFACT_ROOT"
ENV_SERVE_ARTIFACTS = "_MLFLOW_SERVER_SERVE_ARTIFACTS"
ENV_ARTIFACTS_DESTINATION = "_MLFLOW_SERVER_ARTIFACT_DESTINATION"
ENV_STATIC_PREFIX = "_MLFLOW_STATIC_PREFIX"
ENV_SECRETS_CACHE_TTL = "MLFLOW_SERVER_SECRETS_CACHE_TTL"
ENV_SECRETS_CACHE_MAX_SIZE = "MLFLOW_SERVER_SECRETS_CACHE_MAX_SIZE"
ENV_FLASK_SECRET_KEY = "MLFLOW_FLASK_SERVER_SECRET_KEY"
ENV_BOOT_ID = "_MLFLOW_SERVER_BOOT_ID"
ENV_IN_JOB_EXECUTOR = "_MLFLOW_IN_JOB_EXECUTOR"
ENV_SGI_NAME = "_MLFLOW_SGI_NAME"
ENV_ALLOWED_HOSTS = "MLFLOW_SERVER_ALLOWED_HOSTS"
ENV_CORS_ORIGINS = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"
ENV_X_FRAME_OPTIONS = "MLFLOW_SERVER_X_FRAME_OPTIONS"
ENV_ENABLE_WORKSPACES = "MLFLOW_ENABLE_WORKSPACES"
ENV_JOB_EXECUTION = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"
# `mlflow server --backend-store-uri` falls back to this; on pods Terraform sets it.
ENV_BACKEND_STORE_URI = "MLFLOW_BACKEND_STORE_URI"
# `mlflow server`'s defaults for the secrets cache (--secrets-cache-ttl, --secrets-cache-max-size).
SECRETS_CACHE_TTL = 60
SECRETS_CACHE_MAX_SIZE = 1000

# Percent-encodings of ".", "/" and "\": decoded, they could climb out of the prefix.
_ENCODED_SEPARATOR = re.compile(rb"%(2e|2f|5c)", re.IGNORECASE)

_logger = logging.getLogger("mlflowk8s.launcher")
_logger.propagate = False  # uvicorn's and MLflow's loggers keep their own handlers
_logger.addHandler(logging.StreamHandler(sys.stderr))
_logger.setLevel(logging.INFO)


class LaunchError(Exception):
    """A setting the server cannot start with; the message is the one line shown."""


# -- arguments ----------------------------------------------------------------------------------
def static_prefix(value: str) -> str:
    """``mlflow server``'s rules for ``--static-prefix``, plus what the raw-path guard needs."""
    if not value.startswith("/"):
        raise argparse.ArgumentTypeError("--static-prefix must begin with a '/'")
    if value.endswith("/"):
        raise argparse.ArgumentTypeError("--static-prefix must not end with a '/'")
    if "{" in value or "}" in value:
        raise argparse.ArgumentTypeError("--static-prefix must not contain '{' or '}'")
    # The guard compares raw bytes: the prefix itself must need no decoding or normalizing.
    if "%" in value or not path_is_plain(value.encode()):
        raise argparse.ArgumentTypeError(
            "--static-prefix must not contain '%', '\\', '//', '.' or '..' segments"
        )
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mlflowk8s-launcher",
        description="Serve one tenant's MLflow tracking server in this process.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--static-prefix", type=static_prefix, default=None)
    p.add_argument(
        "--backend-store-uri",
        default=None,
        help=f"the tracking store (default: ${ENV_BACKEND_STORE_URI})",
    )
    p.add_argument("--registry-store-uri", default=None)
    p.add_argument("--default-artifact-root", default=None)
    p.add_argument("--artifacts-destination", default="./mlartifacts")
    p.add_argument("--serve-artifacts", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--allowed-hosts", default=None)
    p.add_argument("--cors-allowed-origins", default=None)
    p.add_argument("--x-frame-options", default="SAMEORIGIN")  # `mlflow server`'s default
    p.add_argument("--timeout-keep-alive", type=int, default=UVICORN_KEEP_ALIVE)
    p.add_argument("--forwarded-allow-ips", default=None)
    return p


def backend_store_uri(args: argparse.Namespace, environ: MutableMapping[str, str]) -> str:
    uri = args.backend_store_uri or environ.get(ENV_BACKEND_STORE_URI)
    if not uri:
        raise LaunchError(
            f"no tracking store: pass --backend-store-uri or set {ENV_BACKEND_STORE_URI}"
        )
    return str(uri)


def default_artifact_root(args: argparse.Namespace) -> str:
    """Where new experiments' artifacts go, resolved as ``mlflow server`` resolves it."""
    if args.default_artifact_root:
        return str(args.default_artifact_root)
    if args.serve_artifacts:
        return PROXIED_ARTIFACT_ROOT
    raise LaunchError("--no-serve-artifacts needs --default-artifact-root")


def server_environment(
    args: argparse.Namespace, environ: MutableMapping[str, str]
) -> dict[str, str]:
    """The variables ``mlflow server`` sets for its uvicorn child, for these arguments."""
    store = backend_store_uri(args, environ)
    env: dict[str, str] = {}
    if args.allowed_hosts:
        env[ENV_ALLOWED_HOSTS] = args.allowed_hosts
    if args.cors_allowed_origins:
        env[ENV_CORS_ORIGINS] = args.cors_allowed_origins
    if args.x_frame_options:
        env[ENV_X_FRAME_OPTIONS] = args.x_frame_options
    env[ENV_ENABLE_WORKSPACES] = "false"
    env[ENV_BACKEND_STORE] = store
    env[ENV_REGISTRY_STORE] = args.registry_store_uri or store
    env[ENV_ARTIFACT_ROOT] = default_artifact_root(args)
    if args.serve_artifacts:
        env[ENV_SERVE_ARTIFACTS] = "true"
    if args.artifacts_destination:
        env[ENV_ARTIFACTS_DESTINATION] = args.artifacts_destination
    if args.static_prefix:
        env[ENV_STATIC_PREFIX] = args.static_prefix
    env[ENV_SECRETS_CACHE_TTL] = str(SECRETS_CACHE_TTL)
    env[ENV_SECRETS_CACHE_MAX_SIZE] = str(SECRETS_CACHE_MAX_SIZE)
    if environ.get(ENV_FLASK_SECRET_KEY):
        env[ENV_FLASK_SECRET_KEY] = environ[ENV_FLASK_SECRET_KEY]
    env[ENV_BOOT_ID] = uuid.uuid4().hex
    env[ENV_IN_JOB_EXECUTOR] = "false"
    env[ENV_SGI_NAME] = "uvicorn"
    return env


def uvicorn_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``uvicorn.Config`` (names as uvicorn's CLI parameters)."""
    settings: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "workers": 1,
        "log_config": mlflow_log_config(),
        "timeout_keep_alive": args.timeout_keep_alive,
        "access_log": True,
    }
    if args.forwarded_allow_ips is not None:
        settings["forwarded_allow_ips"] = args.forwarded_allow_ips
    return settings


def mlflow_log_config() -> str:
    """MLflow's uvicorn log config (found without importing mlflow.server)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.submodule_search_locations:
        raise LaunchError("MLflow is not installed in this Python")
    package = next(iter(spec.submodule_search_locations))
    return os.path.join(package, "server", "uvicorn_log_config.yaml")


# -- the two wrappers -----------------------------------------------------------------------
def path_is_plain(raw: bytes) -> bool:
    """Whether ``raw`` means the same path decoded and normalized: no dot-segments, no ``//``,
    no encoded or literal separators that a later decoding step could turn into a path."""
    if b"//" in raw or b"\\" in raw or _ENCODED_SEPARATOR.search(raw):
        return False
    return not any(segment in (b".", b"..") for segment in raw.split(b"/"))


def path_allowed(raw: bytes, prefix: bytes) -> bool:
    """Whether a request's raw path is this tenant's: ``prefix`` or under ``prefix/``."""
    if not raw.startswith(b"/") or not path_is_plain(raw):
        return False
    return not prefix or raw == prefix or raw.startswith(prefix + b"/")


async def _respond(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


def raw_path(scope: Scope) -> bytes:
    raw = scope.get("raw_path")
    if raw is None:  # uvicorn always sets it; without it, refuse (the decoded path is weaker)
        return b""
    return bytes(raw).partition(b"?")[0]


def path_guard(app: ASGIApp, prefix: str) -> ASGIApp:
    """404 for every HTTP or websocket request outside the tenant's raw prefix."""
    wanted = prefix.encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not path_allowed(raw_path(scope), wanted):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await _respond(send, 404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "Not Found"})
            return
        await app(scope, receive, send)

    return guarded


def check_store() -> None:
    """Read the tracking store once: a one-row experiments search."""
    from mlflow.server.handlers import _get_tracking_store

    store: Any = _get_tracking_store()
    store.search_experiments(max_results=1)


def readiness(app: ASGIApp, path: str, check: Callable[[], None] = check_store) -> ASGIApp:
    """Answer GET/HEAD ``path`` with 200 when ``check`` passes, 503 when it fails."""
    import asyncio  # here, not at the top: server.py imports this module into the CLI

    wanted = path.encode()

    async def ready(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or raw_path(scope) != wanted:
            await app(scope, receive, send)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, {"status": "method not allowed"})
            return
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, check), READY_TIMEOUT)
        except Exception as exc:
            # The class name only: a driver's message may carry connection details.
            _logger.warning("readiness check failed: %s", exc.__class__.__name__)
            await _respond(send, 503, {"status": "store unavailable"})
            return
        await _respond(send, 200, {"status": "ready"})

    return ready


# -- starting -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Launch:
    """What starting the server takes: the environment to set, uvicorn's settings, the prefix."""

    env: dict[str, str]
    uvicorn: dict[str, Any]
    prefix: str


def prepare(argv: Sequence[str], environ: MutableMapping[str, str]) -> Launch:
    """Validate ``argv`` (argparse exits 2 on a bad flag) and the environment."""
    args = parser().parse_args(list(argv))
    if environ.get(ENV_JOB_EXECUTION, "").strip().lower() in ("true", "1"):
        raise LaunchError(f"{ENV_JOB_EXECUTION}=true is not supported: tenants run no job runner")
    if environ.get("MLFLOW_WORKSPACE"):
        raise LaunchError("MLFLOW_WORKSPACE is client-only: unset it before starting the server")
    prefix = args.static_prefix or ""
    return Launch(server_environment(args, environ), uvicorn_settings(args), prefix)


def build_app(prefix: str) -> ASGIApp:
    from mlflow.server.fastapi_app import app

    return path_guard(readiness(app, prefix + READY_SUFFIX), prefix)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        launch = prepare(sys.argv[1:] if argv is None else argv, os.environ)
    except LaunchError as exc:
        print(f"mlflowk8s-launcher: {exc}", file=sys.stderr)
        return 2
    env = launch.env
    os.environ.update(env)
    # Build the stores before the port is bound, as `mlflow server` does: an outdated schema
    # or an unreachable database fails here, not after /health has said 200.
    from mlflow.server.handlers import initialize_backend_stores
    from mlflow.tracing.trace_rollup_service import validate_sql_trace_rollup_startup

    store = env[ENV_BACKEND_STORE]
    try:
        initialize_backend_stores(store, env[ENV_REGISTRY_STORE], env[ENV_ARTIFACT_ROOT])
        validate_sql_trace_rollup_startup(store)
    except Exception:
        _logger.exception("Error initializing backend store")
        return 1
    import uvicorn

    uvicorn.Server(uvicorn.Config(build_app(launch.prefix), **launch.uvicorn)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
