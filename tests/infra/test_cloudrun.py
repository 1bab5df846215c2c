"""infra/cloudrun: validation and `terraform test` of the Cloud Run roots, offline.

Google's APIs are stood in for by the schema-only providers of tests/support/tfmirror and
`mock_provider` blocks (tests/infra/conftest.py); Terraform itself is real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.targets.cloudrun.render import tenants_vars
from tests.infra.conftest import INFRA, Terraform
from tests.infra.iam_grants import other_token_creator_grants, self_signing_grants, state_blocks
from tests.infra.test_checkov import SKIP_FILE, checkov_binary
from tests.infra.test_terraform import changes, run_sections

ROOTS = ("cloudrun/platform", "cloudrun/tenants")
_VARIABLE_RE = re.compile(r'^variable\s+"([^"]+)"\s*\{(.*?)^\}', re.MULTILINE | re.DOTALL)

# Kept when a tenant retires: the data and the identity that owns it.
DATA_RESOURCES = (
    "google_service_account.tenant",
    "google_sql_user.tenant",
    "google_sql_database.tenant",
    "google_storage_managed_folder.tenant",
    "google_storage_managed_folder_iam_member.tenant",
)
# What an active tenant has besides its data.
SERVING_RESOURCES = (
    "google_cloud_run_v2_service.tenant",
    "google_cloud_run_v2_job.setup",
    "google_cloud_run_v2_job.upgrade",
    "google_cloud_run_v2_service_iam_member.iap_invoker",
    "google_iap_web_cloud_run_service_iam_member.access",
    "google_project_iam_member.tenant_sql",
    "google_service_account_iam_member.self_signing",
)
# Only the GKE target needs these (Private Service Access on a VPC).
NETWORK_RESOURCES = (
    "google_compute_network",
    "google_compute_subnetwork",
    "google_compute_router",
    "google_compute_router_nat",
    "google_compute_global_address",
    "google_service_networking_connection",
)


def user_of(address: str) -> str | None:
    """The user a per-tenant address is keyed by: `x.y["b"]` and `x.y["b/…"]` give b."""
    match = re.search(r'\["([a-z0-9-]+)(/[^"]*)?"\]$', address)
    return match.group(1) if match else None


def resource_of(address: str) -> str:
    return address.split("[", 1)[0]


def type_of(address: str) -> str:
    """The resource type of an address, inside modules too (keys may hold dots)."""
    match = re.match(r"^(?:module\.[^.]+\.)*([a-z0-9_]+)\.", address)
    assert match, address
    return match.group(1)


@pytest.mark.parametrize("root", ROOTS)
def test_roots_have_a_gcs_backend(root: str) -> None:
    assert re.search(r'backend\s+"gcs"\s*\{\s*\}', (INFRA / root / "versions.tf").read_text())


@pytest.mark.parametrize("root", ROOTS)
def test_every_variable_is_described_and_typed(root: str) -> None:
    found = _VARIABLE_RE.findall((INFRA / root / "variables.tf").read_text())
    assert found, f"no variables parsed in infra/{root}/variables.tf"
    missing = [
        name
        for name, body in found
        if "description" not in body or not re.search(r"\btype\s*=", body)
    ]
    assert missing == []


@pytest.mark.parametrize("root", ROOTS)
def test_readme_explains_and_has_doc_markers(root: str) -> None:
    text = (INFRA / root / "README.md").read_text()
    begin, end = text.find("<!-- BEGIN_TF_DOCS -->"), text.find("<!-- END_TF_DOCS -->")
    assert 0 < begin < end, f"infra/{root}/README.md needs the terraform-docs markers"
    assert len(text[:begin].split()) > 40, "the README explains the root before the generated docs"


def test_setup_sql_is_not_copied() -> None:
    # One copy of the per-tenant SQL: the GKE tenant module's db_setup.py, read with file().
    assert list((INFRA / "cloudrun").rglob("*.py")) == []
    assert "modules/tenant/db_setup.py" in (INFRA / "cloudrun" / "tenants" / "main.tf").read_text()


@pytest.mark.parametrize("workdir", ROOTS)
def test_init_and_validate(terraform: Terraform, workdir: str) -> None:
    terraform.init(workdir)
    result = terraform(workdir, "validate", "-no-color").check(f"validate infra/{workdir}")
    assert "Success! The configuration is valid." in result.out
    assert "Warning" not in result.out, result.out


def test_platform_terraform_test(terraform: Terraform) -> None:
    terraform.init("cloudrun/platform")
    result = terraform("cloudrun/platform", "test", "-verbose", "-no-color", timeout=900)
    result.check("terraform test in infra/cloudrun/platform")
    assert re.search(r"Success! \d+ passed, 0 failed", result.out), result.out[-3000:]
    runs = run_sections(result.out)
    assert {"plan", "defaults", "cloudsql_public"} <= set(runs)
    assert {name for name, (status, _) in runs.items() if status != "pass"} == set()
    planned = {address for address, _ in changes(runs["plan"][1])}
    assert "module.cloudsql.google_sql_database_instance.this" in planned
    assert "google_artifact_registry_repository.ghcr" in planned
    assert [a for a in planned if type_of(a) in NETWORK_RESOURCES] == []
    assert [a for a in planned if "iap_settings" in a] == [], "IAP settings belong to the CLI"
    applied = state_blocks(runs["defaults"][1])
    assert applied, "the apply run printed no state"
    assert other_token_creator_grants(applied) == []
    assert self_signing_grants(applied) == {}


def test_tenants_terraform_test(terraform: Terraform) -> None:
    # One test (not a fixture shared by several) so pytest-xdist runs it only once.
    terraform.init("cloudrun/tenants")
    result = terraform("cloudrun/tenants", "test", "-verbose", "-no-color", timeout=900)
    result.check("terraform test in infra/cloudrun/tenants")
    assert re.search(r"Success! \d+ passed, 0 failed", result.out), result.out[-3000:]
    runs = run_sections(result.out)
    assert {"ab", "add_c", "new_image", "retire_b_plan", "retire_b", "returning_user_refresh_only",
            "returning_user_targeted",
            "all_retired"} <= set(runs)  # fmt: skip
    assert {name for name, (status, _) in runs.items() if status != "pass"} == set()
    check_adding_a_user_only_adds_that_users_resources(runs["add_c"][1])
    check_retiring_a_user_keeps_its_data_and_drops_the_rest(runs["retire_b_plan"][1])
    check_a_new_image_updates_jobs_and_services_in_place(runs["new_image"][1])
    check_each_active_tenant_signs_as_itself_only(runs["ab"][1], {"a", "b"})
    check_each_active_tenant_signs_as_itself_only(runs["retire_b"][1], {"a"})


def check_each_active_tenant_signs_as_itself_only(state: str, active: set[str]) -> None:
    blocks = state_blocks(state)
    assert blocks, "the apply run printed no state"
    assert other_token_creator_grants(blocks) == [], "Token Creator beyond a tenant's own account"
    assert self_signing_grants(blocks) == {
        f'google_service_account_iam_member.self_signing["{user}"]': (
            f'google_service_account.tenant["{user}"]'
        )
        for user in active
    }


def check_adding_a_user_only_adds_that_users_resources(plan: str) -> None:
    planned = changes(plan)
    assert planned, "the plan of run add_c printed no changes"
    assert {what for _, what in planned} == {"will be created"}
    assert [address for address, _ in planned if user_of(address) != "c"] == []
    created = {resource_of(address) for address, _ in planned}
    assert created == {*DATA_RESOURCES, *SERVING_RESOURCES}


def check_retiring_a_user_keeps_its_data_and_drops_the_rest(plan: str) -> None:
    planned = changes(plan)
    assert planned, "the plan of run retire_b_plan printed no changes"
    assert [address for address, _ in planned if user_of(address) != "b"] == []
    assert {what for _, what in planned} == {"will be destroyed"}
    destroyed = {resource_of(address) for address, _ in planned}
    assert destroyed == set(SERVING_RESOURCES)
    access = {address for address, _ in planned if address.startswith("google_iap_web")}
    assert access == {
        'google_iap_web_cloud_run_service_iam_member.access["b/user:b@lab.org"]',
        'google_iap_web_cloud_run_service_iam_member.access["b/group:b-team@lab.org"]',
    }


def check_a_new_image_updates_jobs_and_services_in_place(plan: str) -> None:
    planned = changes(plan)
    assert {what for _, what in planned} == {"will be updated in-place"}
    assert {address for address, _ in planned} == {
        f'{resource}["{user}"]'
        for resource in (
            "google_cloud_run_v2_job.setup",
            "google_cloud_run_v2_job.upgrade",
            "google_cloud_run_v2_service.tenant",
        )
        for user in ("a", "b")
    }


def test_checkov_on_the_cloudrun_roots_fails_nothing_unlisted() -> None:
    # tests/infra/test_checkov.py covers all of infra/; this makes sure the Cloud Run
    # roots (and the modules they call) are parsed and scanned, not silently skipped.
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"}
    proc = subprocess.run(
        [str(checkov_binary()), "-d", str(INFRA / "cloudrun"), "--framework", "terraform",
         "--skip-download", "--compact", "-o", "json", "--config-file", str(SKIP_FILE)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, summary
    assert summary["failed"] == 0, report["results"]["failed_checks"]
    scanned = {check["resource"] for check in report["results"]["passed_checks"]}
    # checkov 3.3 runs no checks on the Cloud Run v2 resources: these are ones it checks.
    for resource in (
        "google_project_iam_member.tenant_sql",
        "module.artifact_store.google_storage_bucket.this",
        "module.cloudsql.google_sql_database_instance.this",
    ):
        assert any(r.startswith(resource) for r in scanned), (resource, sorted(scanned))


# What `terraform output -json` of the cloudrun platform gives, as the runner writes it.
PLATFORM_OUTPUTS = {
    "project_number": "123456789012",
    "region": "europe-west1",
    "sql_instance_connection_name": "lab-project-1:europe-west1:mlflow-default-run-ab12",
    "sql_instance_name": "mlflow-default-run-ab12",
    "artifact_bucket": "lab-art",
    "image_registry": "europe-west1-docker.pkg.dev/lab-project-1/mlflow-default-ghcr",
    "iap_service_agent": "serviceAccount:service-123456789012@gcp-sa-iap.iam.gserviceaccount.com",
}


def test_platform_outputs_sample_matches_the_platform_outputs() -> None:
    text = (INFRA / "cloudrun" / "platform" / "outputs.tf").read_text()
    assert set(re.findall(r'^output\s+"([^"]+)"', text, re.MULTILINE)) == set(PLATFORM_OUTPUTS)


def test_rendered_tenants_vars_are_accepted_by_the_tenants_root(
    terraform: Terraform, tmp_path: Path
) -> None:
    # The CLI's own renderer (launcher source, --allowed-hosts with the legacy pattern)
    # against the real root's preconditions.
    users = [User("alice", ("user:alice@lab.org",)), User("bob", (), retired=True),
             User("data-team", ("group:data-team@lab.org",))]  # fmt: skip
    settings = Settings(Path(".env"), {
        "GCP_PROJECT": "lab-project-1", "GCP_REGION": "europe-west1",
        "TF_GCS_BUCKET": "lab-tfstate", "MLFLOW_GCS_BUCKET": "lab-art",
        "MLFLOW_IMAGE": "ghcr.io/mlflow/mlflow:v3.17.2-full@sha256:" + "a" * 64,
    })  # fmt: skip
    tenants = tenants_vars(settings, users, "default", PLATFORM_OUTPUTS)
    (tmp_path / "outputs.tfvars.json").write_text(json.dumps(PLATFORM_OUTPUTS))
    (tmp_path / "tenants.tfvars.json").write_text(json.dumps(tenants))
    terraform.init("cloudrun/tenants")
    result = terraform(
        "cloudrun/tenants", "test", "-no-color", "-test-directory=contract",
        f"-var-file={tmp_path / 'outputs.tfvars.json'}",
        f"-var-file={tmp_path / 'tenants.tfvars.json'}", timeout=900,
    ).check("the cloudrun tenants root with the rendered tfvars")  # fmt: skip
    assert re.search(r"Success! 1 passed, 0 failed", result.out), result.out[-3000:]
