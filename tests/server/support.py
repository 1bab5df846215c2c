"""Real tenant servers for the tests: started from server.py's commands, ended after use."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from mlflowk8s import server

START_TIMEOUT = 240.0  # a cold MLflow import on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """The test process's environment without anything that would steer MLflow elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "_MLFLOW_"))}
    return {**env, "MLFLOW_DISABLE_TELEMETRY": "true", **extra}


def status(url: str, timeout: float = 5) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def wait_status(url: str, wanted: int, proc: subprocess.Popen[bytes] | None = None,
                timeout: float = START_TIMEOUT) -> None:  # fmt: skip
    deadline = time.monotonic() + timeout
    while status(url) != wanted:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before {url} said {wanted}")
        assert time.monotonic() < deadline, f"{url} did not answer {wanted} in {timeout} s"
        time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@contextlib.contextmanager
def launched(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group with its output in ``log``; always end it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=log.parent)  # fmt: skip
    try:
        yield proc
    finally:
        stop(proc)


def local_launcher(user: str, port: int, data: Path, as_source: bool = False) -> list[str]:
    """The local target's launcher argv; ``as_source``: the ``python -c`` form pods run."""
    argv = server.launcher_command(user, server.LocalTarget(port, data)).argv
    if as_source:
        assert argv[1:3] == ["-m", server.LAUNCHER_MODULE]
        return [sys.executable, "-c", server.launcher_source(), *argv[3:]]
    return argv
