"""The settings every Google target reads from ``.env``: their keys and their checks.

Spelled and checked once, here, so a lab moves between the gcp and cloudrun targets by
changing only its target, and neither target's package imports the other's.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mlflowk8s.errors import UsageError
from mlflowk8s.names import shown

PROJECT = "GCP_PROJECT"
REGION = "GCP_REGION"
STATE_BUCKET = "TF_GCS_BUCKET"
ARTIFACT_BUCKET = "MLFLOW_GCS_BUCKET"
MLFLOW_IMAGE = "MLFLOW_IMAGE"
CLOUDSQL_TIER = "CLOUDSQL_TIER"
CLOUDSQL_MAX_CONNECTIONS = "CLOUDSQL_MAX_CONNECTIONS"
# More OAuth client ids (comma-separated) IAP accepts tokens of, besides the desktop
# client's; the CLI keeps them in the project's IAP settings (not Terraform: one object
# per project, shared by every environment).
IAP_PROGRAMMATIC_CLIENT_IDS = "IAP_PROGRAMMATIC_CLIENT_IDS"

# The Cloud SQL tier both targets' roots default to: what sizing and `cost` assume unset.
DEFAULT_CLOUDSQL_TIER = "db-g1-small"

# Whole-string patterns (fullmatch): a trailing newline must not reach the tfvars.
_PROJECT_RE = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_REGION_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._-]+")

_BUCKET = "a bucket name (3-63 chars: a-z, 0-9, -, _, .)"
PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    PROJECT: (_PROJECT_RE, "a Google Cloud project id (6-30 chars: a-z, 0-9, -)"),
    REGION: (_REGION_RE, "a Google Cloud region such as europe-west1"),
    STATE_BUCKET: (_BUCKET_RE, _BUCKET),
    ARTIFACT_BUCKET: (_BUCKET_RE, _BUCKET),
}


def pattern_check(key: str, pattern: re.Pattern[str], what: str) -> Callable[[str], object]:
    """A check that ``key``'s whole value matches ``pattern`` (else: it is not ``what``)."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise UsageError(f"{key}={shown(value)} is not {what}")
        return value

    return check


def client_ids(value: str) -> list[str]:
    """A comma-separated list of OAuth client ids."""
    ids = [item.strip() for item in value.split(",") if item.strip()]
    bad = [item for item in ids if not _CLIENT_ID_RE.fullmatch(item)]
    if bad:
        raise UsageError(f"{IAP_PROGRAMMATIC_CLIENT_IDS}: {bad[0]!r} is not an OAuth client id")
    return ids


CHECKS: dict[str, Callable[[str], object]] = {
    **{key: pattern_check(key, *PATTERNS[key]) for key in PATTERNS},
    IAP_PROGRAMMATIC_CLIENT_IDS: client_ids,
}


# The bucket names `init` writes to .env when the admin gives none. Written once, never
# derived at each run: the state bucket holds the state of every resource of the lab, so
# its name must not follow a later change of GCP_PROJECT, and `plan` must never look for a
# bucket `init` has not created (a lab missing one is told to run `mlflowk8s init`).
BUCKET_PATTERNS = {STATE_BUCKET: "{project}-tfstate", ARTIFACT_BUCKET: "{project}-mlflow-artifacts"}


def bucket_defaults(project: str) -> dict[str, str]:
    """The buckets `init` names after the project when the admin names none."""
    return {key: pattern.format(project=project) for key, pattern in BUCKET_PATTERNS.items()}
