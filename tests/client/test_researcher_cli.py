"""`mlflowk8s login | env | token | doctor`, run as the real command in a lab folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflowk8s import server
from mlflowk8s.auth import sources, stored_login, tokens
from tests.client.helpers import (
    ALICE,
    ALICE_JOB,
    DESKTOP_CLIENT,
    IAP_AUDIENCE,
    NO_METADATA,
    login,
    write_json,
)
from tests.conftest import Cli
from tests.support.iap_standin import (
    GoogleStandIn,
    IAPStandIn,
    MetadataStandIn,
    ServiceUsageStandIn,
    start_tenant,
)

DOMAIN = "mlflow.lab.org"


@pytest.fixture
def researcher(cli: Cli, tmp_path: Path) -> Cli:
    """The cli fixture as a researcher without credentials: own config folder, no key."""
    cli.env.pop("GOOGLE_APPLICATION_CREDENTIALS")
    cli.env.update(NO_METADATA, XDG_CONFIG_HOME=str(tmp_path / "config"))
    return cli


def _stored_login(google: GoogleStandIn, cli: Cli, email: str = ALICE) -> None:
    refresh = f"1//{email}"
    google.refresh_tokens[refresh] = (DESKTOP_CLIENT, email)
    login = stored_login.StoredLogin(
        DESKTOP_CLIENT, google.clients[DESKTOP_CLIENT], refresh, google.token_uri, email
    )
    stored_login.save_login(login, stored_login.credentials_path(cli.env))


# --- env ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        (
            "bash",
            f"export MLFLOW_TRACKING_URI=https://{DOMAIN}/alice/\n"
            "export MLFLOW_TRACKING_AUTH=mlflowk8s\n"
            f"export MLFLOW_DOMAIN={DOMAIN}\n"
            "export MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true\n"
            "export MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=16777216\n"
            "export MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=16777216\n"
            f"export MLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n"
            "export MLFLOW_DISABLE_TELEMETRY=true\n",
        ),
        (
            "zsh",
            f"export MLFLOW_TRACKING_URI=https://{DOMAIN}/alice/\n"
            "export MLFLOW_TRACKING_AUTH=mlflowk8s\n"
            f"export MLFLOW_DOMAIN={DOMAIN}\n"
            "export MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true\n"
            "export MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=16777216\n"
            "export MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=16777216\n"
            f"export MLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n"
            "export MLFLOW_DISABLE_TELEMETRY=true\n",
        ),
        (
            "fish",
            f"set -gx MLFLOW_TRACKING_URI 'https://{DOMAIN}/alice/'\n"
            "set -gx MLFLOW_TRACKING_AUTH 'mlflowk8s'\n"
            f"set -gx MLFLOW_DOMAIN '{DOMAIN}'\n"
            "set -gx MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD 'true'\n"
            "set -gx MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE '16777216'\n"
            "set -gx MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE '16777216'\n"
            f"set -gx MLFLOWK8S_IAP_AUDIENCE '{IAP_AUDIENCE}'\n"
            "set -gx MLFLOW_DISABLE_TELEMETRY 'true'\n",
        ),
        (
            "powershell",
            f"$env:MLFLOW_TRACKING_URI = 'https://{DOMAIN}/alice/'\n"
            "$env:MLFLOW_TRACKING_AUTH = 'mlflowk8s'\n"
            f"$env:MLFLOW_DOMAIN = '{DOMAIN}'\n"
            "$env:MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD = 'true'\n"
            "$env:MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE = '16777216'\n"
            "$env:MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE = '16777216'\n"
            f"$env:MLFLOWK8S_IAP_AUDIENCE = '{IAP_AUDIENCE}'\n"
            "$env:MLFLOW_DISABLE_TELEMETRY = 'true'\n",
        ),
    ],
)
def test_env_prints_the_exports_for_a_tenant(cli: Cli, shell: str, expected: str) -> None:
    (cli.lab / ".env").write_text(
        f"MLFLOW_DOMAIN={DOMAIN}\nMLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n"
    )
    result = cli("env", "alice", "--shell", shell)
    assert (result.code, result.stdout, result.stderr) == (0, expected, "")


def test_env_takes_the_audience_from_the_iap_client_json(cli: Cli, tmp_path: Path) -> None:
    secret = write_json(
        tmp_path / "iap-client.json",
        {"web": {"client_id": IAP_AUDIENCE, "client_secret": "SECRET-2"}},
    )
    (cli.lab / ".env").write_text(
        f"MLFLOW_DOMAIN={DOMAIN}\nIAP_OAUTH_CLIENT_SECRET_FILE={secret}\n"
    )
    result = cli("env", "alice")
    assert f"export MLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n" in result.stdout
    assert "SECRET-2" not in result.stdout


@pytest.mark.parametrize("client_file", ["", "IAP_OAUTH_CLIENT_SECRET_FILE=/admin/only.json\n"])
def test_env_without_a_known_audience_says_who_needs_it(cli: Cli, client_file: str) -> None:
    # A researcher's copy of the lab folder may name the admin's client file, absent here.
    (cli.lab / ".env").write_text(f"MLFLOW_DOMAIN={DOMAIN}\n{client_file}")
    result = cli("env", "alice")
    assert result.code == 0
    assert result.stdout.splitlines()[0].startswith("# MLFLOWK8S_IAP_AUDIENCE is not in")
    assert "MLFLOWK8S_IAP_AUDIENCE=" not in result.stdout


def test_env_checks_the_name_against_the_lab(cli: Cli) -> None:
    (cli.lab / ".env").write_text(f"MLFLOW_DOMAIN={DOMAIN}\n")
    (cli.lab / "users.yaml").write_text("users:\n  alice:\n    members: [user:alice@lab.org]\n")
    assert cli("env", "alice").code == 0
    result = cli("env", "carol")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == "error: no active user 'carol' in this lab (see `mlflowk8s users`)\n"
    assert cli("env", "Bad_Name").code == 2
    wrong_shell = cli("env", "alice", "--shell", "tcsh")
    assert wrong_shell.code == 2
    assert "--shell 'tcsh' is not one of: bash, zsh, sh, fish, powershell" in wrong_shell.stderr


def test_env_needs_the_domain_from_the_lab_or_the_command_line(cli: Cli) -> None:
    result = cli("env", "alice")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "error: no lab domain: run in the lab folder (or --lab-dir DIR), or pass --domain"
    )
    given = cli("env", "alice", "--domain", DOMAIN, "--audience", IAP_AUDIENCE)
    assert given.stdout == (
        f"export MLFLOW_TRACKING_URI=https://{DOMAIN}/alice/\n"
        "export MLFLOW_TRACKING_AUTH=mlflowk8s\n"
        f"export MLFLOW_DOMAIN={DOMAIN}\n"
        "export MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true\n"
        "export MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=16777216\n"
        "export MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=16777216\n"
        f"export MLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n"
        "export MLFLOW_DISABLE_TELEMETRY=true\n"
    )
    bad = cli("env", "alice", "--domain", "https://x")
    assert bad.code == 2
    assert "is not a lower-case host name" in bad.stderr


# --- login -------------------------------------------------------------------------------


def test_login_runs_the_loopback_flow_and_stores_the_refresh_token(
    researcher: Cli, google: GoogleStandIn, tmp_path: Path
) -> None:
    google.consent_email = ALICE
    client_file = write_json(tmp_path / "client.json", google.client_file(DESKTOP_CLIENT))
    result = login(researcher.lab, researcher.env, client_file)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "config" / "mlflowk8s" / "credentials.json"
    assert result.stdout == f"Signed in as {ALICE}; login stored in {path}.\n"
    assert google.clients[DESKTOP_CLIENT] not in result.stdout + result.stderr
    stored = json.loads(path.read_text())
    assert (stored["client_id"], stored["email"]) == (DESKTOP_CLIENT, ALICE)
    assert stored["refresh_token"] in google.refresh_tokens
    token = researcher("token")
    assert token.code == 0, token.stderr
    assert tokens.decode_claims(token.stdout.strip())["aud"] == DESKTOP_CLIENT


def test_login_without_a_client_says_where_to_get_one(researcher: Cli) -> None:
    result = researcher("login", "--no-browser")
    assert result.code == 2
    assert "--client-file" in result.stderr
    assert "MLFLOWK8S_DESKTOP_CLIENT_ID" in result.stderr


def test_login_refuses_a_web_client(researcher: Cli, tmp_path: Path) -> None:
    web = write_json(tmp_path / "web.json", {"web": {"client_id": "a", "client_secret": "b"}})
    result = researcher("login", "--client-file", str(web), "--no-browser")
    assert result.code == 2
    assert result.stderr.startswith(f"error: {web}: is not a desktop OAuth client (found web): ")


# --- token -------------------------------------------------------------------------------


def test_token_without_credentials_names_the_broken_setting(cli: Cli) -> None:
    result = cli("token", "--audience", IAP_AUDIENCE)
    assert (result.code, result.stdout) == (1, "")
    path = cli.lab / "no-such-credentials.json"
    assert result.stderr.startswith(f"error: GOOGLE_APPLICATION_CREDENTIALS={path} does not exist")


def test_token_with_nothing_at_all_says_to_log_in(researcher: Cli) -> None:
    result = researcher("token")
    assert result.code == 1
    assert result.stderr == f"error: {sources.NO_CREDENTIALS_HELP}\n"


def test_token_for_a_job_uses_the_key_and_the_audience(
    researcher: Cli, google: GoogleStandIn, tmp_path: Path
) -> None:
    key = write_json(tmp_path / "key.json", google.service_account_key(ALICE_JOB))
    researcher.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
    result = researcher("token", "--audience", IAP_AUDIENCE)
    claims = tokens.decode_claims(result.stdout.strip())
    assert (claims["email"], claims["aud"]) == (ALICE_JOB, IAP_AUDIENCE)
    (researcher.lab / ".env").write_text(f"MLFLOWK8S_IAP_AUDIENCE={IAP_AUDIENCE}\n")
    from_lab = researcher("token")
    assert tokens.decode_claims(from_lab.stdout.strip())["aud"] == IAP_AUDIENCE


def test_token_on_gke_comes_from_the_metadata_server(
    researcher: Cli, google: GoogleStandIn
) -> None:
    metadata = MetadataStandIn(google, ALICE_JOB)
    try:
        researcher.env.update(metadata.env())
        result = researcher("token", "--audience", IAP_AUDIENCE)
        assert result.code == 0, result.stderr
        claims = tokens.decode_claims(result.stdout.strip())
        assert (claims["email"], claims["aud"]) == (ALICE_JOB, IAP_AUDIENCE)
        no_audience = researcher("token")
        assert no_audience.code == 2
        assert "needs the IAP audience" in no_audience.stderr
    finally:
        metadata.stop()


# --- doctor ------------------------------------------------------------------------------


def _checks(result: Any) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def test_doctor_is_happy_when_the_tenant_answers_through_iap(
    researcher: Cli, google: GoogleStandIn, iap: IAPStandIn
) -> None:
    _stored_login(google, researcher)
    researcher.env.update(MLFLOW_TRACKING_URI=iap.url("alice"), MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE,
                          MLFLOW_TRACKING_AUTH="mlflowk8s")  # fmt: skip
    result = researcher("doctor", "--json")
    checks = _checks(result)
    assert result.code == 0, result.stdout
    assert json.loads(result.stdout)["ok"] is True
    assert checks["credentials"]["status"] == "ok"
    assert checks["credentials"]["detail"].startswith(f"login {ALICE} (")
    assert checks["tracking URI"] == {
        "name": "tracking URI",
        "status": "ok",
        "detail": f"{iap.url('alice')} (token in Proxy-Authorization)",
    }
    assert checks["reachability"]["status"] == "ok"
    assert checks["mlflow plugin"]["status"] == "ok"
    assert checks["settings"]["status"] == "warn"  # a researcher needs no lab folder


def test_doctor_says_whom_to_ask_when_iap_refuses(
    researcher: Cli, google: GoogleStandIn, iap: IAPStandIn
) -> None:
    _stored_login(google, researcher)
    researcher.env.update(MLFLOW_TRACKING_URI=iap.url("bob"), MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE,
                          MLFLOW_TRACKING_AUTH="mlflowk8s")  # fmt: skip
    result = researcher("doctor")
    assert result.code == 1
    assert f"FAIL reachability: {iap.url('bob')}health: IAP: {ALICE} may not use this tenant" in (
        result.stdout
    )
    assert f"fix: ask the lab admin: mlflowk8s grant NAME user:{ALICE}" in result.stdout
    assert result.stdout.endswith("Fix the FAIL lines above.\n")


def test_doctor_without_credentials_fails_and_says_what_to_do(
    researcher: Cli, iap: IAPStandIn
) -> None:
    researcher.env.update(MLFLOW_TRACKING_URI=iap.url("alice"), MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE,
                          MLFLOW_TRACKING_AUTH="mlflowk8s")  # fmt: skip
    result = researcher("doctor", "--json")
    checks = _checks(result)
    assert result.code == 1
    assert checks["credentials"]["status"] == "fail"
    assert "mlflowk8s login" in checks["credentials"]["detail"]
    assert checks["reachability"]["status"] == "fail"
    assert "IAP got no token: no credentials here (HTTP 401)" in checks["reachability"]["detail"]


def test_doctor_names_mlflow_tracking_auth_when_the_labs_uri_would_get_no_token(
    researcher: Cli, google: GoogleStandIn, iap: IAPStandIn
) -> None:
    _stored_login(google, researcher)
    researcher.env.update(MLFLOW_TRACKING_URI=iap.url("alice"), MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE)
    result = researcher("doctor", "--json")
    checks = _checks(result)
    assert result.code == 1
    assert checks["tracking URI"] == {
        "name": "tracking URI",
        "status": "fail",
        "detail": f"{iap.url('alice')} is the lab's, but MLFLOW_TRACKING_AUTH is not "
        "'mlflowk8s': MLflow sends no IAP token",
        "fix": 'export MLFLOW_TRACKING_AUTH=mlflowk8s, or eval "$(mlflowk8s env NAME)" '
        "(NAME: your tenant)",
    }
    assert checks["reachability"]["detail"].endswith("IAP got no token (HTTP 401)")
    assert checks["reachability"]["fix"] == (
        "export MLFLOW_TRACKING_AUTH=mlflowk8s (`mlflowk8s env NAME`)"
    )


@pytest.fixture
def tenant_behind_iap(google: GoogleStandIn, tmp_path: Path) -> Iterator[IAPStandIn]:
    """alice's real tracking server (the launcher, as the local target runs it) behind IAP."""
    tenant = start_tenant("alice", tmp_path / "alice", tmp_path / "alice.log")
    proxy = IAPStandIn(
        google.jwks_uri, audiences=[IAP_AUDIENCE, DESKTOP_CLIENT],
        backends={"alice": tenant.port}, access={"alice": {ALICE}},
    )  # fmt: skip
    try:
        yield proxy
    finally:
        proxy.stop()
        tenant.stop()


