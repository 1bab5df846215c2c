"""The Terraform state bucket: created with the protections state needs, or checked.

State holds every resource of the lab, so the bucket gets object versioning (an old state
can be restored), uniform bucket-level access and enforced public access prevention.
``STORAGE_EMULATOR_HOST`` points google-cloud-storage at an emulator (the tests do).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from mlflowk8s.errors import CredentialsError, OperationError

ADC_REFUSED = (
    "Google refused the Application Default Credentials (expired or revoked): run "
    "`gcloud auth application-default login` again"
)


@dataclass
class BucketReport:
    name: str
    created: bool = False
    fixed: list[str] = field(default_factory=list)
    # Protections the storage server did not report (Cloud Storage always does; an
    # emulator may not model them), so they could be neither checked nor fixed.
    unverified: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.fixed)


def storage_client(project: str) -> Any:
    """A google-cloud-storage client from Application Default Credentials."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return storage.Client(project=project, credentials=anonymous)
    from mlflowk8s.google_api import admin_credentials

    credentials = admin_credentials("devstorage.full_control")
    return storage.Client(project=project, credentials=credentials)


# Give up on an unreachable Cloud Storage after this long (the library's own is 120 s).
RETRY_SECONDS = 30.0

IAM_PROTECTIONS = ("uniform bucket-level access", "public access prevention")


def _missing_protections(bucket: Any) -> list[str]:
    missing = []
    if not bucket.versioning_enabled:
        missing.append("object versioning")
    if "iamConfiguration" in bucket._properties:
        iam = bucket.iam_configuration
        if not iam.uniform_bucket_level_access_enabled:
            missing.append(IAM_PROTECTIONS[0])
        if iam.public_access_prevention != "enforced":
            missing.append(IAM_PROTECTIONS[1])
    return missing


def _unreported(bucket: Any) -> list[str]:
    return [] if "iamConfiguration" in bucket._properties else list(IAM_PROTECTIONS)


def _protect(bucket: Any) -> None:
    bucket.versioning_enabled = True
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.iam_configuration.public_access_prevention = "enforced"


def ensure_state_bucket(project: str, name: str, location: str) -> BucketReport:
    """Create the bucket with its protections, or add the ones an existing bucket lacks."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from google.cloud.storage.retry import DEFAULT_RETRY

    retry = DEFAULT_RETRY.with_timeout(RETRY_SECONDS)
    client = storage_client(project)
    report = BucketReport(name=name)
    try:
        bucket = client.lookup_bucket(name, retry=retry)
        if bucket is None:
            bucket = client.bucket(name)
            _protect(bucket)
            bucket = client.create_bucket(bucket, project=project, location=location, retry=retry)
            report.created = True
            report.unverified = _unreported(bucket)
            return report
        report.unverified = _unreported(bucket)
        report.fixed = _missing_protections(bucket)
        if report.fixed:
            _protect(bucket)
            bucket.patch()
            still = _missing_protections(client.get_bucket(name, retry=retry))
            if still:
                raise OperationError(
                    f"state bucket gs://{name} still lacks {', '.join(still)} after fixing it"
                )
    except gexc.Forbidden as exc:
        raise OperationError(
            f"no permission on state bucket gs://{name} in project {project}: "
            "you need roles/storage.admin"
        ) from exc
    except gexc.Conflict as exc:
        raise OperationError(
            f"state bucket name gs://{name} is taken by another project: "
            "choose another with --state-bucket"
        ) from exc
    except gexc.RetryError as exc:
        raise OperationError(
            f"cannot reach Cloud Storage for gs://{name} (gave up after {RETRY_SECONDS:.0f} s): "
            f"{exc.cause.__class__.__name__ if exc.cause else 'no answer'}"
        ) from exc
    except gexc.GoogleAPIError as exc:
        raise OperationError(f"state bucket gs://{name}: {exc.__class__.__name__}: {exc}") from exc
    except auth_exc.RefreshError as exc:
        raise CredentialsError(ADC_REFUSED) from exc
    except (auth_exc.TransportError, OSError) as exc:
        raise OperationError(f"cannot reach Cloud Storage for gs://{name}: {exc}") from exc
    return report


def prepare_state_bucket(
    project: str,
    name: str,
    location: str,
    say: Callable[[str], None],
    busy: Callable[[str], AbstractContextManager[object]],
) -> bool:
    """`init`'s step: the bucket first (if it fails, no lab file has been touched); changed?"""
    with busy(f"Checking state bucket gs://{name} ..."):
        bucket = ensure_state_bucket(project, name, location)
    if bucket.created:
        say(f"Created state bucket gs://{bucket.name} (versioned, private).")
    elif bucket.fixed:
        say(f"State bucket gs://{bucket.name}: turned on {', '.join(bucket.fixed)}.")
    if bucket.unverified:
        say(f"Note: the storage server does not report {' or '.join(bucket.unverified)}.")
    return bucket.changed
