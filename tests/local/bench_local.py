"""Local-target figures: time from `apply` to every tenant healthy, and memory per tenant.

    python tests/local/bench_local.py            # 1 and 10 users
    python tests/local/bench_local.py --users 3  # other lab sizes
    python tests/local/bench_local.py --json     # one JSON document

Each lab is a fresh temporary folder with real supervisord and tenant server processes;
``apply --yes`` returns once every tenant answers ``/<user>/ready``, so its wall time is
the figure; beside it, the CPU seconds the CLI, its children and every process of the lab
used by then (less sensitive to other load than wall time). Memory is measured right
after: RSS of each tenant's process tree (one launcher process) and PSS. Everything is
destroyed afterwards and no process is left behind.

Every lab size is measured twice, side by side: as apply runs, and with new tenants'
stores built by their own servers (no store template: the baseline), alternating so that
load drift on a shared machine hits both alike; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKER_ENV = "MLFLOWK8S_LOCAL_DIR"


def _free_base(span: int) -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000)
        ok = True
        for port in range(base, base + span):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


def _environ(pid: int) -> list[bytes]:
    try:
        return (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return []


def _lab_pids(root: Path, program: str | None = None) -> list[int]:
    marker = f"{MARKER_ENV}={root}".encode()
    wanted = f"SUPERVISOR_PROCESS_NAME={program}".encode() if program else None
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            variables = _environ(int(entry.name))
            if marker in variables and (wanted is None or wanted in variables):
                pids.append(int(entry.name))
    return pids


def _kib(pid: int, path: str, key: str) -> int:
    try:
        for line in (Path("/proc") / str(pid) / path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mib(pids: list[int]) -> tuple[float, float]:
    rss = sum(_kib(pid, "status", "VmRSS") for pid in pids) / 1024
    pss = sum(_kib(pid, "smaps_rollup", "Pss") for pid in pids) / 1024
    return rss, pss


def _cli(lab: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mlflowk8s", *args],
        cwd=lab, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"mlflowk8s {' '.join(args)} failed: {proc.stderr}{proc.stdout}")
    return proc


# The switch apply reads (targets/local/template.py) to leave every store to its server.
NO_TEMPLATE_ENV = "MLFLOWK8S_LOCAL_NO_STORE_TEMPLATE"


def measure(users: int, template: bool = True) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOWK8S_", "MLFLOW_"))}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "MLFLOW_DISABLE_TELEMETRY": "true"})
    if not template:
        env[NO_TEMPLATE_ENV] = "1"
    with tempfile.TemporaryDirectory(prefix="mlflowk8s-bench-") as tmp:
        lab = Path(tmp) / "lab"
        lab.mkdir()
        root = lab.resolve() / ".mlflowk8s" / "local"
        names = [f"user{i:02d}" for i in range(users)]
        try:
            _cli(lab, env, "init", "--target", "local")
            with (lab / ".env").open("a") as handle:
                handle.write(f"MLFLOWK8S_LOCAL_BASE_PORT={_free_base(users + 5)}\n")
            for name in names:
                _cli(lab, env, "add-user", name)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.monotonic()
            _cli(lab, env, "apply", "--yes")
            seconds = time.monotonic() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # The CLI and what it waited for (a template's build), then every lab process.
            cli_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            lab_cpu = sum(_cpu_seconds(pid) for pid in _lab_pids(root))
            status = json.loads(_cli(lab, env, "status", "--json").stdout)
            unhealthy = [t["name"] for t in status["tenants"] if not t["healthy"]]
            if unhealthy:
                raise RuntimeError(f"not healthy after apply: {unhealthy}")
            per_tenant = [_memory_mib(_lab_pids(root, f"mlflow-{n}")) for n in names]
            daemon = _memory_mib([int((root / "supervisord.pid").read_text())])
            _cli(lab, env, "destroy", "--yes")
        finally:
            if (root / "supervisord.conf").exists():
                subprocess.run(
                    [sys.executable, "-m", "supervisor.supervisorctl", "-c",
                     str(root / "supervisord.conf"), "shutdown"],
                    capture_output=True, timeout=120, env=env,
                )  # fmt: skip
            for pid in _lab_pids(root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    rss = [r for r, _ in per_tenant]
    pss = [p for _, p in per_tenant]
    return {
        "users": users,
        "store_template": template,
        "apply_to_all_healthy_s": round(seconds, 1),
        "cpu_s": round(cli_cpu + lab_cpu, 1),
        "tenant_rss_mib": {"mean": round(statistics.mean(rss)), "max": round(max(rss))},
        "tenant_pss_mib": {"mean": round(statistics.mean(pss)), "max": round(max(pss))},
        "supervisord_rss_mib": round(daemon[0]),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    results = []
    for n in args.users:
        load = round(os.getloadavg()[0], 2)
        baseline = measure(n, template=False)
        ours = measure(n, template=True)
        results.append({"users": n, "load_average_before": load, "baseline": baseline,
                        "apply": ours})  # fmt: skip
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return
    for pair in results:
        for label in ("baseline", "apply"):
            r = pair[label]
            assert isinstance(r, dict)
            rss, pss = r["tenant_rss_mib"], r["tenant_pss_mib"]
            what = "no store template" if label == "baseline" else "store template   "
            sys.stdout.write(
                f"local target, {r['users']:>2} user(s) on {r['cpus']} CPUs, {what}: "
                f"apply -> all healthy {r['apply_to_all_healthy_s']:5.1f} s, "
                f"CPU {r['cpu_s']:5.1f} s; per tenant "
                f"RSS {rss['mean']} MiB (max {rss['max']}), PSS {pss['mean']} MiB "
                f"(max {pss['max']}); supervisord RSS {r['supervisord_rss_mib']} MiB; "
                f"load {r['load_average_1min']}\n"
            )
        base, ours = pair["baseline"], pair["apply"]
        assert isinstance(base, dict) and isinstance(ours, dict)
        ratio = float(ours["apply_to_all_healthy_s"]) / float(base["apply_to_all_healthy_s"])
        cpu = float(ours["cpu_s"]) / float(base["cpu_s"])
        sys.stdout.write(
            f"  {pair['users']} user(s): store template / baseline = {ratio:.2f}x wall, "
            f"{cpu:.2f}x CPU "
            f"(load average {pair['load_average_before']} before; target for 10: <= 30 s)\n"
        )


if __name__ == "__main__":
    main()