def _versions_doctor(researcher: Cli, google: GoogleStandIn, iap: IAPStandIn) -> dict[str, str]:
    _stored_login(google, researcher)
    researcher.env.update(MLFLOW_TRACKING_URI=iap.url("alice"), MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE,
                          MLFLOW_TRACKING_AUTH="mlflowk8s")  # fmt: skip
    result = researcher("doctor", "--json")
    assert result.code == 0, result.stdout  # a version skew is a warning, never a failure
    assert json.loads(result.stdout)["ok"] is True
    return _checks(result)["mlflow version"]


def test_doctor_reads_the_servers_version_through_iap_with_the_researchers_token(
    researcher: Cli, google: GoogleStandIn, tenant_behind_iap: IAPStandIn
) -> None:
    before = tenant_behind_iap.snapshot().get(401, 0)
    assert _versions_doctor(researcher, google, tenant_behind_iap) == {
        "name": "mlflow version", "status": "ok",
        "detail": f"client mlflow {server.MLFLOW_VERSION}, server MLflow {server.MLFLOW_VERSION}",
    }  # fmt: skip
    # IAP let /health and /version through: the token went with both.
    assert tenant_behind_iap.snapshot().get(401, 0) == before


def test_doctor_warns_on_a_minor_skew_and_names_the_pip_command(
    researcher: Cli, google: GoogleStandIn, tenant_behind_iap: IAPStandIn, skewed_client: Path
) -> None:
    from tests.support.client_install import SKEWED_VERSION

    # A real mlflow-skinny of the previous minor is what this Python imports.
    researcher.env["PYTHONPATH"] = str(skewed_client)
    major, minor = server.MLFLOW_VERSION.split(".")[:2]
    assert _versions_doctor(researcher, google, tenant_behind_iap) == {
        "name": "mlflow version", "status": "warn",
        "detail": f"client mlflow-skinny {SKEWED_VERSION}, server MLflow {server.MLFLOW_VERSION}: "
                  "a minor version apart (calls may fail or lose fields)",
        "fix": f"pip install 'mlflow-skinny=={major}.{minor}.*'",
    }  # fmt: skip


