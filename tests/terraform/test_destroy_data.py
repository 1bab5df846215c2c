"""Deleting data on gcp: purge and `destroy --delete-data` delete the artifacts themselves,
only from this environment's bucket, clean the project's IAP settings and remove the VPC's
servicenetworking peering. Real terraform on the fixture roots, real gcs backend and real
google-cloud-storage against fake-gcs-server; Resource Manager, IAP settings and Compute
are local stand-ins (tests/support/google_admin.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.google_admin import PROJECT_NUMBER
from tests.terraform.conftest import TfLab

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

ARTIFACTS = "lab-artifacts"
DESKTOP = "desk-123.apps.googleusercontent.com"
OBJECTS = [
    "alice/1/abc/artifacts/model.pkl",
    "alice/1/abc/artifacts/plot.png",
    "alice/2/def/artifacts/data.csv",
    "alice2/1/xyz/artifacts/model.pkl",
    "bob/1/aaa/artifacts/model.pkl",
    "shared-notes.txt",
]
PEERING = "servicenetworking-googleapis-com"


@pytest.fixture
def storage(tf_lab: TfLab, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """google-cloud-storage on fake-gcs-server, with the artifact bucket holding OBJECTS."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", tf_lab.gcs.endpoint)
    with tf_lab.gcs.bucket_holding(ARTIFACTS, OBJECTS, "lab-project-1") as client:
        yield client


def applied(tf_lab: TfLab) -> TfLab:
    for user in ("alice", "bob"):
        assert tf_lab("add-user", user, "--member", f"{user}@lab.org").code == 0
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    return tf_lab


def test_purge_deletes_exactly_the_tenants_objects(tf_lab: TfLab, storage: object) -> None:
    applied(tf_lab)
    result = tf_lab("remove-user", "alice", "--purge", "--yes")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Deleted 3 objects (every version) under gs://lab-artifacts/alice/" in lines
    assert lines.index("deleting alice's artifacts in gs://lab-artifacts/alice/ ...") < (
        lines.index("planning tenants: delete alice and its data ...")
    )
    assert lines[-1] == "Purged user alice and its data."
    assert tf_lab.gcs.objects(ARTIFACTS) == [n for n in OBJECTS if not n.startswith("alice/")]
    assert not [a for a in tf_lab.addresses("tenants") if a.startswith('module.tenant["alice"]')]


def test_purge_after_a_failed_terraform_step_says_what_is_left_and_runs_again(
    tf_lab: TfLab, storage: object
) -> None:
    applied(tf_lab)
    # Another run holds the tenants state's lock: the artifacts go, Terraform cannot start.
    lock = storage.bucket(tf_lab.bucket).blob("mlflowk8s/default/tenants/default.tflock")  # type: ignore[attr-defined]
    lock.upload_from_string(json.dumps({
        "ID": "1b2c3d4e-0000-0000-0000-000000000000", "Operation": "OperationTypeApply",
        "Info": "", "Who": "admin@lab", "Version": "1.11.0",
        "Created": "2026-12-01T12:00:00Z", "Path": "mlflowk8s/default/tenants/default.tflock",
    }))  # fmt: skip
    failed = tf_lab("remove-user", "alice", "--purge", "--yes")
    assert failed.code == 1
    assert (
        "alice: its artifacts are deleted; what Terraform did not remove (server, database, "
        "database user, managed folder) is left: run `mlflowk8s remove-user alice --purge` again"
    ) in failed.stdout.splitlines()
    assert "alice" in tf_lab("users").stdout  # still listed
    assert 'module.tenant["alice"].terraform_data.database' in tf_lab.addresses("tenants")
    lock.delete()
    again = tf_lab("remove-user", "alice", "--purge", "--yes")
    assert again.code == 0, again.stderr
    assert "Deleted 0 objects (every version) under gs://lab-artifacts/alice/" in again.stdout
    assert tf_lab.gcs.objects(ARTIFACTS) == [n for n in OBJECTS if not n.startswith("alice/")]


