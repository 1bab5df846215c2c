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

from mlflowk8s import unreachable
from mlflowk8s.errors import OperationError


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
    """A google-cloud-storage client from Application Default Credentials, checked first:
    the library would retry a refused or unreachable token endpoint until it gives up."""
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return storage.Client(project=project, credentials=anonymous)
    from mlflowk8s.google_api import check_admin_credentials

    credentials = check_admin_credentials("devstorage.full_control")
    return storage.Client(project=project, credentials=credentials)


# Give up on an unreachable Cloud Storage after this long (the library's own is 120 s).
RETRY_SECONDS = 30.0


def storage_retry() -> Any:
    """The library's retry, bounded, and not for what waiting cannot cure (a host name
    that does not resolve, a refused connection): those are said at once."""
    from google.cloud.storage.retry import DEFAULT_RETRY, _should_retry

    def transient(exc: Exception) -> bool:
        return bool(_should_retry(exc)) and not unreachable.is_permanent(exc)

    return DEFAULT_RETRY.with_predicate(transient).with_timeout(RETRY_SECONDS)


def storage_failure(exc: Exception, what: str) -> OperationError:
    """Cloud Storage not reached for ``what`` (a bucket), with the cause in a few words."""
    from google.api_core import exceptions as gexc

    if isinstance(exc, gexc.RetryError):
        last = exc.cause if exc.cause is not None else exc
        return OperationError(f"{what}: {unreachable.describe(last, storage_host())} "
                              f"(gave up after {RETRY_SECONDS:.0f} s)")  # fmt: skip
    return OperationError(f"{what}: {unreachable.describe(exc, storage_host())}")


def storage_host() -> str:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    return unreachable.host_of_url(emulator) if emulator else "storage.googleapis.com"


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

    from mlflowk8s.google_api import credentials_failure

    retry = storage_retry()
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
        raise storage_failure(exc, f"state bucket gs://{name}") from exc
    except gexc.GoogleAPIError as exc:
        raise OperationError(f"state bucket gs://{name}: {exc.__class__.__name__}: {exc}") from exc
    except auth_exc.GoogleAuthError as exc:
        raise credentials_failure(exc) from exc
    except OSError as exc:  # requests' errors are OSErrors
        raise storage_failure(exc, f"state bucket gs://{name}") from exc
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
