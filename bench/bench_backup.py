"""`make bench`: backup and restore times of a local tenant with 10,000 metrics and 100 MB
of artifacts.

    python bench/bench_backup.py            # the figures above
    python bench/bench_backup.py --json     # one JSON document

A fresh lab in a temporary folder: real supervisord and tenant server; the real MLflow client
logs one run with 10,000 metric values and 100 MB of random (incompressible) artifacts in
10 files through the server. Then `mlflowk8s backup` and `mlflowk8s restore --yes` are timed
as wall time of the command (restore includes its safety backup, the server's stop and start
and the health check). Measured once: figures only, no assertion (shared, noisy machines).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METRICS = 10_000
ARTIFACT_FILES = 10
ARTIFACT_MB = 100

LOG_SCRIPT = f"""
import os, tempfile, mlflow
from mlflow.entities import Metric
from mlflow import MlflowClient
mlflow.set_experiment("bench")
with mlflow.start_run() as run:
    client = MlflowClient()
    now = 0
    for start in range(0, {METRICS}, 1000):
        batch = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(start, start + 1000)]
        client.log_batch(run.info.run_id, metrics=batch)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range({ARTIFACT_FILES}):
            with open(os.path.join(tmp, f"blob{{i}}.bin"), "wb") as f:
                f.write(os.urandom({ARTIFACT_MB} * 1024 * 1024 // {ARTIFACT_FILES}))
        mlflow.log_artifacts(tmp, "blobs")
print(run.info.run_id)
"""


def _free_base(span: int = 5) -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000)
        if all(_free(port) for port in range(base, base + span)):
            return base
    raise RuntimeError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cli(lab: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mlflowk8s", *args], cwd=lab, env=env,
                          capture_output=True, text=True, timeout=3600)  # fmt: skip
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"mlflowk8s {' '.join(args)} failed: {proc.stderr}")
    return elapsed, proc.stdout


def measure() -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOWK8S_", "MLFLOW_"))}
    env.update({"NO_COLOR": "1", "MLFLOW_DISABLE_TELEMETRY": "true"})
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        lab = Path(tmp) / "lab"
        lab.mkdir()
        try:
            _cli(lab, env, "init", "--target", "local")
            with (lab / ".env").open("a") as handle:
                handle.write(f"MLFLOWK8S_LOCAL_BASE_PORT={_free_base()}\n")
            _cli(lab, env, "add-user", "alice")
            _cli(lab, env, "apply", "--yes")
            url = json.loads(_cli(lab, env, "status", "--json")[1])["tenants"][0]["url"]
            logged = subprocess.run(
                [sys.executable, "-c", LOG_SCRIPT], env={**env, "MLFLOW_TRACKING_URI": url},
                cwd=lab, capture_output=True, text=True, timeout=3600, check=True,
            )  # fmt: skip
            run_id = logged.stdout.strip().splitlines()[-1]
            data = lab / ".mlflowk8s" / "local" / "data" / "alice"
            store_mb = (data / "mlflow.db").stat().st_size / 2**20
            # CPU time of the command (and the children it waits for) beside the wall time:
            # on a loaded machine the wall time mostly measures the others.
            cpu = _cpu()
            backup_s, out = _cli(lab, env, "backup", "alice")
            backup_cpu, cpu = _cpu() - cpu, _cpu()
            archive = Path(out.strip().splitlines()[-1])
            restore_s, _ = _cli(lab, env, "restore", "alice", str(archive), "--yes")
            restore_cpu = _cpu() - cpu
            load = os.getloadavg()[0]
            return {
                "metrics": METRICS,
                "artifacts_mb": ARTIFACT_MB,
                "store_mb": round(store_mb, 1),
                "archive_mb": round(archive.stat().st_size / 2**20, 1),
                "backup_s": round(backup_s, 2),
                "restore_s": round(restore_s, 2),
                "backup_cpu_s": round(backup_cpu, 2),
                "restore_cpu_s": round(restore_cpu, 2),
                "load_1min": round(load, 1),
                "run_id": run_id,
            }
        finally:
            subprocess.run([sys.executable, "-m", "mlflowk8s", "destroy", "--yes"], cwd=lab,
                           env=env, capture_output=True, timeout=600)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"local backup/restore, {figures['metrics']} metrics + {figures['artifacts_mb']} MB "
        f"artifacts (store {figures['store_mb']} MB, archive {figures['archive_mb']} MB):\n"
        f"  backup  {figures['backup_s']:6.2f} s wall, {figures['backup_cpu_s']:6.2f} s CPU\n"
        f"  restore {figures['restore_s']:6.2f} s wall, {figures['restore_cpu_s']:6.2f} s CPU"
        "  (safety backup, unpack, swap, restart, health)\n"
        f"  load average {figures['load_1min']} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
