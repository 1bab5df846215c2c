"""The local target's settings in ``.env``, and the tools it needs on this machine."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from mlflowk8s import server
from mlflowk8s.errors import UsageError
from mlflowk8s.lab.settings import Settings
from mlflowk8s.names import ascii_int, shown

HOST = "MLFLOWK8S_LOCAL_HOST"
BASE_PORT = "MLFLOWK8S_LOCAL_BASE_PORT"
START_TIMEOUT = "MLFLOWK8S_LOCAL_START_TIMEOUT"
DEFAULT_BASE_PORT = 5100
DEFAULT_START_TIMEOUT = 300
INSTALL_HINT = "pip install 'mlflowk8s[local]'"

# Said by `init` and `status`: local servers have no sign-in in front of them.
OPEN_ACCESS = (
    "every account on this machine can read, change and delete every tenant's runs over "
    f"HTTP ({server.LOCAL_HOST} has no sign-in)"
)

# Checked where they are used (they name their file and a fix there); none when read.
CHECKS: dict[str, Callable[[str], object]] = {}


def local_host(settings: Settings) -> str:
    """The address servers listen on; only loopback until an authentication option exists."""
    host = settings.get(HOST) or server.LOCAL_HOST
    if host != server.LOCAL_HOST:
        raise UsageError(
            f"{HOST}={host!r} is refused: local tenants listen only on {server.LOCAL_HOST} "
            "because mlflowk8s has no authentication option for local servers yet, and "
            "anyone who can reach an MLflow server can read and change every run. "
            f"Reach the lab machine through an SSH tunnel (ssh -L PORT:{server.LOCAL_HOST}:PORT "
            "HOST), or use the gcp target for a shared service."
        )
    return host


def int_setting(settings: Settings, key: str, default: int, low: int, high: int) -> int:
    raw = settings.get(key)
    if raw is None:
        return default
    number = ascii_int(raw)
    if number is None or not low <= number <= high:
        raise UsageError(
            f"{key}={shown(raw)} in {settings.path} is not a number from {low} to {high} "
            "(digits 0-9)"
        )
    return number


def base_port(settings: Settings) -> int:
    return int_setting(settings, BASE_PORT, DEFAULT_BASE_PORT, 1024, 65535)


def start_timeout(settings: Settings) -> int:
    return int_setting(settings, START_TIMEOUT, DEFAULT_START_TIMEOUT, 1, 86400)


def require_tools() -> str:
    """The MLflow version this Python serves tenants with (the launcher runs in it), once
    MLflow and supervisor are both importable here."""
    from importlib.metadata import PackageNotFoundError, version

    if importlib.util.find_spec("supervisor") is None or importlib.util.find_spec("mlflow") is None:
        raise UsageError(f"the local target needs supervisor and MLflow: {INSTALL_HINT}")
    try:
        return version("mlflow")
    except PackageNotFoundError as exc:
        raise UsageError(f"the local target needs MLflow and supervisor: {INSTALL_HINT}") from exc
