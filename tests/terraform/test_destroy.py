"""destroy: guarded, keeps the lab's data and address by default, --delete-data removes all."""

from __future__ import annotations

import json

import pytest

from tests.terraform.conftest import TfLab

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

KEPT = [
    "network and Cloud NAT",
    "Cloud SQL instance mlflow-default-pg, stopped (every tenant's database and database "
    "user; storage and backups are still billed; `mlflowk8s apply` starts it again)",
    "artifact bucket gs://lab-artifacts (every tenant's folder)",
    "static IP mlflow-default-ip (203.0.113.10)",
    "certificate map mlflow-default-certmap and DNS records",
]


def applied_lab(tf_lab: TfLab) -> TfLab:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab("add-user", "bob", "--member", "bob@lab.org")
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    return tf_lab


def test_destroy_without_confirmation_changes_nothing(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    platform, tenants = tf_lab.addresses("platform"), tf_lab.addresses("tenants")
    for args in (["destroy"], ["destroy", "--delete-data"]):
        result = tf_lab(*args)
        assert result.code == 2
        assert result.stderr == (
            f"error: {' '.join(args)} needs confirmation: run it on a terminal or pass --yes\n"
        )
    assert (tf_lab.addresses("platform"), tf_lab.addresses("tenants")) == (platform, tenants)


def test_destroy_retires_tenants_removes_the_cluster_and_keeps_the_data(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    result = tf_lab("destroy", "--yes")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Servers go; databases, artifacts and addresses stay."
    assert lines[-6:] == [f"Kept: {item}" for item in KEPT] + ["Destroyed."]
    assert tf_lab.addresses("platform") == sorted([
        "terraform_data.network",
        'module.cloudsql.terraform_data.piece["instance"]',
        'module.artifact_store.terraform_data.piece["bucket"]',
        'module.iap_ingress.terraform_data.piece["certificate"]',
        'module.iap_ingress.terraform_data.piece["certificate_map"]',
        'module.iap_ingress.terraform_data.piece["ip"]',
    ])  # fmt: skip
    # Every tenant retired: data stays, servers, routes, access and the Gateway go.
    kept = [
        f'module.tenant["{user}"].terraform_data.{name}'
        for user in ("alice", "bob")
        for name in ("database", "managed_folder", "service_account")
    ]
    assert tf_lab.addresses("tenants") == [
        *kept,
        "terraform_data.cluster_connection",
        "terraform_data.oauth_secret",
    ]
    # users.yaml still lists them as active: the next apply brings the lab back. Its plan
    # cannot plan the tenants (no cluster to ask): apply plans them after the platform.
    plan = tf_lab("plan")
    assert plan.code == 0, plan.stderr
    assert plan.stdout.splitlines()[1] == (
        "tenants: not planned: Resource precondition failed: Get "
        '"https://10.0.0.2/api": dial tcp 10.0.0.2:443: connect: connection refused '
        "(apply plans them after applying the platform's changes and asks again before "
        "changing or deleting any)"
    )
    again = tf_lab("apply", "--yes")
    assert again.code == 0, again.stderr
    assert 'module.gke.terraform_data.piece["cluster"]' in tf_lab.addresses("platform")
    assert 'module.tenant["alice"].terraform_data.deployment[0]' in tf_lab.addresses("tenants")


def test_destroy_delete_data_removes_everything(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    result = tf_lab("destroy", "--delete-data", "--yes")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "This deletes ALL the lab's data."
    assert lines[-1] == "Destroyed."
    assert not [line for line in lines if line.startswith("Kept:")]
    assert tf_lab.addresses("platform") == []
    assert tf_lab.addresses("tenants") == []
    assert not (tf_lab.path / ".mlflowk8s/default/platform-outputs.tfvars.json").exists()
    status = tf_lab("status")
    assert status.stdout.splitlines()[-1] == "platform: not created yet (run `mlflowk8s apply`)"


def test_destroy_before_anything_exists_does_nothing(tf_lab: TfLab) -> None:
    result = tf_lab("destroy", "--yes")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["No cluster to remove.", "Destroyed."]
    assert tf_lab.objects() == ["mlflowk8s/default/platform/default.tfstate"]


def test_delete_data_after_destroy_removes_what_was_kept(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    first = tf_lab("destroy", "--yes")
    assert first.code == 0, first.stderr
    assert first.stdout.splitlines()[1:7] == [
        "planning tenants: retire every tenant ...",
        "applying tenants: retire every tenant ...",
        "planning platform: lift the cluster's deletion protection ...",
        "applying platform: lift the cluster's deletion protection ...",
        "planning platform: remove the cluster ...",
        "applying platform: remove the cluster ...",
    ]
    result = tf_lab("destroy", "--delete-data", "--yes")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[1:9] == [
        "emptying the artifact bucket gs://lab-artifacts ...",
        "Deleted 0 objects (every version) in gs://lab-artifacts",
        "planning tenants: remove every tenant and its data ...",
        "applying tenants: remove every tenant and its data ...",
        "planning platform: lift deletion protection ...",
        "applying platform: lift deletion protection ...",
        "planning platform: remove everything ...",
        "applying platform: remove everything ...",
    ]
    assert (tf_lab.addresses("platform"), tf_lab.addresses("tenants")) == ([], [])


def test_destroy_stops_the_database_by_a_targeted_plan_and_apply_starts_it(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    result = tf_lab("destroy", "--yes", "--json")
    assert result.code == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["delete_data"], done["database_stopped"]) == (False, True)
    assert done["kept"] == KEPT
    assert _database(tf_lab) == {"activation_policy": "NEVER", "deletion_protection": True}
    # Only the instance changed: the cluster is not brought back by the stop.
    assert 'module.gke.terraform_data.piece["cluster"]' not in tf_lab.addresses("platform")
    # The next apply renders the default (ALWAYS): the instance runs again.
    platform = json.loads(tf_lab("render", "--json").stdout)["platform"]
    assert "cloudsql_activation_policy" not in platform
    again = tf_lab("apply", "--yes")
    assert again.code == 0, again.stderr
    assert _database(tf_lab)["activation_policy"] == "ALWAYS"


def test_destroy_can_leave_the_database_running(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    result = tf_lab("destroy", "--keep-database-running", "--yes")
    assert result.code == 0, result.stderr
    assert (
        "Kept: Cloud SQL instance mlflow-default-pg, not stopped (every tenant's database and "
        "database user; billed while it runs: `mlflowk8s destroy --stop-database` stops it)"
    ) in result.stdout.splitlines()
    assert "stop the Cloud SQL instance" not in result.stdout
    assert _database(tf_lab)["activation_policy"] == "ALWAYS"


def _database(tf_lab: TfLab) -> dict[str, object]:
    for res in tf_lab.state("platform").get("resources", []):  # type: ignore[union-attr]
        if res.get("module") == "module.cloudsql" and res["type"] == "terraform_data":
            value = res["instances"][0]["attributes"]["input"]["value"]
            return {"activation_policy": value["held"]["activation_policy"],
                    "deletion_protection": value["deletion_protection"]}  # fmt: skip
    raise AssertionError("no Cloud SQL instance in the platform state")
