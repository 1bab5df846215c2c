"""A cloudrun lab's data and shared settings, as on gcp: purge deletes exactly the tenant's
artifacts before Terraform, `--delete-data` empties the bucket, apply keeps the project's
IAP programmatic clients and checks the tenants state's health, and destroy offers to stop
the database. Real terraform on the cloudrun fixture roots, real gcs backend and real
google-cloud-storage against fake-gcs-server; Resource Manager and the IAP settings are
local stand-ins (tests/support/google_admin.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import terminal
from tests.support.google_admin import PROJECT_NUMBER
from tests.terraform.conftest import PROJECT, TfLab

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

ARTIFACTS = f"{PROJECT}-mlflow-artifacts"  # init's default, named by the fixture's state
DESKTOP = "desk-123.apps.googleusercontent.com"
OBJECTS = [
    "alice/1/abc/artifacts/model.pkl",
    "alice/2/def/artifacts/data.csv",
    "alice2/1/xyz/artifacts/model.pkl",
    "bob/1/aaa/artifacts/model.pkl",
]


@pytest.fixture
def storage(cr_lab: TfLab, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """google-cloud-storage on fake-gcs-server, with the artifact bucket holding OBJECTS."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", cr_lab.gcs.endpoint)
    with cr_lab.gcs.bucket_holding(ARTIFACTS, OBJECTS, PROJECT) as client:
        yield client


def applied(cr_lab: TfLab) -> TfLab:
    for user in ("alice", "bob"):
        assert cr_lab("add-user", user, "--member", f"{user}@lab.org").code == 0
    result = cr_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    return cr_lab


def of(cr_lab: TfLab, user: str) -> list[str]:
    return [a for a in cr_lab.addresses("cloudrun-tenants") if f'["{user}' in a]


def test_purge_deletes_exactly_the_tenants_objects_before_terraform(
    cr_lab: TfLab, storage: Any
) -> None:
    applied(cr_lab)
    result = cr_lab("remove-user", "alice", "--purge", "--yes")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"Deleted 2 objects (every version) under gs://{ARTIFACTS}/alice/" in lines
    assert lines.index(f"deleting alice's artifacts in gs://{ARTIFACTS}/alice/ ...") < (
        lines.index("planning tenants: delete alice and its data ...")
    )
    assert cr_lab.gcs.objects(ARTIFACTS) == [n for n in OBJECTS if not n.startswith("alice/")]
    assert [a for a in of(cr_lab, "alice") if '["alice"]' in a or '["alice/' in a] == []
    assert len([a for a in of(cr_lab, "bob")]) == 13


def test_purge_refuses_a_bucket_the_settings_and_state_disagree_on(
    cr_lab: TfLab, storage: Any
) -> None:
    applied(cr_lab)
    env_file = cr_lab.path / ".env"
    env_file.write_text(
        env_file.read_text().replace(f"MLFLOW_GCS_BUCKET={ARTIFACTS}", "MLFLOW_GCS_BUCKET=other-b")
    )
    before = cr_lab.addresses("cloudrun-tenants")
    result = cr_lab("remove-user", "alice", "--purge", "--yes")
    assert result.code == 2
    assert result.stderr == (
        "error: the artifact bucket in .env (MLFLOW_GCS_BUCKET) (gs://other-b) is not the one "
        f"environment default's platform state names (gs://{ARTIFACTS}): nothing was "
        "deleted; set it back, or apply first\n"
    )
    assert cr_lab.gcs.objects(ARTIFACTS) == sorted(OBJECTS)
    assert cr_lab.addresses("cloudrun-tenants") == before


