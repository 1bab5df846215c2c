"""The gcp target's settings in ``.env``: their keys, their checks, the platform knobs."""

from __future__ import annotations

from collections.abc import Callable

from mlflowk8s.errors import UsageError
from mlflowk8s.google import settings as google
from mlflowk8s.google.settings import (
    ARTIFACT_BUCKET,
    CLOUDSQL_MAX_CONNECTIONS,
    CLOUDSQL_TIER,
    IAP_PROGRAMMATIC_CLIENT_IDS,
    MLFLOW_IMAGE,
    PROJECT,
    REGION,
    STATE_BUCKET,
    client_ids,
)
from mlflowk8s.lab.settings import Settings
from mlflowk8s.names import HOST_RE, ascii_int, shown

# The shared keys, spelled here too: the gcp modules read every setting through this one.
__all__ = [
    "ARTIFACT_BUCKET", "CLOUDSQL_MAX_CONNECTIONS", "CLOUDSQL_TIER",
    "IAP_PROGRAMMATIC_CLIENT_IDS", "MLFLOW_IMAGE", "PROJECT", "REGION", "STATE_BUCKET",
    "client_ids",
]  # fmt: skip

DOMAIN = "MLFLOW_DOMAIN"
OAUTH_CLIENT_SECRET_FILE = "IAP_OAUTH_CLIENT_SECRET_FILE"
MACHINE_TYPE = "GKE_MACHINE_TYPE"
MIN_NODES = "GKE_MIN_NODES"
MAX_NODES = "GKE_MAX_NODES"

# Settings every GCP lab needs before anything can be rendered or created.
REQUIRED = (PROJECT, REGION, DOMAIN, STATE_BUCKET, ARTIFACT_BUCKET)

# Optional platform knobs: rendered into tfvars only when set, so Terraform's variable
# defaults stay the one place defaults live. Value: (tfvars name, kind).
OPTIONAL_PLATFORM_SETTINGS: dict[str, tuple[str, str]] = {
    "DNS_MANAGED_ZONE": ("dns_managed_zone", "str"),
    MACHINE_TYPE: ("gke_machine_type", "str"),
    "GKE_SPOT": ("gke_spot", "bool"),
    MIN_NODES: ("gke_min_nodes", "int"),
    # Unset: sized from the active users (targets/gcp/capacity.py).
    MAX_NODES: ("gke_max_nodes", "int"),
    CLOUDSQL_TIER: ("cloudsql_tier", "str"),
    # Unset: sized from the tier (targets/gcp/capacity.py).
    CLOUDSQL_MAX_CONNECTIONS: ("cloudsql_max_connections", "int"),
}

# .env syntax, not YAML: the words admins already write in shell-style files.
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _convert(key: str, value: str) -> object:
    kind = OPTIONAL_PLATFORM_SETTINGS[key][1]
    if kind == "bool":
        if value.lower() not in _BOOL_WORDS:
            raise UsageError(f"{key}={value!r} is not true or false")
        return _BOOL_WORDS[value.lower()]
    if kind == "int":
        number = ascii_int(value)
        if number is None:
            raise UsageError(f"{key}={shown(value)} is not a whole number (digits 0-9)")
        return number
    if kind == "list":
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _knob_check(key: str) -> Callable[[str], object]:
    return lambda value: _convert(key, value)


CHECKS: dict[str, Callable[[str], object]] = {
    **google.CHECKS,
    DOMAIN: google.pattern_check(DOMAIN, HOST_RE, "a lower-case host name such as mlflow.lab.org"),
    **{key: _knob_check(key) for key in OPTIONAL_PLATFORM_SETTINGS},
}


def validate(key: str, value: str) -> str:
    check = CHECKS.get(key)
    if check is not None:
        check(value)
    return value


def optional_platform_vars(settings: Settings) -> dict[str, object]:
    """The optional platform knobs the admin set, as typed tfvars."""
    return {
        name: _convert(key, settings.values[key])
        for key, (name, _) in OPTIONAL_PLATFORM_SETTINGS.items()
        if settings.get(key)
    }


def require_apply_settings(settings: Settings) -> None:
    """The settings the tenants root needs; checked before the first apply."""
    missing = [key for key in (OAUTH_CLIENT_SECRET_FILE, MLFLOW_IMAGE) if not settings.get(key)]
    if missing:
        hints = {
            OAUTH_CLIENT_SECRET_FILE: "`mlflowk8s init --oauth-client-secret FILE`",
            MLFLOW_IMAGE: "`mlflowk8s init` pins the MLflow image by digest",
        }
        raise UsageError(
            f"missing settings in {settings.path} before applying: "
            + "; ".join(f"{key} ({hints[key]})" for key in missing)
        )
