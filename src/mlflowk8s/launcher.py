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

For a ``gs://`` artifacts destination the proxied artifact repository is replaced by one
that signs its storage URLs keylessly (:func:`signing_repository`): multipart part uploads
and presigned downloads go between client and Cloud Storage, not through this process.

This file is shipped as ``python -c <source>`` to pods and Cloud Run, whose image has MLflow
but not mlflowk8s: it imports nothing but the standard library, mlflow and uvicorn, and the
mlflow imports come after the environment is set (``mlflow.server`` registers its routes
under the prefix it reads from the environment when it is imported).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import logging
import os
import posixpath
import re
import sys
import threading
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


# -- signing: storage URLs the tenant's clients use directly ------------------------------
# Keyless credentials (Workload Identity, Cloud Run's metadata server) hold no private key:
# MLflow's own GCS repository signs part URLs with one and fails (mlflow#21847). These URLs
# are signed through the IAM Credentials API as the server's own service account instead.
ENV_IAM_CREDENTIALS_ENDPOINT = "MLFLOWK8S_IAM_CREDENTIALS_ENDPOINT"
IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# MLflow's client asks for every part's URL at once, then uploads them in turn: a part URL
# must outlive the whole upload (MLflow's own repository gives 60 minutes).
PART_URL_TTL = datetime.timedelta(minutes=60)
MAX_PARTS = 10_000  # Cloud Storage's XML multipart limit: more could never complete
SIGNING_THREADS = 8  # one signBlob call per part URL; a 10,000-part file must not take hours
SIGN_TIMEOUT = 30.0
_UNSAFE_OBJECT_NAME = re.compile(r"[\\\x00-\x1f\x7f]")


class SigningError(Exception):
    """A URL this server will not or cannot sign; the message says which and why."""


def object_in_root(name: str, root: str) -> bool:
    """Whether ``name`` is one object strictly under the tenant's artifact root ``root``
    (no empty, ``.`` or ``..`` segment a client or proxy could normalize elsewhere)."""
    if not root or not name.startswith(root + "/") or _UNSAFE_OBJECT_NAME.search(name):
        return False
    return all(segment not in ("", ".", "..") for segment in name[len(root) + 1 :].split("/"))


