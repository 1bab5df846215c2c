"""init / plan / apply / status / destroy of a cloudrun lab through the real CLI, real
Terraform on the cloudrun fixture roots and the real gcs backend (fake-gcs-server)."""

from __future__ import annotations

import json

import pytest

from tests.cloudrun.conftest import PROJECT_NUMBER, run_app_host
from tests.terraform.conftest import PROJECT, TfLab

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

ALICE_ACTIVE = [
    'terraform_data.access["alice/user:alice@lab.org"]',
    'terraform_data.database["alice"]',
    'terraform_data.folder_iam["alice"]',
    'terraform_data.iap_invoker["alice"]',
    'terraform_data.managed_folder["alice"]',
    'terraform_data.self_signing["alice"]',
    'terraform_data.service["alice"]',
    'terraform_data.service_account["alice"]',
    'terraform_data.setup_job["alice"]',
    'terraform_data.sql_user["alice"]',
    'terraform_data.tenant_sql["alice/roles/cloudsql.client"]',
    'terraform_data.tenant_sql["alice/roles/cloudsql.instanceUser"]',
    'terraform_data.upgrade_job["alice"]',
]
ALICE_KEPT = [
    'terraform_data.database["alice"]',
    'terraform_data.folder_iam["alice"]',
    'terraform_data.managed_folder["alice"]',
    'terraform_data.service_account["alice"]',
    'terraform_data.sql_user["alice"]',
]


def of(cr_lab: TfLab, user: str, env: str = "default") -> list[str]:
    return [a for a in cr_lab.addresses("cloudrun-tenants", env)
            if f'["{user}"]' in a or f'["{user}/' in a]  # fmt: skip


def test_init_records_the_target_and_needs_no_domain(cr_lab: TfLab) -> None:
    text = (cr_lab.path / ".env").read_text()
    assert "MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT=lab-project-1\n" in text
    assert "MLFLOW_DOMAIN" not in text and "IAP_OAUTH" not in text
    assert f"MLFLOW_GCS_BUCKET={PROJECT}-mlflow-artifacts\n" in text
    assert cr_lab.objects() == []  # the state bucket exists, empty