def test_env_help_names_the_shells_it_takes(researcher: Cli) -> None:
    result = researcher("env", "--help")
    assert "bash, zsh, sh, fish or powershell" in result.stdout
    sh = researcher("env", "alice", "--shell", "sh", "--domain", DOMAIN, "--audience", "a b")
    assert (sh.code, sh.stderr) == (0, "")
    assert "export MLFLOWK8S_IAP_AUDIENCE='a b'\n" in sh.stdout


def test_env_help_says_what_it_exports_for_large_files_and_why(researcher: Cli) -> None:
    from mlflowk8s.auth.hosts import MIB, MULTIPART_EXPORTS

    result = researcher("env", "--help")
    assert result.code == 0, result.stderr
    words = " ".join(result.stdout.replace("│", " ").split())
    for variable in MULTIPART_EXPORTS:
        assert variable in words, variable
    assert "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true" in words
    # The sizes it names are the ones it exports, and the reason: Cloud Run's cap.
    sizes = {int(MULTIPART_EXPORTS[k]) // MIB for k in MULTIPART_EXPORTS if k.endswith("SIZE")}
    assert sizes == {16} and "(16 MiB each)" in words
    assert "Cloud Run refuses request bodies over 32 MiB" in words


def test_doctor_reports_a_broken_lab_file_as_a_check(researcher: Cli) -> None:
    (researcher.lab / ".env").write_text("MLFLOW_DOMAIN=Not A Domain\n")
    result = researcher("doctor", "--json")
    checks = _checks(result)
    assert result.code == 1
    assert checks["settings"]["status"] == "fail"
    assert "MLFLOW_DOMAIN" in checks["settings"]["detail"]


def test_env_for_a_local_lab_prints_the_local_url(cli: Cli) -> None:
    from mlflowk8s.targets.local.target import local_dir

    (cli.lab / ".env").write_text("MLFLOWK8S_TARGET=local\n")
    (cli.lab / "users.yaml").write_text("users:\n  alice:\n    members: []\n")
    before = cli("env", "alice")
    assert before.code == 2
    assert "has no local server yet: run `mlflowk8s apply`" in before.stderr
    write_json(
        local_dir(cli.lab) / "ports.json",
        {"version": 1, "host": "127.0.0.1", "ports": {"alice": 5123}},
    )
    result = cli("env", "alice")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == (
        "export MLFLOW_TRACKING_URI=http://127.0.0.1:5123/alice/\n"
        "export MLFLOW_DISABLE_TELEMETRY=true\n"
    )


ADMIN_ENV = (
    "GCP_PROJECT=lab-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)
APIS = "serviceusage.googleapis.com cloudresourcemanager.googleapis.com"


@pytest.mark.parametrize(
    ("enabled", "status", "detail"),
    [
        (
            {"serviceusage.googleapis.com", "cloudresourcemanager.googleapis.com"},
            "ok",
            "serviceusage.googleapis.com, cloudresourcemanager.googleapis.com are on in "
            "lab-project",
        ),
        (
            {"serviceusage.googleapis.com"},
            "fail",
            "off in lab-project: cloudresourcemanager.googleapis.com",
        ),
        (set(), "fail", "the Service Usage API is off in lab-project"),
    ],
)
def test_doctor_for_an_admin_checks_the_apis_terraform_cannot_enable(
    researcher: Cli,
    google: GoogleStandIn,
    tmp_path: Path,
    enabled: set[str],
    status: str,
    detail: str,
) -> None:
    usage = ServiceUsageStandIn(google, enabled)
    try:
        key = write_json(tmp_path / "admin.json", google.service_account_key(ALICE_JOB))
        (researcher.lab / ".env").write_text(ADMIN_ENV)
        researcher.env.update(
            GOOGLE_APPLICATION_CREDENTIALS=str(key),
            MLFLOWK8S_SERVICE_USAGE_ENDPOINT=usage.endpoint,
        )
        result = researcher("doctor", "--json")
    finally:
        usage.stop()
    check = _checks(result)["google apis"]
    assert (check["status"], check["detail"]) == (status, detail)
    if status == "fail":
        assert result.code == 1
        assert check["fix"] == f"gcloud services enable {APIS} --project lab-project"


def test_doctor_for_an_admin_without_google_credentials_says_how_to_log_in(cli: Cli) -> None:
    (cli.lab / ".env").write_text(ADMIN_ENV)
    result = cli("doctor", "--json")
    check = _checks(result)["google apis"]
    assert result.code == 1
    assert check["status"] == "fail"
    assert check["fix"] == "gcloud auth application-default login"


def test_doctor_finds_terraform_the_way_the_runner_does(researcher: Cli, tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text('#!/bin/sh\necho \'{"terraform_version":"1.11.4"}\'\n')
    fake.chmod(0o755)
    researcher.env["MLFLOWK8S_TERRAFORM"] = str(fake)
    check = _checks(researcher("doctor", "--json"))["terraform"]
    assert check == {"name": "terraform", "status": "ok", "detail": f"Terraform 1.11.4 ({fake})"}
    (researcher.lab / ".env").write_text(ADMIN_ENV)
    researcher.env["MLFLOWK8S_TERRAFORM"] = str(tmp_path / "missing")
    result = researcher("doctor", "--json")
    assert result.code == 1
    assert _checks(result)["terraform"]["status"] == "fail"  # an admin needs it


def test_login_gives_up_when_nobody_signs_in(researcher: Cli) -> None:
    result = researcher(
        "login", "--no-browser", "--timeout", "1", "--client-id", "a", "--client-secret", "b"
    )
    assert (result.code, result.stdout) == (1, "")
    assert "Open this address to sign in:" in result.stderr
    assert "client_id=a&redirect_uri=http%3A%2F%2F127.0.0.1%3A" in result.stderr
    assert result.stderr.endswith("error: no sign-in within 1 s: run `mlflowk8s login` again\n")
    assert not (Path(researcher.env["XDG_CONFIG_HOME"]) / "mlflowk8s").exists()
