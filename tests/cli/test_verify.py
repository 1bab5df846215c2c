"""`mlflowk8s verify` through the real CLI: what it gathers from a lab and how it reports.

A GCP lab applied with the fixture roots (real Terraform, the real gcs backend on
fake-gcs-server; Certificate Manager and the token endpoint stand in for Google). Its
tenants' https://mlflow.lab.org/NAME/ cannot be reached from here, so every request
check fails with "no answer": that shows the gathering (tenants, members, certificate,
the admin's login) and the report; tests/client/test_verify.py runs the checks against
real servers behind the IAP stand-in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflowk8s.auth.stored_login import StoredLogin, save_login
from tests.conftest import Cli
from tests.support.fakegcs import FakeGcs
from tests.support.iap_standin import AdminGoogle, GoogleStandIn, admin_google
from tests.terraform.conftest import FIXTURE_ROOTS, IMAGE, PROJECT

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

ADMIN = "admin@lab.org"
DESKTOP_CLIENT = "5678-desktop.apps.googleusercontent.com"
SIGNED_OUT = "401 or 302 to accounts.google.com"


def test_a_local_lab_has_nothing_to_verify(cli: Cli) -> None:
    (cli.lab / ".env").write_text("MLFLOWK8S_TARGET=local\n", encoding="utf-8")
    result = cli("verify")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: verify checks Identity-Aware Proxy; the local target has none in front of "
        "its servers: see `mlflowk8s status`\n"
    )


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[AdminGoogle, GoogleStandIn]]:
    """The admin's Google APIs (Certificate Manager, ...) and the login's token endpoint."""
    tokens = GoogleStandIn(lifetime=600)
    tokens.add_desktop_client(DESKTOP_CLIENT)
    with admin_google(PROJECT, tmp_path) as apis:
        yield apis, tokens
    tokens.stop()


@pytest.fixture
def gcp_lab(
    cli: Cli, fake_gcs: FakeGcs, google: tuple[AdminGoogle, GoogleStandIn], tmp_path: Path
) -> Cli:
    secret = tmp_path / "client_secret.json"
    secret.write_text(json.dumps({"web": {"client_id": "123-iap.apps.googleusercontent.com",
                                          "client_secret": "s3cret"}}))  # fmt: skip
    cli.env.update(fake_gcs.env())
    cli.env.update(google[0].env)
    cli.env.update(
        {
            "MLFLOWK8S_INFRA_DIR": str(FIXTURE_ROOTS),
            "MLFLOWK8S_RETRY_DELAY": "0",
            "TF_VAR_fixture_cluster_file": str(tmp_path / "cluster-alive"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
    )
    # Pinned already: init keeps it and asks no registry.
    (cli.lab / ".env").write_text(f"MLFLOW_IMAGE={IMAGE}\n", encoding="utf-8")
    result = cli(
        "init", "--no-input", "--project", PROJECT, "--region", "europe-west1",
        "--domain", "mlflow.lab.org", "--state-bucket", f"tfs-{uuid.uuid4().hex[:10]}",
        "--artifact-bucket", "lab-artifacts", "--oauth-client-secret", str(secret),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    with (cli.lab / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write(f"MLFLOWK8S_DESKTOP_CLIENT_ID={DESKTOP_CLIENT}\n")
    return cli


def _sign_in(cli: Cli, tokens: GoogleStandIn, client_id: str = DESKTOP_CLIENT) -> None:
    """What `mlflowk8s login` leaves behind (tests/client runs the real flow)."""
    refresh = f"1//{uuid.uuid4().hex}"
    tokens.refresh_tokens[refresh] = (client_id, ADMIN)
    login = StoredLogin(client_id, tokens.clients.get(client_id, "x"), refresh,
                        tokens.token_uri, ADMIN)  # fmt: skip
    save_login(login, Path(cli.env["XDG_CONFIG_HOME"]) / "mlflowk8s" / "credentials.json")


def test_verify_gathers_tenants_login_and_certificate_and_fails_what_it_cannot_reach(
    gcp_lab: Cli, google: tuple[AdminGoogle, GoogleStandIn]
) -> None:
    apis, tokens = google
    result = gcp_lab("verify")
    assert (result.code, result.stderr) == (
        1, "error: verify signs in as you: run `mlflowk8s login` first\n"
    )  # fmt: skip

    _sign_in(gcp_lab, tokens, client_id="9999-other.apps.googleusercontent.com")
    result = gcp_lab("verify")
    assert result.code == 2
    assert (
        "is for OAuth client 9999-other.apps.googleusercontent.com, this lab's desktop "
        f"client is {DESKTOP_CLIENT}: run `mlflowk8s login` in the lab folder" in result.stderr
    )

    _sign_in(gcp_lab, tokens)
    result = gcp_lab("verify")
    assert (result.code, result.stderr) == (
        1, "error: nothing to verify: platform not created yet (run `mlflowk8s apply`)\n"
    )  # fmt: skip

    gcp_lab("add-user", "alice", "--member", "alice@lab.org", "--member", ADMIN)
    gcp_lab("add-user", "bob", "--member", "bob@lab.org")
    gcp_lab("add-user", "old", "--member", ADMIN)
    applied = gcp_lab("apply", "--yes")
    assert applied.code == 0, applied.stderr
    gcp_lab("remove-user", "old")
    assert gcp_lab("apply", "--yes").code == 0

    apis.certificates.managed = {"state": "PROVISIONING"}
    result = gcp_lab("verify", "--json", "--timeout", "5")
    assert result.code == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["admin"] == ADMIN and report["ok"] is False and report["notes"] == []
    rows = [(r["check"], r["tenant"], r["expected"], r["ok"]) for r in report["results"]]
    tricks = ["/alice/../bob/", "/alice/%2e%2e/bob/", "/alice/%2E%2E/bob/", "//bob/",
              "/alice/..;/bob/", "/BOB/", "Host mlflow.lab.org."]  # fmt: skip
    assert rows == [  # the retired tenant is not checked
        ("certificate", "-", "ACTIVE", False),
        ("signed out", "alice", SIGNED_OUT, False),
        ("member, Authorization", "alice", "200 JSON", False),
        ("member, Proxy-Authorization", "alice", "200 JSON", False),
        ("health through the load balancer", "alice", "200", False),
        ("signed out", "bob", SIGNED_OUT, False),
        ("non-member, Authorization", "bob", "403", False),
        ("non-member, Proxy-Authorization", "bob", "403", False),
        *[(f"trick {name}", "bob", "refused (no 2xx)", False) for name in tricks],
        ("health through the load balancer", "bob", "200", None),
    ]
    gots = [r["got"] for r in report["results"]]
    assert gots[0] == "PROVISIONING"
    assert all(got.startswith("no answer: ") for got in gots[1:-1]), gots

    # One tenant by name, reached through the admin's own; the table and its summary.
    apis.certificates.managed = {"state": "ACTIVE"}
    result = gcp_lab("verify", "bob", "--timeout", "5")
    assert result.code == 1, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0].split() == ["check", "tenant", "expected", "got"]
    assert lines[1].split() == ["ok", "certificate", "-", "ACTIVE", "ACTIVE"]
    assert [line.split()[:3] for line in lines[2:5]] == [
        ["FAIL", "signed", "out"], ["FAIL", "non-member,", "Authorization"],
        ["FAIL", "non-member,", "Proxy-Authorization"],
    ]  # fmt: skip
    assert lines[5].split()[:3] == ["FAIL", "trick", "/alice/../bob/"]
    assert lines[-1] == f"1 of 11 checks passed as {ADMIN}; 1 could not run; 10 FAILED."

    result = gcp_lab("verify", "carol", "old")
    assert (result.code, result.stderr) == (
        2, "error: no applied active tenant 'carol', 'old' (see `mlflowk8s status`)\n"
    )  # fmt: skip
