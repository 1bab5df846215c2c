"""`mlflowk8s init` against a real fake-gcs-server standing in for Cloud Storage, and a
registry stand-in for ghcr.io (tests/support/registry.py), where it pins the image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflowk8s import server
from tests.conftest import Cli
from tests.support.fakegcs import FakeGcs
from tests.support.registry import Registry
from tests.support.terminal import on_terminal

GCP_OPTIONS = ["--project", "demo-project", "--region", "europe-west1",
               "--domain", "mlflow.lab.org", "--no-input"]  # fmt: skip


@pytest.fixture(autouse=True)
def ghcr(cli: Cli, registry: Registry) -> Registry:
    """Every init here pins the servers' image from the stand-in."""
    registry.publish_servers_image()
    cli.env.update(registry.env())
    return registry


def _bucket(fake_gcs: FakeGcs, name: str) -> dict[str, object]:
    import urllib.request

    with urllib.request.urlopen(f"{fake_gcs.endpoint}/storage/v1/b/{name}", timeout=5) as resp:
        return dict(json.load(resp))


def test_init_creates_lab_files_and_versioned_state_bucket(
    cli: Cli, fake_gcs: FakeGcs, lab_dir: Path, ghcr: Registry
) -> None:
    pinned = ghcr.publish_servers_image()
    cli.env.update(fake_gcs.env())
    result = cli("init", *GCP_OPTIONS, "--state-bucket", "init-one-tfstate")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "Created state bucket gs://init-one-tfstate (versioned, private).",
        "Note: the storage server does not report uniform bucket-level access or public "
        "access prevention.",
        "Wrote .env",
        "Wrote users.yaml",
    ]
    assert _bucket(fake_gcs, "init-one-tfstate")["versioning"] == {"enabled": True}
    assert (lab_dir / ".env").read_text() == (
        "MLFLOWK8S_TARGET=gcp\nGCP_PROJECT=demo-project\nGCP_REGION=europe-west1\n"
        "MLFLOW_DOMAIN=mlflow.lab.org\nTF_GCS_BUCKET=init-one-tfstate\n"
        f"MLFLOW_GCS_BUCKET=demo-project-mlflow-artifacts\nMLFLOW_IMAGE={pinned}\n"
    )
    assert (lab_dir / "users.yaml").read_text().endswith("users: {}\n")
    assert ".mlflowk8s/" in (lab_dir / ".gitignore").read_text().splitlines()


def test_init_again_changes_nothing_and_says_so(cli: Cli, fake_gcs: FakeGcs, lab_dir: Path) -> None:
    cli.env.update(fake_gcs.env())
    (lab_dir / ".env").write_text("# mine\nMY_KEY=stays\n")
    assert cli("init", *GCP_OPTIONS, "--state-bucket", "init-two-tfstate").code == 0
    before = {p.name: p.read_bytes() for p in lab_dir.iterdir() if p.is_file()}
    result = cli("init", "--no-input")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Nothing changed: the lab is already set up."
    assert {p.name: p.read_bytes() for p in lab_dir.iterdir() if p.is_file()} == before
    assert before[".env"].startswith(b"# mine\nMY_KEY=stays\n")


def test_an_image_in_env_is_kept_and_the_registry_not_asked(
    cli: Cli, fake_gcs: FakeGcs, lab_dir: Path, ghcr: Registry
) -> None:
    mine = "europe-docker.pkg.dev/lab/images/mlflow@sha256:" + "a" * 64
    (lab_dir / ".env").write_text(f"MLFLOW_IMAGE={mine}\n")
    cli.env.update(fake_gcs.env())
    result = cli("init", *GCP_OPTIONS, "--state-bucket", "init-image-tfstate")
    assert result.code == 0, result.stderr
    assert f"MLFLOW_IMAGE={mine}\n" in (lab_dir / ".env").read_text()
    assert ghcr.seen == []


@pytest.mark.parametrize(
    "options", [GCP_OPTIONS, ["--target", "cloudrun", *GCP_OPTIONS[:4], "--no-input"]],
    ids=["gcp", "cloudrun"],
)  # fmt: skip
def test_offline_init_says_what_to_set_and_writes_nothing(
    cli: Cli, lab_dir: Path, options: list[str]
) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on: the registry is unreachable
        closed.bind(("127.0.0.1", 0))
        cli.env["MLFLOWK8S_IMAGE_REGISTRY_URL"] = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = cli("init", *options)
    assert result.code == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("error: cannot pin ghcr.io/mlflow/mlflow:v")
    assert result.stderr.endswith(
        f": set MLFLOW_IMAGE={server.MLFLOW_IMAGE}@sha256:<its index digest> in .env, "
        "or run `mlflowk8s init` again online\n"
    )
    assert list(lab_dir.iterdir()) == []


