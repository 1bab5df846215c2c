"""google/: artifacts deleted by exact prefix, the VPC's peering removed with retries.
Real google-cloud-storage against fake-gcs-server; Compute is a local stand-in
(tests/support/google_admin.py) behind a stand-in token endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflowk8s.errors import UsageError
from mlflowk8s.google import artifacts, network
from mlflowk8s.progress import QuietProgress
from tests.support.fakegcs import FakeGcs
from tests.support.iap_standin import AdminGoogle, admin_google

PROJECT = "lab-project-1"


@pytest.fixture
def google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdminGoogle]:
    with admin_google(PROJECT, tmp_path) as apis:
        for key, value in apis.env.items():
            monkeypatch.setenv(key, value)
        yield apis


@pytest.fixture
def gcs(fake_gcs: FakeGcs, monkeypatch: pytest.MonkeyPatch) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.endpoint)
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials())


def new_bucket(gcs: Any, names: list[str]) -> str:
    bucket = gcs.create_bucket(f"art-{uuid.uuid4().hex[:10]}")
    for name in names:
        bucket.blob(name).upload_from_string(name)
    return str(bucket.name)


class Advances(QuietProgress):
    def __init__(self) -> None:
        super().__init__()
        self.advances: list[tuple[int, int]] = []

    def advance(self, done: int, total: int, current: str) -> None:
        self.advances.append((done, total))


# -- artifacts -------------------------------------------------------------------------


def test_a_tenants_artifacts_are_exactly_its_prefix(gcs: Any) -> None:
    names = ["alice/a", "alice/b/c", "alice2/a", "alicex", "bob/alice/a", "al/ice"]
    bucket = new_bucket(gcs, names)
    progress = QuietProgress()
    assert artifacts.delete_tenant_artifacts(gcs, bucket, "alice", progress) == 2
    assert sorted(b.name for b in gcs.list_blobs(bucket)) == [
        "al/ice", "alice2/a", "alicex", "bob/alice/a",
    ]  # fmt: skip
    assert progress.notes == [f"Deleted 2 objects (every version) under gs://{bucket}/alice/"]
    # Run again (after a failure half-way, say): nothing left to delete, nothing else goes.
    assert artifacts.delete_tenant_artifacts(gcs, bucket, "alice", QuietProgress()) == 0
    assert len(list(gcs.list_blobs(bucket))) == 4


@pytest.mark.parametrize("name", ["", "a/b", "alice/"])
def test_a_prefix_is_never_wider_than_one_tenant(name: str) -> None:
    with pytest.raises(UsageError, match="not a tenant name"):
        artifacts.tenant_prefix(name)


def test_emptying_a_bucket_deletes_in_chunks_with_progress(gcs: Any) -> None:
    bucket = new_bucket(gcs, [f"t{i % 3}/obj-{i:03d}" for i in range(230)])
    progress = Advances()
    assert artifacts.empty_bucket(gcs, bucket, progress) == 230
    assert progress.advances == [(100, 230), (200, 230), (230, 230)]
    assert list(gcs.list_blobs(bucket)) == []


def test_a_missing_bucket_has_nothing_to_delete(gcs: Any) -> None:
    assert artifacts.empty_bucket(gcs, f"gone-{uuid.uuid4().hex[:8]}", QuietProgress()) == 0


class SoftDeleting:
    """Stands in for Cloud Storage's bucket metadata (fake-gcs-server has no soft delete)."""

    def __init__(self, seconds: int | None) -> None:
        from types import SimpleNamespace

        policy = SimpleNamespace(retention_duration_seconds=seconds)
        self.bucket = SimpleNamespace(soft_delete_policy=policy)

    def get_bucket(self, name: str) -> Any:
        return self.bucket


def test_soft_delete_is_said_when_the_bucket_keeps_deleted_objects() -> None:
    assert artifacts.soft_delete_note(SoftDeleting(604800), "b") == (
        "gs://b has soft delete on: Cloud Storage keeps the deleted objects for 7 days "
        "(restorable, and billed) before they are gone"
    )
    assert artifacts.soft_delete_note(SoftDeleting(0), "b") is None
    assert artifacts.soft_delete_note(SoftDeleting(None), "b") is None


def test_a_bucket_is_ours_only_when_settings_and_state_agree_and_no_one_else_names_it() -> None:
    def check(state: str | None, settings: str | None, others: dict[str, str]) -> str:
        return artifacts.check_bucket_is_ours(
            state, settings_bucket=settings, settings_where=".env", env="default", others=others
        )

    assert check("b1", "b1", {"staging": "b2"}) == "b1"
    with pytest.raises(UsageError, match=r"^the artifact bucket in \.env \(gs://b2\) is not"):
        check("b1", "b2", {})
    with pytest.raises(UsageError, match=r"environment staging, test: nothing was deleted$"):
        check("b1", "b1", {"test": "b1", "staging": "b1", "prod": "b3"})
    with pytest.raises(UsageError, match="names no artifact bucket"):
        check(None, "b1", {})


# -- network ---------------------------------------------------------------------------


def test_the_peering_is_removed_once_google_lets_go(
    google: AdminGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(network.WAIT_ENV, "30")
    marker = tmp_path / "peered"
    vpc = google.compute.peer("mlflow-x", network.SERVICE_NETWORKING_PEERING, marker, refusals=2)
    progress = Advances()
    assert network.remove_service_networking_peering(PROJECT, "mlflow-x", progress)
    assert (vpc.attempts, vpc.peerings, marker.exists()) == (3, [], False)
    assert progress.advances == [(1, 0), (2, 0)]
    # Nothing to remove: no call at all.
    assert network.remove_service_networking_peering(PROJECT, "mlflow-x", QuietProgress())
    assert network.remove_service_networking_peering(PROJECT, "no-such-vpc", QuietProgress())
    assert vpc.attempts == 3


def test_the_peering_left_in_place_after_the_wait_is_said(
    google: AdminGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(network.WAIT_ENV, "0.5")
    google.compute.peer("mlflow-x", network.SERVICE_NETWORKING_PEERING, tmp_path / "p", 10**6)
    progress = QuietProgress()
    assert not network.remove_service_networking_peering(PROJECT, "mlflow-x", progress)
    assert progress.notes[-1].startswith(
        f"The {network.SERVICE_NETWORKING_PEERING} peering of VPC mlflow-x is still refused after "
    )
    assert progress.notes[-1].endswith("Producer services (e.g. CloudSQL, Cloud Memstore, etc.) "
                                       "are still using this connection.")  # fmt: skip


@pytest.mark.parametrize("value", ["-1", "soon", "90000"])
def test_a_bad_wait_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match=network.WAIT_ENV):
        network.wait_seconds({network.WAIT_ENV: value})
