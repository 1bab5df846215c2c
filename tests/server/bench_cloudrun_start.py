"""`make bench`: a Cloud Run tenant from process start to its first answered API call.

    python -m tests.server.bench_cloudrun_start      # BENCH_CLOUDRUN_RUNS=5 rounds

The tenant is server.py's Cloud Run form (the launcher as ``python -c <source>``, no static
prefix, a gs:// artifacts destination, the pool settings 2 + 3) with this interpreter on a
free port of 127.0.0.1. Its store is a real PostgreSQL database (tests/support/postgres.py;
trusted local TCP stands in for the Auth Proxy's IAM sign-in), upgraded before the start
as the tenant's upgrade job does. Stand-ins: the metadata server (tests/support/
google_signing.py) and fake-gcs-server behind it for the bucket. The clock starts when the
process is spawned and stops at the first 200 from an experiments search (not /health:
the stores answer only then), polled every 20 ms.

Beside it, in the same rounds: the bare interpreter (``python -c pass``) and importing
MLflow's app alone (``import mlflow.server.fastapi_app``), which is what the start-up is
made of. Figures only, no assertion; the load average is printed with them.
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mlflowk8s import server
from tests.server.support import free_port, launched, server_env
from tests.support import fakegcs
from tests.support.google_signing import Google
from tests.support.postgres import Postgres, postgres

ROUNDS = int(os.environ.get("BENCH_CLOUDRUN_RUNS", "5"))
USER = "alice"
RUN_HOST = "alice-123456789.europe-west1.run.app"
SERVICE_ACCOUNT = "mlf-alice-1a2b@standin-project.iam.gserviceaccount.com"
BUCKET = "lab-artifacts"
START_TIMEOUT = 300.0
TARGET_S = 3.0


def command(port: int) -> tuple[list[str], dict[str, str]]:
    target = server.CloudRunTarget(service_host=RUN_HOST, artifact_bucket=BUCKET)
    launch = server.launcher_command(USER, target)
    argv = list(launch.argv)
    argv[0] = sys.executable  # the image's `python`: here, this one (it has MLflow)
    argv[argv.index("--port") + 1] = str(port)
    argv[argv.index("--host") + 1] = "127.0.0.1"
    return argv, launch.env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_call(port: int, proc: subprocess.Popen[bytes], started: float) -> float:
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1"
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return time.monotonic() - started
        if proc.poll() is not None:
            raise RuntimeError(f"the tenant exited with {proc.returncode}")
        if time.monotonic() - started > START_TIMEOUT:
            raise RuntimeError(f"no answer in {START_TIMEOUT} s")
        time.sleep(0.02)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=START_TIMEOUT)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def tenant_round(pg: Postgres, n: int, base_env: dict[str, str], work: Path) -> tuple[float, float]:
    """Wall seconds from spawn to the first answered call, and the CPU the tenant used."""
    database = f"bench_start_{n}"
    pg.sql(f"CREATE DATABASE {database}")
    uri = f"postgresql+psycopg2://postgres@127.0.0.1:{pg.port}/{database}"
    mlflow = str(Path(sys.executable).parent / "mlflow")
    subprocess.run([mlflow, "db", "upgrade", uri], env=base_env, check=True,
                   capture_output=True, timeout=START_TIMEOUT)  # fmt: skip
    port = free_port()
    argv, extra = command(port)
    env = {**base_env, **extra, "MLFLOW_BACKEND_STORE_URI": uri}
    started = time.monotonic()
    with launched(argv, env, work / f"tenant-{n}.log") as proc:
        wall = first_call(port, proc, started)
        return wall, cpu_seconds(proc.pid)


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f})")  # fmt: skip


def main() -> None:
    wall: dict[str, list[float]] = {"tenant": [], "app import": [], "interpreter": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    load_before = os.getloadavg()[0]
    imports = [sys.executable, "-c", "import mlflow.server.fastapi_app"]
    with tempfile.TemporaryDirectory(prefix="mlflowk8s-bench-start-") as name:
        work = Path(name)
        gcs = fakegcs.start(work / "gcs.log")
        google = Google(SERVICE_ACCOUNT).start()
        try:
            base_env = server_env(
                **google.env(), **gcs.env(), CLOUDSDK_CONFIG=str(work / "gcloud"),
                NO_PROXY="127.0.0.1",
            )  # fmt: skip
            base_env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
            with postgres() as pg:
                for n in range(ROUNDS):  # interleaved: load drift hits all three alike
                    for key, (w, c) in (
                        ("tenant", tenant_round(pg, n, base_env, work)),
                        ("app import", timed(imports, base_env)),
                        ("interpreter", timed([sys.executable, "-c", "pass"], base_env)),
                    ):
                        wall[key].append(w)
                        cpu[key].append(c)
        finally:
            google.stop()
            gcs.stop()
    load_after = os.getloadavg()[0]
    print(f"Cloud Run form of server.py (launcher, no static prefix), MLflow "
          f"{server.MLFLOW_VERSION}, PostgreSQL store; {ROUNDS} rounds on {os.cpu_count()} "
          f"CPUs, load average {load_before:.2f} before, {load_after:.2f} after")  # fmt: skip
    print(f"  process start -> first answered API call: {spread(wall['tenant'])}; "
          f"target <= {TARGET_S:.0f} s median")  # fmt: skip
    print(f"    CPU used by then: {spread(cpu['tenant'])} (less load-sensitive than wall "
          "time, still inflated by a busy machine)")  # fmt: skip
    print(f"  import mlflow.server.fastapi_app alone: {spread(wall['app import'])}; "
          f"CPU {spread(cpu['app import'])}")  # fmt: skip
    print(f"  bare interpreter: {spread(wall['interpreter'])}")
    share = statistics.median(cpu["app import"]) / statistics.median(cpu["tenant"])
    print(f"  the app's import is {share:.0%} of the tenant's start-up CPU")


if __name__ == "__main__":
    main()