def test_plan_before_the_platform_plans_only_the_platform(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    result = cr_lab("plan", "--json")
    assert result.code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["counts"] == {"platform": {"create": 5}}
    assert plan["notes"][0].startswith("tenants: not planned: the platform does not exist yet")
    assert cr_lab.objects() == ["mlflowk8s/default/cloudrun-platform/default.tfstate"]


def test_apply_creates_both_states_and_every_url_is_the_run_app_host(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    result = cr_lab("--env", "dev", "apply", "--yes")
    assert result.code == 0, result.stderr
    assert cr_lab.objects() == [
        "mlflowk8s/dev/cloudrun-platform/default.tfstate",
        "mlflowk8s/dev/cloudrun-tenants/default.tfstate",
    ]
    assert "applying platform ..." in result.stdout
    assert "applying tenants ..." in result.stdout
    url = f"https://{run_app_host('alice', 'dev')}/"
    assert f"alice  {url}  applied" in result.stdout
    assert of(cr_lab, "alice", "dev") == ALICE_ACTIVE
    # The rendered server: the launcher as `python -c`, allowed hosts naming the service.
    work = cr_lab.path / ".mlflowk8s" / "dev"
    tenants = json.loads((work / "cloudrun-tenants.tfvars.json").read_text())
    server = tenants["users"]["alice"]["server"]
    assert server["command"] == ["python"] and server["args"][0] == "-c"
    flags = server["args"][2:]
    allowed = flags[flags.index("--allowed-hosts") + 1].split(",")
    assert allowed[:2] == [run_app_host("alice", "dev"), f"{run_app_host('alice', 'dev')}:*"]
    assert "--static-prefix" not in flags
    assert (
        flags[flags.index("--artifacts-destination") + 1]
        == f"gs://{PROJECT}-mlflow-artifacts/alice"
    )
    outputs = json.loads((work / "cloudrun-platform-outputs.tfvars.json").read_text())
    assert outputs["project_number"] == PROJECT_NUMBER
    assert not list(work.glob("*.tfplan")), "applied plans (they hold inputs) are removed"


def test_status_lists_urls_members_and_facts(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    assert cr_lab("apply", "--yes").code == 0
    result = cr_lab("status", "--json", "--no-health")
    assert result.code == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["tenants"] == [{
        "name": "alice", "url": f"https://{run_app_host('alice')}/",
        "members": ["user:alice@lab.org"], "state": "applied", "healthy": None,
        "health_note": None, "mlflow_version": "3.17.2",  # conftest's IMAGE: v3.17.2-full
    }]  # fmt: skip
    assert status["facts"]["project_number"] == PROJECT_NUMBER
    assert status["facts"]["database"] == "Cloud SQL mlflow-default-pg"


def test_user_flag_touches_only_that_users_resources(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    assert cr_lab("apply", "--yes").code == 0
    cr_lab("add-user", "bob", "--member", "bob@lab.org")
    cr_lab("add-user", "carol", "--member", "carol@lab.org")
    plan = json.loads(cr_lab("plan", "--user", "bob", "--json").stdout)
    assert {(c["action"], c["user"]) for c in plan["changes"]} == {("create", "bob")}
    assert plan["counts"] == {"tenants": {"create": 13}}
    result = cr_lab("apply", "--user", "bob", "--yes")
    assert result.code == 0, result.stderr
    assert len(of(cr_lab, "bob")) == 13
    assert of(cr_lab, "carol") == []


def test_destroy_retires_everyone_stops_the_database_and_apply_starts_it(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    assert cr_lab("apply", "--yes").code == 0
    result = cr_lab("destroy", "--yes")
    assert result.code == 0, result.stderr
    assert of(cr_lab, "alice") == ALICE_KEPT
    assert "Kept: Cloud SQL instance mlflow-default-pg, stopped (every tenant's database" in (
        result.stdout
    )
    instance = _instance(cr_lab)
    assert instance["activation_policy"] == "NEVER"
    assert instance["deletion_protection"] is True
    # The next apply brings the tenants back and the database up.
    plan = json.loads(cr_lab("plan", "--json").stdout)
    assert {c["address"] for c in plan["changes"] if c["root"] == "platform"} == {
        "terraform_data.sql_instance"
    }
    assert cr_lab("apply", "--yes").code == 0
    assert _instance(cr_lab)["activation_policy"] == "ALWAYS"
    assert of(cr_lab, "alice") == ALICE_ACTIVE


def test_destroy_delete_data_removes_everything(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    assert cr_lab("apply", "--yes").code == 0
    result = cr_lab("destroy", "--delete-data", "--yes")
    assert result.code == 0, result.stderr
    assert cr_lab.addresses("cloudrun-tenants") == []
    assert cr_lab.addresses("cloudrun-platform") == []


def test_purge_deletes_one_users_data_only(cr_lab: TfLab) -> None:
    cr_lab("add-user", "alice", "--member", "alice@lab.org")
    cr_lab("add-user", "bob", "--member", "bob@lab.org")
    assert cr_lab("apply", "--yes").code == 0
    result = cr_lab("remove-user", "alice", "--purge", "--yes")
    assert result.code == 0, result.stderr
    assert of(cr_lab, "alice") == []
    assert len(of(cr_lab, "bob")) == 13


def test_unlock_names_the_cloudrun_roots(cr_lab: TfLab) -> None:
    result = cr_lab("unlock", "12345")
    assert result.code == 2
    assert "no state lock 12345 in environment default: no state is locked" in result.stderr


def _instance(cr_lab: TfLab) -> dict[str, object]:
    for res in cr_lab.state("cloudrun-platform").get("resources", []):  # type: ignore[union-attr]
        if res["name"] == "sql_instance":
            value = res["instances"][0]["attributes"]["output"]["value"]
            assert isinstance(value, dict)
            return value
    raise AssertionError("no sql_instance in the platform state")
