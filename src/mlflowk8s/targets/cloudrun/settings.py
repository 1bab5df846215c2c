"""The cloudrun target's settings in ``.env``: their keys, their checks, the platform knobs.

The keys a Google lab shares (project, region, buckets, image, Cloud SQL tier) are
``google/settings.py``'s, so a lab can move between the two by changing only its target.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mlflowk8s.errors import UsageError
from mlflowk8s.google import settings as google
from mlflowk8s.google.settings import (
    ARTIFACT_BUCKET,
    CLOUDSQL_MAX_CONNECTIONS,
    CLOUDSQL_TIER,
    DEFAULT_CLOUDSQL_TIER,
    IAP_PROGRAMMATIC_CLIENT_IDS,
    MLFLOW_IMAGE,
    PROJECT,
    REGION,
    STATE_BUCKET,
)
from mlflowk8s.lab.settings import Settings
from mlflowk8s.names import shown

# The shared keys, spelled here too: the cloudrun modules read every setting through this one.
__all__ = [
    "ARTIFACT_BUCKET", "CLOUDSQL_MAX_CONNECTIONS", "CLOUDSQL_TIER", "DEFAULT_CLOUDSQL_TIER",
    "IAP_PROGRAMMATIC_CLIENT_IDS", "MLFLOW_IMAGE", "PROJECT", "REGION", "STATE_BUCKET",
]  # fmt: skip
# The project's number is in every tenant's URL; the platform's outputs say it. A
# researcher's copy of the lab folder has no outputs: this setting stands in.
PROJECT_NUMBER = "GCP_PROJECT_NUMBER"

REQUIRED = (PROJECT, REGION, STATE_BUCKET, ARTIFACT_BUCKET)

# Optional platform knobs, rendered only when set (Terraform's defaults stay the one place
# defaults live). Value: (tfvars name, kind).
OPTIONAL_PLATFORM_SETTINGS: dict[str, tuple[str, str]] = {
    CLOUDSQL_TIER: ("cloudsql_tier", "str"),
    "CLOUDSQL_ZONE": ("cloudsql_zone", "str"),
    CLOUDSQL_MAX_CONNECTIONS: ("cloudsql_max_connections", "int"),
}

# What the tenants root accepts (infra/cloudrun/tenants, variable mlflow_image); whole
# strings (fullmatch).
_IMAGE_RE = re.compile(r"ghcr\.io/[a-z0-9._/-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}")
_TIER_RE = re.compile(r"db-[a-z0-9-]+")
_ZONE_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+-[a-z]")
_NUMBER_RE = re.compile(r"[1-9][0-9]*")
_check = google.pattern_check


def _max_connections(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) < 25:
        raise UsageError(f"CLOUDSQL_MAX_CONNECTIONS={shown(value)} is not a whole number >= 25")
    return int(value)


CHECKS: dict[str, Callable[[str], object]] = {
    **google.CHECKS,
    MLFLOW_IMAGE: _check(
        MLFLOW_IMAGE, _IMAGE_RE, "a ghcr.io image pinned by digest (ghcr.io/OWNER/NAME@sha256:…)"
    ),
    PROJECT_NUMBER: _check(PROJECT_NUMBER, _NUMBER_RE, "a project number (digits)"),
    CLOUDSQL_TIER: _check(CLOUDSQL_TIER, _TIER_RE, "a Cloud SQL tier such as db-g1-small"),
    "CLOUDSQL_ZONE": _check("CLOUDSQL_ZONE", _ZONE_RE, "a zone such as europe-west1-b"),
    CLOUDSQL_MAX_CONNECTIONS: _max_connections,
}


def validate(key: str, value: str) -> str:
    check = CHECKS.get(key)
    if check is not None:
        check(value)
    return value


def optional_platform_vars(settings: Settings) -> dict[str, object]:
    """The optional platform knobs the admin set, as typed tfvars."""
    return {
        name: CHECKS[key](settings.values[key]) if kind == "int" else settings.values[key]
        for key, (name, kind) in OPTIONAL_PLATFORM_SETTINGS.items()
        if settings.get(key)
    }


def require_image(settings: Settings) -> str:
    """The tenants' image; the tenants root cannot be rendered without it."""
    image = settings.get(MLFLOW_IMAGE)
    if not image:
        raise UsageError(
            f"missing {MLFLOW_IMAGE} in {settings.path}: run `mlflowk8s init` (it pins the "
            "MLflow image by digest), or set it to ghcr.io/mlflow/mlflow:vX-full@sha256:…"
        )
    return image
