"""A second, real MLflow client of another minor version than the servers': mlflow-skinny
installed by pip (no dependencies: the test environment has them) into its own folder,
which a command puts first on PYTHONPATH. That is a researcher whose environment lags the
lab's servers; nothing about the installed package is faked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A minor below mlflowk8s.server.MLFLOW_VERSION (tests/server/test_version.py pins that).
SKEWED_VERSION = "3.16.0"


def install(folder: Path, version: str = SKEWED_VERSION) -> Path:
    """``mlflow-skinny==version`` installed into ``folder``; the folder, for PYTHONPATH."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-compile", "--target", str(folder), f"mlflow-skinny=={version}"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return folder
