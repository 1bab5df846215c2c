"""google/iap_settings.py: the project's IAP allow-list, shared by the environments of a
lab. Real google-cloud-storage against fake-gcs-server for the records; IAP settings and
Resource Manager are local stand-ins (tests/support/google_admin.py) behind a stand-in
token endpoint."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflowk8s.google import iap_settings
from mlflowk8s.google_api import project_number
from tests.support.fakegcs import FakeGcs
from tests.support.google_admin import IAP_MASK, PROJECT_NUMBER
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


def new_bucket(gcs: Any) -> str:
    return str(gcs.create_bucket(f"tfs-{uuid.uuid4().hex[:10]}").name)


def sync(gcs: Any, state: str, env_name: str, wanted: list[str]) -> iap_settings.IapChange:
    return iap_settings.sync_programmatic_clients(
        storage=gcs, state_bucket=state, env_name=env_name, project_number=PROJECT_NUMBER,
        wanted=wanted, env=os.environ,
    )  # fmt: skip


def test_environments_share_the_projects_allow_list(gcs: Any, google: AdminGoogle) -> None:
    state = new_bucket(gcs)
    iap = google.iap
    iap.clients[PROJECT_NUMBER] = ["not-ours.apps"]
    assert project_number(PROJECT, google.env) == PROJECT_NUMBER
    first = sync(gcs, state, "default", ["a.apps", "desk.apps"])
    assert first.added == ["a.apps", "desk.apps"]
    sync(gcs, state, "staging", ["desk.apps", "b.apps"])
    assert iap.clients[PROJECT_NUMBER] == ["not-ours.apps", "a.apps", "desk.apps", "b.apps"]
    assert {p["project"] for p in iap.patches} == {PROJECT_NUMBER}  # mask checked there
    # The default environment goes: its own id leaves, the shared one stays for staging.
    gone = sync(gcs, state, "default", [])
    assert (gone.removed, gone.kept_for) == (["a.apps"], {"desk.apps": ["staging"]})
    assert iap.clients[PROJECT_NUMBER] == ["not-ours.apps", "desk.apps", "b.apps"]
    assert sorted(b.name for b in gcs.list_blobs(state)) == [
        "mlflowk8s/staging/iap-programmatic-clients.json"
    ]
    sync(gcs, state, "staging", [])
    assert iap.clients[PROJECT_NUMBER] == ["not-ours.apps"]
    assert list(gcs.list_blobs(state)) == []


def test_a_changed_client_replaces_the_old_one_and_no_change_writes_nothing(
    gcs: Any, google: AdminGoogle
) -> None:
    state = new_bucket(gcs)
    sync(gcs, state, "default", ["old.apps"])
    change = sync(gcs, state, "default", ["new.apps"])
    assert (change.added, change.removed) == (["new.apps"], ["old.apps"])
    assert google.iap.clients[PROJECT_NUMBER] == ["new.apps"]
    patches = len(google.iap.patches)
    sync(gcs, state, "default", ["new.apps"])
    assert len(google.iap.patches) == patches
    assert iap_settings.recorded_project(gcs, state, "default") == PROJECT_NUMBER
    assert iap_settings.FIELD_MASK == IAP_MASK
