"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import fakegcs
from tests.support import registry as oci_registry

# Shared, loaded machines: a per-example deadline is a timed assertion that fails at random.
settings.register_profile("lab", deadline=None)
settings.load_profile("lab")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fakegcs.FakeGcs]:
    server = fakegcs.start(tmp_path_factory.mktemp("fakegcs") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def registry() -> Iterator[oci_registry.Registry]:
    """A stand-in for ghcr.io (tests/support/registry.py)."""
    with oci_registry.running() as state:
        yield state


@pytest.fixture(scope="session")
def skewed_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a real mlflow-skinny of another minor (tests/support/client_install.py)."""
    from tests.support import client_install

    return client_install.install(tmp_path_factory.mktemp("skewed-client"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs the real ``mlflowk8s`` console script in a lab folder, as an admin would."""

    lab: Path
    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None, timeout: float = 600) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "mlflowk8s", *args],
            cwd=self.lab,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    path = tmp_path / "lab"
    path.mkdir()
    return path


@pytest.fixture
def cli(lab_dir: Path) -> Cli:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOWK8S_", "GOOGLE_", "STORAGE_EMULATOR", "MLFLOW_"))
    }
    env.update(
        {
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "CHECKPOINT_DISABLE": "1",
            # No real Google credentials may leak into a test run.
            "GOOGLE_APPLICATION_CREDENTIALS": str(lab_dir / "no-such-credentials.json"),
            "CLOUDSDK_CONFIG": str(lab_dir / "no-gcloud"),
        }
    )
    return Cli(lab=lab_dir, env=env)
