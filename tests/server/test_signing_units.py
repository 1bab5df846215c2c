"""The launcher's keyless signing, piece by piece: which object names it signs, the signBlob
call (against the IAM Credentials stand-in, tests/support/google_signing.py), and the one
path to a signature in the repository."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from mlflowk8s import launcher
from tests.support.google_signing import Google

ALICE_SA = "mlf-alice-1a2b@standin-project.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("name", "inside"),
    [
        ("alice/1/r/artifacts/model.bin", True),
        ("alice/m.bin", True),
        ("alice", False),
        ("alice/", False),
        ("alicex/m.bin", False),
        ("bob/m.bin", False),
        ("alice/../bob/m.bin", False),
        ("alice/1/r/artifacts/..", False),
        ("alice/./m.bin", False),
        ("alice//m.bin", False),
        ("alice/m\\..\\..\\bob", False),
        ("alice/m\nbin", False),
    ],
)
def test_only_objects_strictly_under_the_tenants_root_are_signed(name: str, inside: bool) -> None:
    assert launcher.object_in_root(name, "alice") is inside


def test_an_empty_root_admits_nothing() -> None:
    assert not launcher.object_in_root("bob/m.bin", "")


@pytest.fixture
def google() -> Iterator[Google]:
    stand_in = Google(ALICE_SA).start()
    yield stand_in
    stand_in.stop()


def _token(google: Google) -> str:
    google.tokens.add("ya29.unit")
    return "ya29.unit"


def test_sign_blob_returns_the_accounts_signature(google: Google) -> None:
    signature = launcher.sign_blob(google.endpoint, ALICE_SA, _token(google), b"to sign")
    assert google.verify(b"to sign", signature)


def test_sign_blob_as_another_account_names_the_missing_role(google: Google) -> None:
    other = "mlf-bob-9z9z@standin-project.iam.gserviceaccount.com"
    with pytest.raises(launcher.SigningError) as refused:
        launcher.sign_blob(google.endpoint, other, _token(google), b"to sign")
    message = str(refused.value)
    assert message.startswith(f"signBlob as {other} failed (403)")
    assert "roles/iam.serviceAccountTokenCreator" in message
    assert "ya29.unit" not in message
    assert google.refused == [f"not the caller's own account: {other}"]


class _LocalSigner:
    """What the repository needs of a signer, signing through the stand-in's key."""

    def __init__(self, google: Google) -> None:
        self.google = google
        self.calls = 0

    def email(self) -> str:
        return ALICE_SA

    def sign(self, payload: bytes) -> bytes:
        self.calls += 1
        return launcher.sign_blob(self.google.endpoint, ALICE_SA, _token(self.google), payload)


@pytest.fixture
def repository(google: Google, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, _LocalSigner]:
    pytest.importorskip("google.cloud.storage")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # no call reaches it
    signer = _LocalSigner(google)
    return launcher.signing_repository("gs://lab-artifacts/alice", signer), signer  # type: ignore[arg-type]


def test_the_repository_signs_one_object_of_the_tenant_v4(repository: tuple[Any, Any]) -> None:
    repo, signer = repository
    blob = repo._get_bucket("lab-artifacts").blob("alice/1/r/artifacts/m.bin")
    url = repo._signed_url(blob, "PUT", datetime.timedelta(minutes=5))
    assert url.startswith("http://127.0.0.1:9/lab-artifacts/alice/1/r/artifacts/m.bin?")
    assert "X-Goog-Algorithm=GOOG4-RSA-SHA256" in url and "X-Goog-Expires=300" in url
    assert "mlf-alice-1a2b%40standin-project.iam.gserviceaccount.com" in url
    assert signer.calls == 1


@pytest.mark.parametrize("name", ["bob/m.bin", "alicex/m.bin", "alice/../bob/m.bin"])
def test_the_repository_refuses_to_sign_outside_the_tenant(
    repository: tuple[Any, Any], name: str
) -> None:
    from mlflow.exceptions import MlflowException

    repo, signer = repository
    blob = repo._get_bucket("lab-artifacts").blob(name)
    with pytest.raises(MlflowException, match="not an object under this tenant's artifacts"):
        repo._signed_url(blob, "GET", datetime.timedelta(minutes=5))
    assert signer.calls == 0


def test_signing_is_installed_for_a_gs_destination_only(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("google.cloud.storage")
    import mlflow.server.handlers as handlers

    monkeypatch.setattr(handlers, "_artifact_repo", None)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")
    local = {launcher.ENV_SERVE_ARTIFACTS: "true", launcher.ENV_ARTIFACTS_DESTINATION: "/data/a"}
    assert launcher.install_signing(local, {}) is False
    assert handlers._artifact_repo is None
    gcs = {launcher.ENV_SERVE_ARTIFACTS: "true",
           launcher.ENV_ARTIFACTS_DESTINATION: "gs://lab-artifacts/alice"}  # fmt: skip
    assert launcher.install_signing(gcs, {}) is True
    repo = handlers._get_artifact_repo_mlflow_artifacts()
    assert repo.artifact_uri == "gs://lab-artifacts/alice"
    assert type(repo).__name__ == "SigningGcsRepository"
