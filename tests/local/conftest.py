"""A local lab with real supervisord and tenant server processes, cleaned up after use.

Teardown shuts supervisord down the way an admin would (``supervisorctl shutdown``), then
looks for any process that still carries the lab's marker in its environment; a leftover
is killed and fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, CliResult

HERE = Path(__file__).resolve().parent
MARKER_ENV = "MLFLOWK8S_LOCAL_DIR"  # what supervisord and its children carry


def free_base_port(span: int = 20) -> int:
    """A base port with ``span`` free ports above it (tests run in parallel)."""
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


def lab_pids(root: Path, program: str | None = None) -> set[int]:
    """PIDs whose environment carries this lab's marker (and program name, if given)."""
    marker = f"{MARKER_ENV}={root}".encode()
    wanted = f"SUPERVISOR_PROCESS_NAME={program}".encode() if program else None
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z" and marker in variables and (wanted is None or wanted in variables):
            found.add(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def health(url: str) -> int | None:
    """HTTP status of ``<url>health``, None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}health", timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


@dataclass
class LocalLab:
    cli: Cli
    base_port: int

    @property
    def root(self) -> Path:
        return self.cli.lab.resolve() / ".mlflowk8s" / "local"

    @property
    def conf(self) -> Path:
        return self.root / "supervisord.conf"

    def ok(self, *args: str, timeout: float = 600) -> CliResult:
        result = self.cli(*args, timeout=timeout)
        assert result.code == 0, f"mlflowk8s {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.ok("status", "--json").stdout)
        return data

    def tenants(self) -> dict[str, dict[str, Any]]:
        return {t["name"]: t for t in self.status()["tenants"]}

    def url(self, user: str) -> str:
        return str(self.tenants()[user]["url"])

    def pids(self, user: str) -> set[int]:
        return lab_pids(self.root, f"mlflow-{user}")

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), *args],
            capture_output=True, text=True, timeout=120, env=self.cli.env,
        )  # fmt: skip

    def wait_healthy(self, user: str, timeout: float = 180) -> dict[str, Any]:
        """Poll ``status --json`` until ``user`` is healthy again; returns its entry."""
        deadline = time.monotonic() + timeout
        while True:
            tenant = self.tenants()[user]
            if tenant["healthy"] and tenant["state"] == "running":
                return tenant
            assert time.monotonic() < deadline, f"{user} not healthy again: {tenant}"
            time.sleep(1)

    def client(self, user: str, *args: str) -> dict[str, Any]:
        """Run the real MLflow client against ``user``'s server, configured by env only."""
        env = {**self.cli.env, "MLFLOW_TRACKING_URI": self.url(user)}
        proc = subprocess.run(
            [sys.executable, str(HERE / "mlflow_client.py"), *args],
            capture_output=True, text=True, timeout=300, env=env, cwd=self.cli.lab,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return data


def _shutdown(lab: LocalLab) -> list[str]:
    """Stop supervisord and everything of the lab; returns descriptions of leftovers."""
    if lab.conf.exists():
        lab.supervisorctl("shutdown")
    deadline = time.monotonic() + 30
    while lab_pids(lab.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = lab_pids(lab.root)
    described = [f"{pid}: {cmdline(pid)}" for pid in sorted(leftovers)]
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return described


@pytest.fixture
def local_lab(cli: Cli) -> Iterator[LocalLab]:
    """An initialised local lab on its own port range; no process of it survives the test."""
    lab = LocalLab(cli=cli, base_port=free_base_port())
    lab.ok("init", "--target", "local")
    with (cli.lab / ".env").open("a") as env:
        env.write(f"MLFLOWK8S_LOCAL_BASE_PORT={lab.base_port}\n")
    try:
        yield lab
    finally:
        leftovers = _shutdown(lab)
    assert not leftovers, f"processes of the lab outlived it: {leftovers}"