def test_delete_data_empties_the_bucket_cleans_iap_and_unpeers_the_vpc(
    tf_lab: TfLab, storage: object
) -> None:
    with (tf_lab.path / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write(f"MLFLOWK8S_DESKTOP_CLIENT_ID={DESKTOP}\n")
    # Another lab's client in the project's IAP settings: not this environment's to remove.
    tf_lab.google.iap.clients[PROJECT_NUMBER] = ["other-lab.apps.googleusercontent.com"]
    applied(tf_lab)
    assert tf_lab.google.iap.clients[PROJECT_NUMBER] == [
        "other-lab.apps.googleusercontent.com", DESKTOP,
    ]  # fmt: skip
    assert tf_lab.addresses("platform")  # the state names the bucket
    network = tf_lab.google.compute.peer(
        "mlflow-default", PEERING, tf_lab.counter.parent / "vpc-peered", refusals=2
    )
    result = tf_lab("destroy", "--delete-data", "--yes")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Deleted 6 objects (every version) in gs://lab-artifacts" in lines
    assert lines.index("emptying the artifact bucket gs://lab-artifacts ...") < lines.index(
        "planning tenants: remove every tenant and its data ..."
    )
    assert (
        f"VPC mlflow-default is still peered with {PEERING} (left by the database's "
        "networking connection): removing the peering"
    ) in lines
    assert f"Removed the {PEERING} peering of VPC mlflow-default" in lines
    assert network.attempts == 3  # refused twice while producer resources were held
    assert f"IAP no longer accepts tokens of {DESKTOP}" in lines
    assert lines[-1] == "Destroyed."
    assert tf_lab.gcs.objects(ARTIFACTS) == []
    assert (tf_lab.addresses("platform"), tf_lab.addresses("tenants")) == ([], [])
    assert tf_lab.google.iap.clients[PROJECT_NUMBER] == ["other-lab.apps.googleusercontent.com"]
    assert "mlflowk8s/default/iap-programmatic-clients.json" not in tf_lab.objects()


def test_delete_data_keeps_the_vpc_when_google_keeps_the_peering(
    tf_lab: TfLab, storage: object
) -> None:
    applied(tf_lab)
    tf_lab.cli.env["MLFLOWK8S_PEERING_WAIT_SECONDS"] = "1"
    tf_lab.google.compute.peer(
        "mlflow-default", PEERING, tf_lab.counter.parent / "vpc-peered", refusals=10**6
    )
    result = tf_lab("destroy", "--delete-data", "--yes")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "Kept: VPC mlflow-default and its Private Service Access range (no cost): Google "
        f"still holds the {PEERING} peering after 0.0166667 min; run "
        "`mlflowk8s destroy --delete-data` later to remove them",
        "Destroyed.",
    ]
    assert tf_lab.addresses("platform") == ["terraform_data.network"]
    assert tf_lab.gcs.objects(ARTIFACTS) == []
    # Later, once Google lets go, the same command finishes the job.
    tf_lab.google.compute.networks["mlflow-default"].refusals = 0
    again = tf_lab("destroy", "--delete-data", "--yes")
    assert again.code == 0, again.stderr
    assert tf_lab.addresses("platform") == []


def test_delete_data_refuses_a_bucket_the_settings_and_state_disagree_on(
    tf_lab: TfLab, storage: object
) -> None:
    applied(tf_lab)
    env_file = tf_lab.path / ".env"
    env_file.write_text(
        env_file.read_text().replace(f"MLFLOW_GCS_BUCKET={ARTIFACTS}", "MLFLOW_GCS_BUCKET=other-b")
    )
    platform, tenants = tf_lab.addresses("platform"), tf_lab.addresses("tenants")
    result = tf_lab("destroy", "--delete-data", "--yes")
    assert result.code == 2
    assert result.stderr == (
        "error: the artifact bucket in .env (MLFLOW_GCS_BUCKET) (gs://other-b) is not the one "
        "environment default's platform state names (gs://lab-artifacts): nothing was "
        "deleted; set it back, or apply first\n"
    )
    assert tf_lab.gcs.objects(ARTIFACTS) == sorted(OBJECTS)
    assert (tf_lab.addresses("platform"), tf_lab.addresses("tenants")) == (platform, tenants)


def test_an_environment_does_not_wipe_a_bucket_another_environment_names(
    tf_lab: TfLab, storage: object
) -> None:
    applied(tf_lab)
    # Same lab, same settings: staging's state names the same bucket.
    staging = tf_lab("--env", "staging", "apply", "--yes")
    assert staging.code == 0, staging.stderr
    for args in (("destroy", "--delete-data", "--yes"), ("remove-user", "bob", "--purge", "-y")):
        result = tf_lab(*args)
        assert result.code == 2, result.stdout
        assert result.stderr == (
            "error: gs://lab-artifacts is also named by the platform state of environment "
            "staging: nothing was deleted\n"
        )
    assert tf_lab.gcs.objects(ARTIFACTS) == sorted(OBJECTS)
    assert 'module.tenant["bob"].terraform_data.database' in tf_lab.addresses("tenants")