def sign_blob(endpoint: str, email: str, token: str, payload: bytes) -> bytes:
    """Sign ``payload`` as ``email`` with the IAM Credentials ``signBlob`` method."""
    import urllib.error
    import urllib.parse
    import urllib.request

    account = urllib.parse.quote(email)
    url = f"{endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/{account}:signBlob"
    body = json.dumps({"payload": base64.b64encode(payload).decode("ascii")}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=SIGN_TIMEOUT) as response:
            signed = json.load(response)["signedBlob"]
    except urllib.error.HTTPError as exc:
        # Google's message names the missing permission; the token is never in it.
        detail = exc.read(2000).decode("utf-8", "replace")
        hint = ""
        if exc.code == 403:
            hint = " (it needs roles/iam.serviceAccountTokenCreator on itself)"
        raise SigningError(f"signBlob as {email} failed ({exc.code}){hint}: {detail}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise SigningError(f"signBlob as {email} failed: {exc.__class__.__name__}") from None
    return base64.b64decode(signed)


class ServiceAccountSigner:
    """Signs as the service account this process runs as (Application Default Credentials:
    the metadata server on GKE and Cloud Run), one fresh access token at a time."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._credentials: Any = None

    def _token_and_email(self) -> tuple[str, str]:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests

        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
                credentials = self._credentials
                if not credentials.valid:
                    credentials.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.GoogleAuthError as exc:
                raise SigningError(
                    f"no access token to sign with: {exc.__class__.__name__}"
                ) from None
            email = getattr(credentials, "service_account_email", None)
            if not email or "@" not in str(email):
                raise SigningError(
                    "the server's credentials are not a service account's: it cannot sign "
                    "storage URLs (multipart uploads and presigned downloads are off)"
                )
            return str(credentials.token), str(email)

    def email(self) -> str:
        return self._token_and_email()[1]

    def sign(self, payload: bytes) -> bytes:
        token, email = self._token_and_email()
        return sign_blob(self.endpoint, email, token, payload)


def signing_credentials(signer: ServiceAccountSigner) -> Any:
    """``google.auth`` signing credentials that sign through ``signer``: what
    ``Blob.generate_signed_url`` takes (its own IAM path has a fixed endpoint)."""
    import google.auth.credentials as auth

    signing: Any = auth.Signing
    base: Any = auth.Credentials

    class Credentials(signing, base):  # type: ignore[misc]
        def refresh(self, request: Any) -> None:  # pragma: no cover - never used for calls
            raise SigningError("signing credentials make no API calls")

        def sign_bytes(self, message: bytes) -> bytes:
            return signer.sign(message)

        @property
        def signer_email(self) -> str:
            return signer.email()

        @property
        def signer(self) -> Any:  # no local key: signing is remote
            return None

    return Credentials()


def signing_repository(destination: str, signer: ServiceAccountSigner) -> Any:
    """MLflow's GCS artifact repository for ``destination`` whose part-upload and download
    URLs are signed by ``signer``, each for one object under ``destination`` and no other."""
    import mlflow.store.artifact.artifact_repo as artifact_repo
    import mlflow.store.artifact.gcs_artifact_repo as gcs_artifact_repo
    from mlflow.entities.multipart_upload import (
        CreateMultipartUploadResponse,
        MultipartUploadCredential,
    )
    from mlflow.entities.presigned_download import PresignedDownloadUrlResponse
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
    from mlflow.server.handlers import _content_disposition_attachment

    # MLflow's classes are untyped: held as Any, so mypy checks this code, not theirs.
    gcs_repository: Any = gcs_artifact_repo.GCSArtifactRepository
    download_mixin: Any = artifact_repo.MultipartDownloadMixin
    credentials = signing_credentials(signer)

    class SigningGcsRepository(gcs_repository, download_mixin):  # type: ignore[misc]
        def _check_root(self, name: str) -> None:
            root = self.parse_gcs_uri(self.artifact_uri)[1].rstrip("/")
            if not object_in_root(name, root):
                raise MlflowException(
                    f"refusing to sign {name!r}: not an object under this tenant's "
                    f"artifacts ({root}/)",
                    error_code=INVALID_PARAMETER_VALUE,
                )

        def _signed_url(self, blob: Any, method: str, ttl: datetime.timedelta,
                        **extra: Any) -> str:  # fmt: skip
            self._check_root(blob.name)  # the one way to a signature goes through the check
            try:
                return str(blob.generate_signed_url(
                    version="v4", method=method, expiration=ttl,
                    credentials=credentials, **extra))  # fmt: skip
            except SigningError as exc:
                raise MlflowException(str(exc)) from None

        def create_multipart_upload(self, local_file: str, num_parts: int = 1,
                                    artifact_path: str | None = None) -> Any:  # fmt: skip
            # MLflow's method, with keyless signing, a bounded part count and the root check
            # before anything is created in the bucket.
            self._validate_support_mpu()
            from concurrent.futures import ThreadPoolExecutor

            import google.resumable_media.requests as media

            container_class: Any = media.XMLMPUContainer

            if not 1 <= num_parts <= MAX_PARTS:
                raise MlflowException(
                    f"num_parts must be between 1 and {MAX_PARTS} (got {num_parts}): raise "
                    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            bucket, name = self.parse_gcs_uri(self.artifact_uri)
            if artifact_path:
                name = posixpath.join(name, artifact_path)
            name = posixpath.join(name, posixpath.basename(local_file))
            blob = self._get_bucket(bucket).blob(name)
            self._check_root(name)  # before anything is created in the bucket
            args = self._gcs_mpu_arguments(local_file, blob)
            container = container_class(args.url, local_file, headers=args.headers)
            container.initiate(transport=args.transport, content_type=args.content_type)
            upload_id = container.upload_id

            def part(number: int) -> Any:
                url = self._signed_url(blob, "PUT", PART_URL_TTL, query_parameters={
                    "partNumber": number, "uploadId": upload_id})  # fmt: skip
                return MultipartUploadCredential(url=url, part_number=number, headers={})

            with ThreadPoolExecutor(SIGNING_THREADS) as pool:
                credentials = list(pool.map(part, range(1, num_parts + 1)))
            return CreateMultipartUploadResponse(credentials=credentials, upload_id=upload_id)

        def get_download_presigned_url(self, artifact_path: str, expiration: int = 300) -> Any:
            bucket, name = self.parse_gcs_uri(self.artifact_uri)
            if artifact_path:
                name = posixpath.join(name, artifact_path)
            blob = self._get_bucket(bucket).get_blob(name)
            if blob is None:
                raise MlflowException(
                    f"no artifact at {artifact_path!r}", error_code=RESOURCE_DOES_NOT_EXIST
                )
            url = self._signed_url(
                blob, "GET", datetime.timedelta(seconds=expiration),
                response_disposition=_content_disposition_attachment(posixpath.basename(name)),
            )  # fmt: skip
            return PresignedDownloadUrlResponse(url=url, headers={}, file_size=blob.size)

    return SigningGcsRepository(destination)


def install_signing(env: MutableMapping[str, str], environ: MutableMapping[str, str]) -> bool:
    """Serve a ``gs://`` destination through :func:`signing_repository`; False otherwise."""
    destination = env.get(ENV_ARTIFACTS_DESTINATION, "")
    if env.get(ENV_SERVE_ARTIFACTS) != "true" or not destination.startswith("gs://"):
        return False
    import mlflow.server.handlers as handlers

    endpoint = environ.get(ENV_IAM_CREDENTIALS_ENDPOINT) or IAM_CREDENTIALS_ENDPOINT
    # The one instance MLflow's artifact handlers use (they build it lazily when unset).
    handlers._artifact_repo = signing_repository(destination, ServiceAccountSigner(endpoint))
    return True


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
    if install_signing(env, os.environ):
        _logger.info("artifact URLs for %s are signed as this server's service account",
                     env[ENV_ARTIFACTS_DESTINATION])  # fmt: skip
    import uvicorn

    uvicorn.Server(uvicorn.Config(build_app(launch.prefix), **launch.uvicorn)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
