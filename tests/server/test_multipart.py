"""Model files of any size through a Cloud Run tenant, keylessly signed.

Real: the tenant's server (the launcher in its ``python -c`` form, with server.py's Cloud Run
flags), MLflow's client (in this process, with what ``mlflowk8s env`` exports), fake-gcs-server
as the bucket. Stand-ins (tests/support): Cloud Run's front end (413 over 32 MiB), the
metadata server and IAM Credentials ``signBlob`` (a local RSA key), and Cloud Storage's XML
multipart API with V4 signature checks in front of fake-gcs-server, which has neither.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlflowk8s import launcher, server
from mlflowk8s.auth.hosts import lab_exports
from tests.server.support import free_port, launched, server_env, wait_status
from tests.support import fakegcs
from tests.support.cloudrun_front import CloudRunFront
from tests.support.google_signing import Google, StorageGate

pytestmark = pytest.mark.slow

BUCKET = "lab-artifacts"
RUN_HOST = "alice-123456789.europe-west1.run.app"
ALICE_SA = "mlf-alice-1a2b@standin-project.iam.gserviceaccount.com"
MIB = 1024 * 1024
ARTIFACT_SIZE = 100 * MIB
# The tenant's peak RSS may grow by less than half the artifact while it goes up and down:
# a proxied transfer would hold all of it (upload buffered, download staged in /tmp).
RSS_GROWTH_LIMIT = ARTIFACT_SIZE // 2


@dataclass
class Tenant:
    pid: int
    front: CloudRunFront
    google: Google
    gate: StorageGate
    gcs: fakegcs.FakeGcs
    port: int


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def cloud_run_launcher(port: int) -> tuple[list[str], dict[str, str]]:
    """server.py's Cloud Run command for alice, on a free port and with this interpreter."""
    target = server.CloudRunTarget(service_host=RUN_HOST, artifact_bucket=BUCKET)
    command = server.launcher_command("alice", target)
    argv = list(command.argv)
    assert argv[:2] == ["python", "-c"]
    argv[0] = sys.executable
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    return argv, command.env


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    work = tmp_path_factory.mktemp("cloudrun-alice")
    gcs = fakegcs.start(work / "gcs.log")
    google = Google(ALICE_SA).start()
    gate = StorageGate(google, ("127.0.0.1", gcs.port)).start()
    request = urllib.request.Request(
        f"{gcs.endpoint}/storage/v1/b?project=standin-project",
        data=json.dumps({"name": BUCKET}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).close()
    port = free_port()
    argv, env = cloud_run_launcher(port)
    env = server_env(
        **env, **google.env(), **gate.env(),
        MLFLOW_BACKEND_STORE_URI=f"sqlite:///{work / 'mlflow.db'}",
        CLOUDSDK_CONFIG=str(work / "gcloud"),  # no admin's application-default login
        NO_PROXY="127.0.0.1",
    )  # fmt: skip
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    env.pop("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", None)  # sqlite here, not Cloud SQL
    env.pop("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", None)
    front = CloudRunFront(("127.0.0.1", port)).start()
    try:
        with launched(argv, env, work / "server.log") as proc:
            wait_status(f"http://127.0.0.1:{port}{launcher.READY_SUFFIX}", 200, proc)
            yield Tenant(proc.pid, front, google, gate, gcs, port)
    finally:
        front.stop()
        gate.stop()
        google.stop()
        gcs.stop()


@pytest.fixture
def client_env(monkeypatch: pytest.MonkeyPatch, tenant: Tenant) -> str:
    """The researcher's process: what ``mlflowk8s env`` exports for multipart, the front's URL."""
    for key in list(os.environ):
        if key.startswith(("MLFLOW_", "_MLFLOW_", "MLFLOWK8S_", "STORAGE_EMULATOR")):
            monkeypatch.delenv(key)
    exports = lab_exports(f"https://{RUN_HOST}/", None)
    for key in ("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE",
                "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"):  # fmt: skip
        monkeypatch.setenv(key, exports[key])
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tenant.front.url)
    return tenant.front.url


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // MIB):
            block = os.urandom(MIB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def test_a_100_mib_model_round_trips_past_the_32_mib_limit(
    tenant: Tenant, client_env: str, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    model = tmp_path / "model.safetensors"
    expected = random_file(model, ARTIFACT_SIZE)
    client = MlflowClient(client_env)
    run = client.create_run(client.create_experiment("big"))
    rss_before = status_kib(tenant.pid, "VmRSS")
    hwm_before = status_kib(tenant.pid, "VmHWM")
    signed_before = len(tenant.google.signed)

    client.log_artifact(run.info.run_id, str(model), artifact_path="weights")
    listed = client.list_artifacts(run.info.run_id, "weights")
    local = client.download_artifacts(run.info.run_id, "weights/model.safetensors", str(tmp_path))

    hwm_after = status_kib(tenant.pid, "VmHWM")
    growth = (hwm_after - rss_before) * 1024
    print(f"\ntenant RSS before {rss_before / 1024:.0f} MiB, peak before {hwm_before / 1024:.0f}"
          f" MiB, peak after the 100 MiB round trip {hwm_after / 1024:.0f} MiB "
          f"(growth {growth / MIB:.1f} MiB; limit {RSS_GROWTH_LIMIT // MIB} MiB)")  # fmt: skip
    assert [(f.path, f.file_size) for f in listed] == [("weights/model.safetensors", ARTIFACT_SIZE)]
    assert sha256(Path(local)) == expected
    assert growth < RSS_GROWTH_LIMIT
    # Nothing large went through the front (and so through the tenant); parts and the
    # download went to storage on URLs whose signatures the gate checked.
    assert tenant.front.refused == []
    assert tenant.front.largest < MIB
    assert tenant.gate.rejected == []
    parts = [p for m, p in tenant.gate.signed_requests if m == "PUT"]
    assert len(parts) == ARTIFACT_SIZE // (16 * MIB) + 1
    assert {m for m, _ in tenant.gate.signed_requests} == {"PUT", "GET"}
    assert len(tenant.google.signed) - signed_before == len(parts) + 1  # parts + the download
    assert all(p.startswith(f"/{BUCKET}/alice/") for _, p in tenant.gate.signed_requests)
    names = tenant.gcs.objects(BUCKET)
    assert [n for n in names if n.endswith("model.safetensors")] == [
        f"alice/1/{run.info.run_id}/artifacts/weights/model.safetensors"
    ]


def test_without_multipart_the_front_refuses_the_upload_with_413(
    tenant: Tenant, client_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stand-in front does refuse what Cloud Run refuses: the round trip is no accident."""
    import requests
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
    model = tmp_path / "model.bin"
    with model.open("wb") as out:
        out.truncate(40 * MIB)
    client = MlflowClient(client_env)
    run = client.create_run(client.create_experiment("proxied"))
    with pytest.raises(requests.HTTPError, match="413"):
        client.log_artifact(run.info.run_id, str(model))
    assert tenant.front.refused[-1].endswith(f"/model.bin ({40 * MIB})")


def create_upload(
    tenant: Tenant, artifact_path: str, path: str, num_parts: int = 1
) -> tuple[int, dict[str, object]]:
    """POST mpu/create straight to the tenant; the status and the JSON answer."""
    url = f"http://127.0.0.1:{tenant.port}/api/2.0/mlflow-artifacts/mpu/create/{artifact_path}"
    body = json.dumps({"path": path, "num_parts": num_parts}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), json.load(response)
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def test_a_url_for_another_tenants_folder_is_never_signed(tenant: Tenant) -> None:
    signed_before = len(tenant.google.signed)
    attempts = [
        ("1/r/artifacts", ".."),  # object alice/1/r/artifacts/.. : normalized, alice's parent
        ("1/r/artifacts", "../../bob/x.bin"),  # basename only: stays alice's
        ("..%2f..%2fbob", "x.bin"),  # decoded by MLflow's route: refused by its path check
        ("1/../../bob", "x.bin"),
    ]
    issued: list[str] = []
    for artifact_path, path in attempts:
        code, answer = create_upload(tenant, artifact_path, path)
        for credential in answer.get("credentials", []):  # type: ignore[union-attr]
            issued.append(str(credential["url"]))  # type: ignore[index]
        if code == 200:
            assert path == "../../bob/x.bin"
    gate = tenant.gate.endpoint
    assert issued and all(url.startswith(f"{gate}/{BUCKET}/alice/1/r/artifacts/") for url in issued)
    assert len(tenant.google.signed) - signed_before == len(issued)


def test_a_tampered_signed_url_is_refused_by_the_gate(tenant: Tenant) -> None:
    """The gate's signature check can fail: the round trip's empty ``rejected`` means something."""
    code, answer = create_upload(tenant, "1/r2/artifacts", "m.bin", num_parts=2)
    assert code == 200
    url = str(answer["credentials"][0]["url"])  # type: ignore[index]
    tampered = url.replace("partNumber=1", "partNumber=2")
    request = urllib.request.Request(tampered, data=b"x" * 10, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert tenant.gate.rejected[-1].endswith("bad signature")


def test_too_many_parts_are_refused_before_anything_is_signed(tenant: Tenant) -> None:
    signed_before = len(tenant.google.signed)
    code, answer = create_upload(tenant, "1/r3/artifacts", "m.bin", num_parts=10_001)
    assert code == 400
    assert "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE" in str(answer.get("message"))
    assert len(tenant.google.signed) == signed_before
