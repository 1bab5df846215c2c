"""`make bench`: a tenant started by the launcher beside a plain `mlflow server`, same flags.

    python bench/bench_server.py             # BENCH_SERVER_RUNS=3 rounds, medians
    python bench/bench_server.py --no-postgres

Both servers get one tenant's flags from server.py (the local target's form: SQLite, proxied
artifacts on disk) and the same client workload: a run, 200 metrics, a 1 MiB artifact. For
each, per round:

* time from start to the first successful API call (an experiments search, not /health),
  on a store whose schema is current (``mlflow db upgrade`` first, as a pod's init container);
* resident memory of the process tree after the workload: summed RSS, and summed PSS
  (/proc/<pid>/smaps_rollup), which counts pages shared between parent and child once;
* with PostgreSQL (initdb in a temporary folder; as root the cluster runs as ``nobody``):
  the tenant's database connections idle after start and at peak during the workload, with
  the pods' pool settings (2 + 3).

Rounds alternate the two servers so load drift on a shared machine hits both alike.
Figures only, no assertion. Targets (issue 14): RSS <= 0.55x and first call <= 0.6x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s import server

USER = "alice"
ROUNDS = int(os.environ.get("BENCH_SERVER_RUNS", "3"))
START_TIMEOUT = 300.0
METRICS = 200
ARTIFACT_BYTES = 1024 * 1024


@dataclass
class Figures:
    first_call: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    idle_connections: list[int] = field(default_factory=list)
    peak_connections: list[int] = field(default_factory=list)


# -- processes ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kib(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def memory(root: int) -> tuple[int, int, int]:
    """Summed RSS and PSS (KiB) of ``root``'s process tree, and its process count."""
    pids = _tree(root)
    rss = sum(_kib(Path(f"/proc/{pid}/status"), "VmRSS") for pid in pids)
    pss = sum(_kib(Path(f"/proc/{pid}/smaps_rollup"), "Pss") for pid in pids)
    return rss, pss, len(pids)


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=log.parent, start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def first_api_call(base: str, proc: subprocess.Popen[bytes], started: float) -> float:
    url = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return time.monotonic() - started
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if time.monotonic() - started > START_TIMEOUT:
            raise RuntimeError(f"no answer from {url} in {START_TIMEOUT} s")
        time.sleep(0.05)


def workload(base: str, tmp: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=base)
    run = client.create_run(experiment_id="0")
    for step in range(METRICS):
        client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
    artifact = tmp / "weights.bin"
    artifact.write_bytes(os.urandom(ARTIFACT_BYTES))
    client.log_artifact(run.info.run_id, str(artifact))
    client.set_terminated(run.info.run_id)


# -- PostgreSQL -----------------------------------------------------------------------------
@dataclass
class Postgres:
    port: int
    proc: subprocess.Popen[bytes]

    def uri(self, database: str) -> str:
        return f"postgresql+psycopg2://bench@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg2

        with contextlib.closing(psycopg2.connect(self.uri(database).replace("+psycopg2", ""))) as c:
            c.autocommit = True
            with c.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()) if cursor.description else []

    def connections(self, database: str) -> int:
        rows = self.query(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'")
        return int(str(rows[0][0]))


def _pg_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return versions[-1].parent if versions else None


@contextlib.contextmanager
def postgres(tmp: Path) -> Iterator[Postgres]:
    bindir = _pg_bin()
    assert bindir is not None
    data = tmp / "pgdata"
    data.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(data, "nobody")
        os.chmod(tmp, 0o755)
        as_user = ["runuser", "-u", "nobody", "--"]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "bench",
                    "--auth=trust"], check=True, capture_output=True)  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
         "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    pg = Postgres(port, proc)
    deadline = time.monotonic() + 60
    while True:
        try:
            pg.query("SELECT 1")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    try:
        yield pg
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)


