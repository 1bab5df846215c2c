"""Shared pieces of the client tests: the lab's pretend Google, IAP, and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
CLIENT_JOB = Path(__file__).with_name("client_job.py")

IAP_AUDIENCE = "1234-iap.apps.googleusercontent.com"  # the lab's IAP OAuth client
DESKTOP_CLIENT = "5678-desktop.apps.googleusercontent.com"  # allow-listed in IAP
ALICE = "alice@lab.org"
BOB = "bob@lab.org"
ALICE_JOB = "trainer-alice@test-project.iam.gserviceaccount.com"
BOB_JOB = "trainer-bob@test-project.iam.gserviceaccount.com"
# Where a metadata server would be: closed, so no test can reach a real one.
NO_METADATA = {"GCE_METADATA_IP": "127.0.0.1:9", "GCE_METADATA_HOST": "127.0.0.1:9"}


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A researcher's shell: nothing of ours, no Google, no MLflow settings."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **NO_METADATA,
    }
    env.update(extra)
    return env


def run_cli(
    lab: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    lab.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "mlflowk8s", *args],
        cwd=lab,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def login(lab: Path, env: dict[str, str], client_file: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `mlflowk8s login --no-browser` and 'click' the printed address."""
    lab.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflowk8s", "login", "--no-browser",
         "--client-file", str(client_file), "--timeout", "60"],
        cwd=lab, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        seen = []
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if line.strip().startswith("http"):
                url = line.strip()
        assert url, f"no sign-in address printed: {''.join(seen)}"
        page = requests.get(url, timeout=30)  # the consent page redirects to 127.0.0.1
        assert page.status_code == 200, page.text
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "".join(seen) + stderr)


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path
