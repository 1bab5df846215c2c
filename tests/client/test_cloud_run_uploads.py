"""Large uploads to a Cloud Run tenant: refused by the auth object before they are sent (Cloud
Run answers a bare 413 to request bodies over 32 MiB), with the variables that avoid it.

Real MLflow client code, in process; nothing listens on the Cloud Run host: a request that
got past the auth object would fail to connect instead of naming the variables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from mlflowk8s import mlflow_plugin

pytest.importorskip("mlflow")

RUN = "alice-123456789.europe-west1.run.app"
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def researcher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.upper().startswith(("MLFLOW_", "MLFLOWK8S_", "GOOGLE_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "mlflowk8s")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"https://{RUN}/")
    monkeypatch.setattr(mlflow_plugin, "_report", mlflow_plugin._Reporter())


def _put(url: str, size: int) -> requests.PreparedRequest:
    request = requests.Request("PUT", url, data=b"", headers={"Content-Length": str(size)})
    prepared = request.prepare()
    prepared.headers["Content-Length"] = str(size)  # as for a file object of that size
    return prepared


def test_a_proxied_upload_over_32_mib_to_cloud_run_names_the_multipart_variables(
    tmp_path: Path,
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    model = tmp_path / "model.bin"
    with model.open("wb") as out:
        out.truncate(33 * MIB)
    repo = HttpArtifactRepository(f"https://{RUN}/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts")
    with pytest.raises(MlflowException) as raised:
        repo.log_artifact(str(model))
    message = str(raised.value)
    assert f"PUT of 33.0 MiB to {RUN}: Cloud Run refuses request bodies over 32 MiB" in message
    assert "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true" in message
    assert "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=16777216" in message
    assert "413" not in message


@pytest.mark.parametrize(
    ("url", "size", "refused"),
    [
        (f"https://{RUN}/api/2.0/mlflow-artifacts/artifacts/m.bin", 32 * MIB, False),
        (f"https://{RUN}/api/2.0/mlflow-artifacts/artifacts/m.bin", 32 * MIB + 1, True),
        (f"https://{RUN.upper()}/x", 40 * MIB, True),
        ("https://mlflow.lab.org/alice/api/2.0/mlflow-artifacts/artifacts/m.bin", 100 * MIB, False),
        ("https://storage.googleapis.com/b/alice/m.bin?partNumber=1&uploadId=u", 100 * MIB, False),
        ("https://run.app.example.org/x", 100 * MIB, False),
    ],
)
def test_only_bodies_cloud_run_would_refuse_are_refused(url: str, size: int, refused: bool) -> None:
    assert (mlflow_plugin.body_too_large(_put(url, size)) is not None) is refused


def test_signed_storage_urls_get_no_token_from_the_auth_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOWK8S_TOKEN_HOSTS", RUN)
    part = _put(
        "https://storage.googleapis.com/lab-artifacts/alice/1/r/artifacts/m.bin"
        "?partNumber=1&uploadId=u&X-Goog-Signature=00",
        16 * MIB,
    )
    sent = mlflow_plugin.IAPAuth()(part)
    assert not {"authorization", "proxy-authorization"} & {h.lower() for h in sent.headers}