def test_apply_allow_lists_the_desktop_client_and_delete_data_releases_it(
    cr_lab: TfLab, storage: Any
) -> None:
    with (cr_lab.path / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write(f"MLFLOWK8S_DESKTOP_CLIENT_ID={DESKTOP}\n")
    cr_lab.google.iap.clients[PROJECT_NUMBER] = ["other-lab.apps.googleusercontent.com"]
    result = applied(cr_lab)("status", "--no-health")
    assert result.code == 0, result.stderr
    assert cr_lab.google.iap.clients[PROJECT_NUMBER] == [
        "other-lab.apps.googleusercontent.com", DESKTOP,
    ]  # fmt: skip
    assert "mlflowk8s/default/iap-programmatic-clients.json" in cr_lab.objects()
    gone = cr_lab("destroy", "--delete-data", "--yes")
    assert gone.code == 0, gone.stderr
    lines = gone.stdout.splitlines()
    assert f"Deleted 4 objects (every version) in gs://{ARTIFACTS}" in lines
    assert lines.index(f"emptying the artifact bucket gs://{ARTIFACTS} ...") < lines.index(
        "planning tenants: remove every tenant and its data ..."
    )
    assert f"IAP no longer accepts tokens of {DESKTOP}" in lines
    assert cr_lab.google.iap.clients[PROJECT_NUMBER] == ["other-lab.apps.googleusercontent.com"]
    assert cr_lab.gcs.objects(ARTIFACTS) == []
    assert "mlflowk8s/default/iap-programmatic-clients.json" not in cr_lab.objects()


def test_a_deleted_tenants_state_stops_the_next_plan(cr_lab: TfLab, storage: Any) -> None:
    applied(cr_lab)
    storage.bucket(cr_lab.bucket).blob(
        "mlflowk8s/default/cloudrun-tenants/default.tfstate"
    ).delete()
    result = cr_lab("plan")
    assert result.code == 1
    assert result.stderr.startswith(
        f"error: the tenants state gs://{cr_lab.bucket}/mlflowk8s/default/cloudrun-tenants/"
        "default.tfstate is missing (deleted), but it held resources before: Terraform would "
        "create them again; nothing was planned or changed; restore"
    )
    seen = json.loads((cr_lab.path / ".mlflowk8s/default/states-seen.json").read_text())
    assert list(seen) == ["cloudrun-tenants"]


def test_destroy_keeping_the_database_running_says_so_in_json(cr_lab: TfLab) -> None:
    applied(cr_lab)
    result = cr_lab("destroy", "--keep-database-running", "--yes", "--json")
    assert result.code == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["delete_data"] is False and done["database_stopped"] is False
    assert done["kept"][0].startswith("Cloud SQL instance mlflow-default-pg, not stopped")
    assert _activation(cr_lab) == "ALWAYS"
    assert of(cr_lab, "alice") and not [a for a in of(cr_lab, "alice") if "service[" in a]
    # Later: stopping it is one more destroy; --yes alone stops it (the documented default).
    again = cr_lab("destroy", "--yes", "--json")
    assert json.loads(again.stdout)["database_stopped"] is True
    assert _activation(cr_lab) == "NEVER"


def test_the_database_options_go_with_destroy_that_keeps_the_data(cr_lab: TfLab) -> None:
    result = cr_lab("destroy", "--delete-data", "--stop-database", "--yes")
    assert result.code == 2
    assert result.stderr == (
        "error: --stop-database goes with destroy that keeps the data: drop --delete-data\n"
    )


def _activation(cr_lab: TfLab) -> str:
    for res in cr_lab.state("cloudrun-platform").get("resources", []):  # type: ignore[union-attr]
        if res["name"] == "sql_instance":
            return str(res["instances"][0]["attributes"]["output"]["value"]["activation_policy"])
    raise AssertionError("no sql_instance in the platform state")


def test_on_a_terminal_destroy_asks_and_no_leaves_the_database_running(cr_lab: TfLab) -> None:
    applied(cr_lab)
    seen = on_terminal(cr_lab, ["destroy"], [
        (f"Type '{PROJECT}' to confirm: ".encode(), f"{PROJECT}\n".encode()),
        (b"starts it again. [Y/n]: ", b"n\n"),
    ])  # fmt: skip
    assert "Stop the Cloud SQL instance too? Stopped, it is billed for its storage and" in seen
    assert "Kept: Cloud SQL instance mlflow-default-pg, not stopped" in seen
    assert "stop the Cloud SQL instance ..." not in seen
    assert _activation(cr_lab) == "ALWAYS"


def on_terminal(cr_lab: TfLab, args: list[str], answers: list[tuple[bytes, bytes]]) -> str:
    """Run the CLI on a pseudo-terminal, answering each prompt as it appears; its output."""
    code, text = terminal.on_terminal(args, cwd=cr_lab.path, env=cr_lab.cli.env, answers=answers)
    assert code == 0, text
    return text
