"""One MLflow version for the servers: server.py's constant, pyproject's pin, the install."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from mlflowk8s import server
from tests.conftest import REPO


def _extras() -> dict[str, list[str]]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extras: dict[str, list[str]] = data["project"]["optional-dependencies"]
    return extras


def test_local_extra_pins_the_servers_version_exactly() -> None:
    pins = [req for req in _extras()["local"] if re.match(r"mlflow\b(?!-)", req)]
    assert pins == [f"mlflow=={server.MLFLOW_VERSION}"]
    major, minor = (int(part) for part in server.MLFLOW_VERSION.split(".")[:2])
    assert (major, minor) >= (3, 12)  # every route honours the static prefix from 3.12
    # The contract test runs the installed `mlflow server`: it must be the pinned one.
    assert version("mlflow") == server.MLFLOW_VERSION


def test_client_extra_stays_a_range_and_the_image_follows_the_pin() -> None:
    assert "mlflow-skinny>=3.0,<4" in _extras()["client"]
    image = f"ghcr.io/mlflow/mlflow:v{server.MLFLOW_VERSION}-full"
    assert image == server.MLFLOW_IMAGE