def test_existing_bucket_gets_missing_versioning(cli: Cli, fake_gcs: FakeGcs) -> None:
    import urllib.request

    body = json.dumps({"name": "old-tfstate"}).encode()
    request = urllib.request.Request(
        f"{fake_gcs.endpoint}/storage/v1/b?project=demo-project", data=body,
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=5).close()
    cli.env.update(fake_gcs.env())
    result = cli("init", *GCP_OPTIONS, "--state-bucket", "old-tfstate")
    assert result.code == 0, result.stderr
    assert "State bucket gs://old-tfstate: turned on object versioning." in result.stdout
    assert _bucket(fake_gcs, "old-tfstate")["versioning"] == {"enabled": True}


def test_missing_settings_are_listed_without_a_terminal(cli: Cli, lab_dir: Path) -> None:
    result = cli("init", "--domain", "mlflow.lab.org")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: missing settings: GCP_PROJECT, GCP_REGION (pass --project, --region)"
    )
    assert list(lab_dir.iterdir()) == []


def test_no_credentials_says_how_to_get_them(cli: Cli, lab_dir: Path) -> None:
    result = cli("init", *GCP_OPTIONS)
    assert result.code == 1
    assert "run `gcloud auth application-default login`" in result.stderr
    assert not (lab_dir / ".env").exists()


def test_refused_credentials_say_how_to_renew_them(cli: Cli, lab_dir: Path, tmp_path: Path) -> None:
    import http.server
    import threading

    class RevokedTokenEndpoint(http.server.BaseHTTPRequestHandler):
        """Stands in for Google's token endpoint answering a revoked refresh token."""

        def do_POST(self) -> None:
            body = b'{"error": "invalid_grant", "error_description": "Token has been revoked."}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RevokedTokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps({
        "type": "service_account", "project_id": "demo-project", "private_key_id": "k1",
        "private_key": pem, "client_email": "admin@demo-project.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"http://127.0.0.1:{server.server_port}/token",
    }))  # fmt: skip
    cli.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(adc)
    try:
        result = cli("init", *GCP_OPTIONS)
    finally:
        server.shutdown()
    assert result.code == 1
    assert result.stderr == (
        "error: Google refused the Application Default Credentials (expired or revoked): "
        "run `gcloud auth application-default login` again\n"
    )
    assert not (lab_dir / ".env").exists()


def test_oauth_client_path_is_recorded_never_copied(
    cli: Cli, fake_gcs: FakeGcs, lab_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "client_secret_123.json"
    secret.write_text(json.dumps({"web": {"client_id": "123.apps", "client_secret": "s3cr3t"}}))
    cli.env.update(fake_gcs.env())
    result = cli("init", *GCP_OPTIONS, "--oauth-client-secret", str(secret))
    assert result.code == 0, result.stderr
    assert f"IAP_OAUTH_CLIENT_SECRET_FILE={secret}\n" in (lab_dir / ".env").read_text()
    assert not any(b"s3cr3t" in p.read_bytes() for p in lab_dir.rglob("*") if p.is_file())
    rendered = cli("render", "--json")
    assert json.loads(rendered.stdout)["tenants"]["iap_oauth_client_id"] == "123.apps"
    assert "s3cr3t" not in rendered.stdout + rendered.stderr


def test_bad_oauth_client_file_is_a_usage_error(cli: Cli, lab_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "client.json"
    bad.write_text("not json")
    result = cli("init", *GCP_OPTIONS, "--oauth-client-secret", str(bad))
    assert result.code == 2
    assert result.stderr.strip() == (
        f"error: {bad}: is not an OAuth client JSON downloaded from the Google Cloud console"
    )
    assert list(lab_dir.iterdir()) == []


def test_missing_settings_are_prompted_on_a_terminal(
    fake_gcs: FakeGcs, cli: Cli, lab_dir: Path
) -> None:
    env = {**cli.env, **fake_gcs.env()}
    # A bad answer is said at once and asked again.
    answers = [
        (b"project id: ", b"Bad_Project\n"),
        (b"project id: ", b"prompt-project\n"),
        (b"europe-west1): ", b"europe-west1\n"),
    ]
    code, text = on_terminal(["init", "--domain", "mlflow.lab.org"], cwd=lab_dir, env=env,
                             answers=answers, timeout=60)  # fmt: skip
    assert code == 0, text
    assert "GCP_PROJECT='Bad_Project' is not a Google Cloud project id" in text
    assert "GCP_PROJECT=prompt-project\n" in (lab_dir / ".env").read_text()