def _peak(pg: Postgres, database: str, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            seen.append(pg.connections(database))
        stop.wait(0.05)


# -- one round ------------------------------------------------------------------------------
def commands(port: int, data: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    target = server.LocalTarget(port, data)
    launch = server.launcher_command(USER, target)
    plain = server.server_command(USER, target)
    mlflow = str(Path(sys.executable).parent / "mlflow")
    return {
        "launcher": (launch.argv, launch.env),
        "mlflow server": ([mlflow, *plain.args], plain.env),
    }


def _with_store(argv: list[str], uri: str) -> list[str]:
    argv = list(argv)
    argv[argv.index("--backend-store-uri") + 1] = uri
    return argv


def one_round(name: str, tmp: Path, figures: Figures, pg: Postgres | None, n: int) -> None:
    data = tmp / f"{name.replace(' ', '-')}-{n}"
    (data / "artifacts").mkdir(parents=True)
    port = _free_port()
    argv, extra = commands(port, data)[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "_MLFLOW_"))}
    env.update(extra)
    database = f"bench_{name.replace(' ', '_')}_{n}"
    if pg is not None:
        pg.query(f"CREATE DATABASE {database}")
        argv = _with_store(argv, pg.uri(database))
        env.update({"MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "2",
                    "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "3"})  # fmt: skip
    # As in a pod, whose init container upgrades the schema: the start is timed on a ready
    # store (a restart), not on creating the schema, which both servers would share.
    store = argv[argv.index("--backend-store-uri") + 1]
    subprocess.run([str(Path(sys.executable).parent / "mlflow"), "db", "upgrade", store],
                   env=env, check=True, capture_output=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}/{USER}"
    started = time.monotonic()
    with running(argv, env, data / "server.log") as proc:
        figures.first_call.append(first_api_call(base, proc, started))
        if pg is not None:
            time.sleep(1)
            figures.idle_connections.append(pg.connections(database))
            stop, seen = threading.Event(), []
            watcher = threading.Thread(target=_peak, args=(pg, database, stop, seen))
            watcher.start()
        workload(base, data)
        if pg is not None:
            stop.set()
            watcher.join()
            figures.peak_connections.append(max(seen, default=0))
        rss, pss, count = memory(proc.pid)
        figures.rss.append(rss)
        figures.pss.append(pss)
        figures.processes.append(count)


# -- report ---------------------------------------------------------------------------------
def _median(values: list[int] | list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def table(results: dict[str, Figures], postgres_note: str) -> str:
    ours, plain = results["launcher"], results["mlflow server"]
    rows = [
        ("processes", "{:.0f}", ours.processes, plain.processes),
        ("RSS of the tree (MiB)", "{:.0f}", [v / 1024 for v in ours.rss],
         [v / 1024 for v in plain.rss]),
        ("PSS of the tree (MiB)", "{:.0f}", [v / 1024 for v in ours.pss],
         [v / 1024 for v in plain.pss]),
        ("first API call (s)", "{:.2f}", ours.first_call, plain.first_call),
        ("db connections idle", "{:.0f}", ours.idle_connections, plain.idle_connections),
        ("db connections peak", "{:.0f}", ours.peak_connections, plain.peak_connections),
    ]  # fmt: skip
    lines = [f"{'median of ' + str(ROUNDS) + ' rounds':<24}{'launcher':>10}{'mlflow server':>15}"
             f"{'ratio':>8}"]  # fmt: skip
    for label, fmt, a, b in rows:
        if not a:
            lines.append(f"{label:<24}{'n/a':>10}{'n/a':>15}    ({postgres_note})")
            continue
        ma, mb = _median(a), _median(b)
        ratio = f"{ma / mb:.2f}x" if mb else "-"
        lines.append(f"{label:<24}{fmt.format(ma):>10}{fmt.format(mb):>15}{ratio:>8}")
    lines.append("targets: RSS <= 0.55x, first API call <= 0.6x")
    lines.append("each round (launcher | mlflow server): first call s, RSS MiB")
    for i in range(len(ours.rss)):
        lines.append(f"  {i + 1}: {ours.first_call[i]:.2f} s, {ours.rss[i] / 1024:.0f} MiB | "
                     f"{plain.first_call[i]:.2f} s, {plain.rss[i] / 1024:.0f} MiB")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    results = {"launcher": Figures(), "mlflow server": Figures()}
    note = "postgres off"
    use_pg = not options.no_postgres and _pg_bin() is not None
    if not options.no_postgres and not use_pg:
        note = "no PostgreSQL binaries"
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with contextlib.ExitStack() as stack:
            pg = stack.enter_context(postgres(tmp)) if use_pg else None
            for n in range(ROUNDS):
                for which in results:
                    one_round(which, tmp, results[which], pg, n)
    print(f"MLflow {server.MLFLOW_VERSION}, one tenant ({USER}), local form of server.py; "
          f"workload: a run, {METRICS} metrics, a 1 MiB artifact"
          + ("; SQLite" if pg is None else "; PostgreSQL store, pool 2 + 3"))  # fmt: skip
    print(table(results, note))


if __name__ == "__main__":
    main()
