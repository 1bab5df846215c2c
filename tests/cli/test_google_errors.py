"""What an admin without (working) Google credentials, or offline, is told: the cause and
the command that fixes it, in one line, never the state bucket nor a bare exception class.

Google stands in as tests/support/unreachable_google.py says: no ADC file and a closed port
as metadata server, local token endpoints that refuse or never answer, ``.invalid`` hosts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.support.unreachable_google import (
    CLOUDRUN_ENV,
    GCP_ENV,
    closed_port,
    google_lab,
    revoking_token_endpoint,
    silent_token_endpoint,
    without_credentials,
    write_adc,
)

NO_CREDENTIALS = (
    "error: no Google credentials found: run `gcloud auth application-default login` "
    "(or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file)\n"
)
REFUSED = (
    "error: Google refused the Application Default Credentials (expired or revoked): run "
    "`gcloud auth application-default login` again\n"
)


@pytest.mark.parametrize("lab_env", [GCP_ENV, CLOUDRUN_ENV], ids=["gcp", "cloudrun"])
def test_plan_without_credentials_names_them_not_the_bucket(
    cli: Cli, tmp_path: Path, lab_env: str
) -> None:
    without_credentials(cli, tmp_path)
    google_lab(cli, lab_env)
    result = cli("plan", timeout=120)
    assert (result.code, result.stderr) == (1, NO_CREDENTIALS)
    assert "TF_GCS_BUCKET" not in result.stdout + result.stderr
    # Stopped before Terraform: no root was copied, initialised or planned.
    assert not (cli.lab / ".mlflowk8s" / "default" / "infra").exists()


@pytest.mark.parametrize("lab_env", [GCP_ENV, CLOUDRUN_ENV], ids=["gcp", "cloudrun"])
def test_plan_with_revoked_credentials_says_so(cli: Cli, tmp_path: Path, lab_env: str) -> None:
    gcloud = without_credentials(cli, tmp_path)
    google_lab(cli, lab_env)
    with revoking_token_endpoint() as token_uri:
        write_adc(gcloud, token_uri)
        result = cli("plan", timeout=120)
    assert (result.code, result.stderr) == (1, REFUSED)


def test_a_missing_key_file_is_named(cli: Cli, tmp_path: Path) -> None:
    without_credentials(cli, tmp_path)
    google_lab(cli, GCP_ENV)
    missing = tmp_path / "gone.json"
    cli.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(missing)
    result = cli("plan", timeout=120)
    assert result.code == 1
    assert result.stderr == (
        f"error: GOOGLE_APPLICATION_CREDENTIALS={missing} does not exist: fix or unset it, "
        "or run `gcloud auth application-default login` and unset it\n"
    )


INIT = ["init", "--no-input", "--project", "demo-project", "--region", "europe-west1",
        "--domain", "mlflow.lab.org"]  # fmt: skip
PINNED = "MLFLOW_IMAGE=europe-docker.pkg.dev/lab/images/mlflow@sha256:" + "a" * 64 + "\n"


def _offline_init(cli: Cli, tmp_path: Path, token_uri: str) -> str:
    gcloud = without_credentials(cli, tmp_path)
    write_adc(gcloud, token_uri)
    (cli.lab / ".env").write_text(PINNED)  # pinned already: no registry is asked
    result = cli(*INIT, timeout=180)
    assert result.code == 1, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert (cli.lab / ".env").read_text() == PINNED  # nothing written
    return result.stderr


def test_offline_init_says_dns_failed_for_the_token_host(cli: Cli, tmp_path: Path) -> None:
    stderr = _offline_init(cli, tmp_path, "https://oauth2.invalid/token")
    assert stderr == (
        "error: cannot get a token for the Google credentials: cannot reach oauth2.invalid: "
        "DNS resolution failed (is this machine online? is the host name right?)\n"
    )


def test_init_says_the_token_endpoint_refused_the_connection(cli: Cli, tmp_path: Path) -> None:
    port = closed_port()
    stderr = _offline_init(cli, tmp_path, f"http://127.0.0.1:{port}/token")
    assert stderr == (
        "error: cannot get a token for the Google credentials: cannot reach "
        f"127.0.0.1:{port}: connection refused\n"
    )


def test_init_says_the_token_endpoint_timed_out(cli: Cli, tmp_path: Path) -> None:
    with silent_token_endpoint() as token_uri:
        stderr = _offline_init(cli, tmp_path, token_uri)
    host = token_uri.split("/")[2]
    assert stderr == (
        f"error: cannot get a token for the Google credentials: cannot reach {host}: timed out\n"
    )


def test_an_unresolvable_storage_host_is_said_at_once_not_retried(cli: Cli) -> None:
    # Cloud Storage's address is the emulator's variable (anonymous, as for fake-gcs-server).
    cli.env["STORAGE_EMULATOR_HOST"] = "http://storage.invalid:4443"
    (cli.lab / ".env").write_text(PINNED)
    result = cli(*INIT, timeout=180)
    assert result.code == 1
    # No "gave up after 30 s": a name that does not resolve is not retried.
    assert result.stderr == (
        "error: state bucket gs://demo-project-tfstate: cannot reach storage.invalid:4443: "
        "DNS resolution failed (is this machine online? is the host name right?)\n"
    )


def test_an_unreachable_registry_is_named_with_the_cause(cli: Cli) -> None:
    port = closed_port()
    cli.env["MLFLOWK8S_IMAGE_REGISTRY_URL"] = f"http://127.0.0.1:{port}"
    result = cli(*INIT)
    assert result.code == 1
    assert f"(cannot reach 127.0.0.1:{port}: connection refused)" in result.stderr
