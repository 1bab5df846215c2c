"""`doctor` in a cloudrun lab: settings, Terraform, the bootstrap APIs and the organization
policy on Cloud SQL public IPs. Google's Service Usage, Resource Manager and token
endpoint are local stand-ins (tests/cloudrun/org_policy_standin.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloudrun.conftest import IMAGE
from tests.cloudrun.org_policy_standin import CloudRunAdminGoogle, cloudrun_admin_google
from tests.conftest import Cli

PROJECT = "lab-project-1"


@pytest.fixture
def google(tmp_path: Path) -> Iterator[CloudRunAdminGoogle]:
    with cloudrun_admin_google(PROJECT, tmp_path) as found:
        yield found


def lab(cli: Cli, google: CloudRunAdminGoogle, image: bool = True) -> dict[str, dict[str, str]]:
    (cli.lab / ".env").write_text(
        f"MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT={PROJECT}\nGCP_REGION=europe-west1\n"
        "TF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
        + (f"MLFLOW_IMAGE={IMAGE}\n" if image else "")
    )
    (cli.lab / "users.yaml").write_text("users: {}\n")
    cli.env.update(google.env)
    result = cli("doctor", "--json")
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def test_a_project_that_allows_public_ips_passes(cli: Cli, google: CloudRunAdminGoogle) -> None:
    checks = lab(cli, google)
    assert checks["settings"]["status"] == "ok"
    assert checks["servers' MLflow"]["status"] == "ok"  # conftest's IMAGE: the official tag
    assert checks["google apis"]["status"] == "ok"
    assert checks["database public IP"] == {
        "name": "database public IP", "status": "ok",
        "detail": f"constraints/sql.restrictPublicIp is not enforced for {PROJECT}",
    }  # fmt: skip
    assert google.policy.asked == [
        (f"/v1/projects/{PROJECT}:getEffectiveOrgPolicy", "constraints/sql.restrictPublicIp")
    ]


def test_an_enforced_policy_fails_and_names_the_way_out(
    cli: Cli, google: CloudRunAdminGoogle
) -> None:
    google.policy.enforced = True
    checks = lab(cli, google)
    check = checks["database public IP"]
    assert check["status"] == "fail"
    assert "is enforced for lab-project-1" in check["detail"]
    assert "exempt lab-project-1" in check["fix"] and "gcp target" in check["fix"]
    assert cli("doctor").code == 1


def test_no_permission_to_read_policies_is_a_warning(cli: Cli, google: CloudRunAdminGoogle) -> None:
    google.policy.enforced = None
    assert lab(cli, google)["database public IP"]["status"] == "warn"


def test_a_missing_image_fails_the_settings(cli: Cli, google: CloudRunAdminGoogle) -> None:
    check = lab(cli, google, image=False)["settings"]
    assert check["status"] == "fail"
    assert check["detail"] == "missing in .env: MLFLOW_IMAGE"
