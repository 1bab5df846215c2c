"""An admin's machine without (working) Google credentials, or without a network to Google.

What stands in: an empty gcloud configuration folder (no ADC file), no
``GOOGLE_APPLICATION_CREDENTIALS``, and a closed port on 127.0.0.1 as the metadata server
(so google-auth finds no GCE); local HTTP servers as Google's token endpoint that refuses
a revoked refresh token, or accepts a connection and never answers; ``.invalid`` host
names (RFC 6761: they never resolve) for a machine that is offline.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import Cli


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def without_credentials(cli: Cli, home: Path) -> Path:
    """No ADC file, no key file variable, no metadata server; returns the gcloud folder."""
    gcloud = home / "gcloud"
    gcloud.mkdir(exist_ok=True)
    cli.env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    cli.env["CLOUDSDK_CONFIG"] = str(gcloud)
    metadata = f"127.0.0.1:{closed_port()}"
    cli.env["GCE_METADATA_HOST"] = metadata
    cli.env["GCE_METADATA_IP"] = metadata
    return gcloud


def write_adc(gcloud: Path, token_uri: str) -> Path:
    """An ADC file for ``token_uri``: a service-account key (gcloud's own authorized-user
    file always asks oauth2.googleapis.com, whatever its token_uri says)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    path = gcloud / "application_default_credentials.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": pem, "client_email": "admin@demo-project.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri,
    }))  # fmt: skip
    return path


class _Revoked(http.server.BaseHTTPRequestHandler):
    """Google's token endpoint refusing the credentials (revoked, expired, deleted)."""

    def do_POST(self) -> None:
        body = b'{"error": "invalid_grant", "error_description": "Token has been revoked."}'
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def revoking_token_endpoint() -> Iterator[str]:
    """The token URI of a stand-in that refuses every refresh token."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Revoked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/token"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_token_endpoint() -> Iterator[str]:
    """The token URI of a port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/token"


GCP_ENV = (
    "MLFLOWK8S_TARGET=gcp\nGCP_PROJECT=demo-project\nGCP_REGION=europe-west1\n"
    "MLFLOW_DOMAIN=mlflow.lab.org\nTF_GCS_BUCKET=demo-project-tfstate\n"
    "MLFLOW_GCS_BUCKET=demo-project-mlflow-artifacts\n"
)
CLOUDRUN_ENV = (
    "MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT=demo-project\nGCP_REGION=europe-west1\n"
    "TF_GCS_BUCKET=demo-project-tfstate\nMLFLOW_GCS_BUCKET=demo-project-mlflow-artifacts\n"
    "MLFLOW_IMAGE=ghcr.io/mlflow/mlflow:v3.1.0-full@sha256:" + "a" * 64 + "\n"
)


def google_lab(cli: Cli, env_text: str) -> None:
    """A lab folder as `init` leaves it (written directly: init itself needs Google)."""
    (cli.lab / ".env").write_text(env_text)
    (cli.lab / "users.yaml").write_text("users: {}\n")
