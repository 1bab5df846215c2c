"""`make bench`: a tenant's memory while a large artifact goes up and down, proxied vs signed.

    python -m tests.server.bench_artifacts       # a 100 MiB file; BENCH_ARTIFACT_MIB=N

One tenant in the GKE form (server.py's pod flags: the static prefix, a gs:// destination)
served by the launcher; fake-gcs-server as the bucket behind the signing stand-ins of
tests/support/google_signing.py (metadata server, IAM Credentials signBlob, Cloud Storage's
XML multipart API). MLflow's client uploads, then downloads, one random file twice:

* proxied: multipart off (MLflow's defaults for files under 500 MiB): the bytes go through
  the server;
* signed: what `mlflowk8s env` exports: parts and the download go to storage on URLs the
  server signs.

Printed per mode: the server's RSS before, its peak (VmHWM) after the upload and after the
download, and whether the bytes came back identical. Figures only, no assertion.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

from mlflowk8s import server
from mlflowk8s.auth.hosts import MULTIPART_EXPORTS
from tests.server.support import free_port, launched, server_env, wait_status
from tests.support import fakegcs
from tests.support.google_signing import Google, StorageGate

MIB = 1024 * 1024
BUCKET = "lab-artifacts"
MODES = {
    "proxied": {
        "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "false",
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    },
    "signed": dict(MULTIPART_EXPORTS),
}


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def one_round(mode: str, work: Path, model: Path, expected: str) -> str:
    with contextlib.ExitStack() as stack:
        gcs = fakegcs.start(work / f"gcs-{mode}.log")
        stack.callback(gcs.stop)
        google = Google("mlf-alice-bench@bench.iam.gserviceaccount.com").start()
        stack.callback(google.stop)
        gate = StorageGate(google, ("127.0.0.1", gcs.port)).start()
        stack.callback(gate.stop)
        bucket = json.dumps({"name": BUCKET}).encode()
        urllib.request.urlopen(urllib.request.Request(
            f"{gcs.endpoint}/storage/v1/b?project=bench", data=bucket,
            headers={"Content-Type": "application/json"}), timeout=30).close()  # fmt: skip
        port = free_port()
        command = server.launcher_command("alice", server.PodTarget("mlflow.lab.org", BUCKET))
        argv = [sys.executable, *command.argv[1:]]
        argv[argv.index("--port") + 1] = str(port)
        argv[argv.index("--host") + 1] = "127.0.0.1"
        env = server_env(**command.env, **google.env(), **gate.env(),
                         MLFLOW_BACKEND_STORE_URI=f"sqlite:///{work / f'{mode}.db'}",
                         CLOUDSDK_CONFIG=str(work / "gcloud"), NO_PROXY="127.0.0.1")  # fmt: skip
        for key in ("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"):
            env.pop(key, None)  # SQLite here
        for key in [k for k in os.environ if k.startswith(("MLFLOW_", "STORAGE_EMULATOR"))]:
            del os.environ[key]
        os.environ.update({"NO_PROXY": "127.0.0.1", "MLFLOW_DISABLE_TELEMETRY": "true",
                           "MLFLOW_HTTP_REQUEST_TIMEOUT": "600", **MODES[mode]})  # fmt: skip
        proc = stack.enter_context(launched(argv, env, work / f"server-{mode}.log"))
        wait_status(f"http://127.0.0.1:{port}/alice/ready", 200, proc)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"http://127.0.0.1:{port}/alice")
        run = client.create_run(client.create_experiment(mode)).info.run_id
        before = kib(proc.pid, "VmRSS")
        client.log_artifact(run, str(model))
        after_upload = kib(proc.pid, "VmHWM")
        local = client.download_artifacts(run, model.name, str(work / mode))
        after_download = kib(proc.pid, "VmHWM")
        same = sha256(Path(local)) == expected
        return (f"{mode:8} RSS before {before / 1024:5.0f} MiB | peak after upload "
                f"{after_upload / 1024:5.0f} MiB (+{(after_upload - before) / 1024:.0f}) | peak "
                f"after download {after_download / 1024:5.0f} MiB "
                f"(+{(after_download - before) / 1024:.0f}) | identical: {same} | "
                f"signed storage requests: {len(gate.signed_requests)}")  # fmt: skip


def main() -> None:
    size = int(os.environ.get("BENCH_ARTIFACT_MIB", "100"))
    with tempfile.TemporaryDirectory(prefix="bench-artifacts-") as tmp:
        work = Path(tmp)
        model = work / "model.bin"
        digest = hashlib.sha256()
        with model.open("wb") as out:
            for _ in range(size):
                block = os.urandom(MIB)
                digest.update(block)
                out.write(block)
        print(f"tenant server memory, {size} MiB artifact up and down (GKE form, launcher)")
        for mode in MODES:
            print(one_round(mode, work, model, digest.hexdigest()), flush=True)


if __name__ == "__main__":
    main()
