"""plan / apply / status through the real CLI, real Terraform and the real gcs backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.iap_standin import admin_google
from tests.terraform.conftest import DOMAIN, OAUTH_SECRET, PROJECT, TfLab

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI


def tenant_addresses(tf_lab: TfLab, user: str) -> list[str]:
    prefix = f'module.tenant["{user}"].'
    return [a.removeprefix(prefix) for a in tf_lab.addresses("tenants") if a.startswith(prefix)]


def test_plan_before_the_platform_exists_plans_only_the_platform(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    result = tf_lab("plan", "--json")
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["notes"] == [
        "tenants: not planned: the platform does not exist yet "
        "(apply creates it, then plans and applies the tenants)"
    ]
    assert plan["counts"] == {"platform": {"create": 8}}
    assert {c["address"] for c in plan["changes"]} == {
        "terraform_data.network",
        'module.gke.terraform_data.piece["cluster"]',
        'module.gke.terraform_data.piece["node_pool"]',
        'module.cloudsql.terraform_data.piece["instance"]',
        'module.artifact_store.terraform_data.piece["bucket"]',
        'module.iap_ingress.terraform_data.piece["ip"]',
        'module.iap_ingress.terraform_data.piece["certificate"]',
        'module.iap_ingress.terraform_data.piece["certificate_map"]',
    }
    # Planning changes nothing: only the (empty) platform state exists.
    assert tf_lab.objects() == ["mlflowk8s/default/platform/default.tfstate"]


def test_apply_creates_both_states_under_the_env_prefix(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    result = tf_lab("--env", "dev", "apply", "--yes")
    assert result.code == 0, result.stderr
    assert tf_lab.objects() == [
        "mlflowk8s/dev/platform/default.tfstate",
        "mlflowk8s/dev/tenants/default.tfstate",
    ]
    assert 'module.gke.terraform_data.piece["cluster"]' in tf_lab.addresses("platform", "dev")
    lines = result.stdout.splitlines()
    assert "applying platform ..." in lines
    assert "applying tenants ..." in lines
    assert "alice  https://mlflow.lab.org/alice/  applied  -       -       user:alice@lab.org" in [
        line.strip() for line in lines
    ]
    work = tf_lab.path / ".mlflowk8s" / "dev"
    outputs = json.loads((work / "platform-outputs.tfvars.json").read_text())
    assert outputs["cluster_name"] == "mlflow-dev"
    assert outputs["certificate_dns_authorization"]["type"] == "CNAME"
    # The OAuth client secret reaches Terraform only through the environment.
    for path in work.glob("*.json"):
        assert OAUTH_SECRET not in path.read_text(), path
    assert OAUTH_SECRET not in result.stdout + result.stderr
    assert not list(work.glob("*.tfplan")), "applied plans (they hold inputs) are removed"


def test_add_user_then_apply_changes_only_that_users_resources(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    before = tf_lab.state("tenants")
    tf_lab("add-user", "bob", "--member", "bob@lab.org")

    plan = json.loads(tf_lab("plan", "--json").stdout)
    assert plan["counts"] == {"tenants": {"create": 7}}
    assert {(c["action"], c["user"]) for c in plan["changes"]} == {("create", "bob")}

    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    after = tf_lab.state("tenants")

    def alice(state: dict[str, object]) -> list[object]:
        return [r for r in state["resources"] if 'tenant["alice"]' in r.get("module", "")]  # type: ignore[attr-defined, union-attr]

    assert alice(after) == alice(before)  # same ids, same attributes
    assert tenant_addresses(tf_lab, "bob") == sorted([
        "terraform_data.database", "terraform_data.deployment[0]",
        'terraform_data.iap_access["user:bob@lab.org"]', "terraform_data.managed_folder",
        "terraform_data.namespace[0]", "terraform_data.route[0]",
        "terraform_data.service_account",
    ])  # fmt: skip


def test_apply_user_limits_the_tenants_run_to_that_user(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    tf_lab("add-user", "bob", "--member", "bob@lab.org")
    tf_lab("add-user", "carol", "--member", "carol@lab.org")

    plan = json.loads(tf_lab("plan", "--user", "bob", "--json").stdout)
    assert {c["user"] for c in plan["changes"]} == {"bob"}

    result = tf_lab("apply", "--user", "bob", "--yes")
    assert result.code == 0, result.stderr
    assert tenant_addresses(tf_lab, "bob")
    assert tenant_addresses(tf_lab, "carol") == []
    assert tf_lab("apply", "--user", "nobody", "--yes").code == 2


def test_status_shows_every_tenant_url_and_the_address_facts(tf_lab: TfLab) -> None:
    assert tf_lab("status").stdout.splitlines() == [
        "No tenants.",
        "platform: not created yet (run `mlflowk8s apply`)",
    ]
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab("add-user", "bob", "--member", "group:bob-team@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    tf_lab("remove-user", "bob")
    assert tf_lab("apply", "--yes").code == 0

    result = tf_lab("status", "--no-health")
    assert result.code == 0, result.stderr
    assert [line.rstrip() for line in result.stdout.splitlines()] == [
        "USER   URL                            STATE    HEALTH  MLFLOW  MEMBERS",
        "alice  https://mlflow.lab.org/alice/  applied  -       -       user:alice@lab.org",
        "bob    https://mlflow.lab.org/bob/    retired  -       -       group:bob-team@lab.org",
        f"domain: {DOMAIN}",
        "ip_address: 203.0.113.10",
        "cluster: mlflow-default (europe-west1-b)",
        f"name_servers: none managed here: point {DOMAIN} (A) at 203.0.113.10",
        "dns_authorization: _acme-challenge.mlflow.lab.org. CNAME "
        "fixture.authorize.certificatemanager.goog.",
        "gateway: mlflow-default",
        "certificate: ACTIVE",
    ]
    data = json.loads(tf_lab("status", "--no-health", "--json").stdout)
    assert [(t["name"], t["url"], t["state"]) for t in data["tenants"]] == [
        ("alice", "https://mlflow.lab.org/alice/", "applied"),
        ("bob", "https://mlflow.lab.org/bob/", "retired"),
    ]
    assert data["facts"]["ip_address"] == "203.0.113.10"


def _set_image(tf_lab: TfLab, image: str) -> None:
    env = tf_lab.path / ".env"
    lines = [ln for ln in env.read_text().splitlines() if not ln.startswith("MLFLOW_IMAGE=")]
    env.write_text("\n".join([*lines, f"MLFLOW_IMAGE={image}"]) + "\n")


def _versions(tf_lab: TfLab) -> dict[str, str | None]:
    data = json.loads(tf_lab("status", "--no-health", "--json").stdout)
    return {t["name"]: t["mlflow_version"] for t in data["tenants"]}


def test_status_reads_each_tenants_mlflow_version_from_its_deployed_image(tf_lab: TfLab) -> None:
    from mlflowk8s import server

    pinned = f"{server.MLFLOW_IMAGE}@sha256:" + "5" * 64  # as `init` pins it
    _set_image(tf_lab, pinned)
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab("add-user", "bob", "--member", "bob@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    assert _versions(tf_lab) == {"alice": server.MLFLOW_VERSION, "bob": server.MLFLOW_VERSION}
    line = tf_lab("status", "--no-health").stdout.splitlines()[1].split()
    assert line[:5] == ["alice", "https://mlflow.lab.org/alice/", "applied", "-",
                        server.MLFLOW_VERSION]  # fmt: skip

    # Another official version, applied to bob only: alice still runs the old digest,
    # which the pin no longer names, so hers is unknown rather than claimed.
    _set_image(tf_lab, "ghcr.io/mlflow/mlflow:v3.16.0-full@sha256:" + "6" * 64)
    assert tf_lab("apply", "--user", "bob", "--yes").code == 0
    assert _versions(tf_lab) == {"alice": None, "bob": "3.16.0"}

    # An image set by hand without the official tag: no known version, never a guess.
    _set_image(tf_lab, "europe-docker.pkg.dev/lab/mlflow/server@sha256:" + "7" * 64)
    assert tf_lab("apply", "--yes").code == 0
    assert _versions(tf_lab) == {"alice": None, "bob": None}
    tf_lab("remove-user", "bob")
    _set_image(tf_lab, pinned)
    assert tf_lab("apply", "--yes").code == 0
    assert _versions(tf_lab) == {"alice": server.MLFLOW_VERSION, "bob": None}


def test_retire_then_apply_keeps_data_and_purge_deletes_it(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab("add-user", "bob", "--member", "bob@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    bob_before = tenant_addresses(tf_lab, "bob")

    tf_lab("remove-user", "alice")
    plan = json.loads(tf_lab("plan", "--json").stdout)
    assert plan["counts"] == {"tenants": {"delete": 4}}
    assert {c["user"] for c in plan["changes"]} == {"alice"}
    assert tf_lab("apply", "--yes").code == 0
    assert tenant_addresses(tf_lab, "alice") == [
        "terraform_data.database", "terraform_data.managed_folder",
        "terraform_data.service_account",
    ]  # fmt: skip

    result = tf_lab("remove-user", "alice", "--purge", "--yes")
    assert result.code == 0, result.stderr
    assert result.stdout == (
        # No artifacts in this test (test_destroy_data.py has some): none to delete first.
        "deleting alice's artifacts in gs://lab-artifacts/alice/ ...\n"
        "Deleted 0 objects (every version) under gs://lab-artifacts/alice/\n"
        "planning tenants: delete alice and its data ...\n"
        "applying tenants: delete alice and its data ...\n"
        "Purged user alice and its data.\n"
    )
    assert tenant_addresses(tf_lab, "alice") == []
    assert tenant_addresses(tf_lab, "bob") == bob_before
    assert "alice" not in (tf_lab.path / "users.yaml").read_text()


def test_apply_without_image_or_oauth_client_is_a_usage_error(tf_lab: TfLab) -> None:
    env_file = tf_lab.path / ".env"
    lines = env_file.read_text().splitlines()
    env_file.write_text("\n".join(x for x in lines if not x.startswith("MLFLOW_IMAGE")) + "\n")
    result = tf_lab("apply", "--yes")
    assert result.code == 2
    assert result.stderr == (
        "error: missing settings in .env before applying: "
        "MLFLOW_IMAGE (`mlflowk8s init` pins the MLflow image by digest)\n"
    )
    assert tf_lab.objects() == []


def test_apply_with_nothing_to_change_still_shows_the_urls(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "No changes: the lab matches users.yaml and .env." in lines
    assert any(line.startswith("alice  https://mlflow.lab.org/alice/") for line in lines), lines


def test_first_apply_names_the_apis_terraform_cannot_enable(tf_lab: TfLab, tmp_path: Path) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    with admin_google(PROJECT, tmp_path, enabled={"serviceusage.googleapis.com"}) as google:
        tf_lab.cli.env.update(google.env)
        result = tf_lab("apply", "--yes")
    assert result.code == 1
    assert result.stderr == (
        f"error: off in {PROJECT}: cloudresourcemanager.googleapis.com: gcloud services enable "
        f"serviceusage.googleapis.com cloudresourcemanager.googleapis.com --project {PROJECT}\n"
    )
    assert tf_lab.addresses("platform") == []  # nothing was planned or applied


def test_status_says_why_the_certificate_is_not_active_yet(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    tf_lab.google.certificates.managed = {
        "state": "PROVISIONING",
        "authorizationAttemptInfo": [
            {"domain": DOMAIN, "state": "AUTHORIZING", "failureReason": "CONFIG"}
        ],
    }
    try:
        data = json.loads(tf_lab("status", "--no-health", "--json").stdout)
    finally:
        tf_lab.google.certificates.managed = {"state": "ACTIVE"}
    assert data["facts"]["certificate"] == f"PROVISIONING ({DOMAIN}: AUTHORIZING CONFIG)"
