"""The gcp target's settings in ``.env``: their keys, their checks, the platform knobs."""

from __future__ import annotations

import re
from collections.abc import Callable

from mlflowk8s.errors import UsageError
from mlflowk8s.google import bucket_names
from mlflowk8s.lab.settings import Settings
from mlflowk8s.names import HOST_RE, ascii_int, shown

PROJECT = "GCP_PROJECT"
REGION = "GCP_REGION"
DOMAIN = "MLFLOW_DOMAIN"
# Written by `init` from the project when not given (google/bucket_names.py).
STATE_BUCKET = bucket_names.STATE_BUCKET
ARTIFACT_BUCKET = bucket_names.ARTIFACT_BUCKET
# More OAuth client ids (comma-separated) IAP accepts tokens of, besides the desktop
# client's; the CLI keeps them in the project's IAP settings (not Terraform: one object
# per project, shared by every environment).
IAP_PROGRAMMATIC_CLIENT_IDS = "IAP_PROGRAMMATIC_CLIENT_IDS"
OAUTH_CLIENT_SECRET_FILE = "IAP_OAUTH_CLIENT_SECRET_FILE"
MLFLOW_IMAGE = "MLFLOW_IMAGE"
MACHINE_TYPE = "GKE_MACHINE_TYPE"
MIN_NODES = "GKE_MIN_NODES"
MAX_NODES = "GKE_MAX_NODES"
CLOUDSQL_TIER = "CLOUDSQL_TIER"
CLOUDSQL_MAX_CONNECTIONS = "CLOUDSQL_MAX_CONNECTIONS"

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

# Whole-string patterns (fullmatch): a trailing newline must not reach the tfvars.
_PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_REGION_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
# .env syntax, not YAML: the words admins already write in shell-style files.
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    PROJECT: (_PROJECT_RE, "a Google Cloud project id (6-30 chars: a-z, 0-9, -)"),
    REGION: (_REGION_RE, "a Google Cloud region such as europe-west1"),
    DOMAIN: (HOST_RE, "a lower-case host name such as mlflow.lab.org"),
    STATE_BUCKET: (_BUCKET_RE, "a bucket name (3-63 chars: a-z, 0-9, -, _, .)"),
    ARTIFACT_BUCKET: (_BUCKET_RE, "a bucket name (3-63 chars: a-z, 0-9, -, _, .)"),
}


def _pattern_check(key: str) -> Callable[[str], object]:
    pattern, what = _PATTERNS[key]

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise UsageError(f"{key}={shown(value)} is not {what}")
        return value

    return check


_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def client_ids(value: str) -> list[str]:
    """A comma-separated list of OAuth client ids."""
    ids = [item.strip() for item in value.split(",") if item.strip()]
    bad = [item for item in ids if not _CLIENT_ID_RE.match(item)]
    if bad:
        raise UsageError(f"{IAP_PROGRAMMATIC_CLIENT_IDS}: {bad[0]!r} is not an OAuth client id")
    return ids


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
    **{key: _pattern_check(key) for key in _PATTERNS},
    **{key: _knob_check(key) for key in OPTIONAL_PLATFORM_SETTINGS},
    IAP_PROGRAMMATIC_CLIENT_IDS: client_ids,
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
