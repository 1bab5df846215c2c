"""Deleting a lab's artifacts in its Cloud Storage bucket: one tenant's, or all of them.

Terraform cannot do it: a managed folder's delete leaves its objects (and fails while any
exist), and the artifact bucket is never ``force_destroy``. So the CLI deletes the objects
itself, every version, before Terraform removes the folder or the bucket; a tenant later
re-added under the same name then starts empty instead of inheriting them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.progress import Progress

# Deletes go out in chunks of this many, this many at a time; progress moves per chunk.
# (Cloud Storage's JSON batch endpoint would save requests, but emulators lack it, and one
# code path for both is the one the tests prove.)
CHUNK = 100
WORKERS = 8
# Give up on one request after this long (the library's own is 120 s).
RETRY_SECONDS = 60.0


def tenant_prefix(user: str) -> str:
    """The tenant's objects: exactly ``<user>/`` (``alice/``, never ``alice2/``)."""
    if not user or "/" in user:
        raise UsageError(f"not a tenant name: {user!r}")
    return f"{user}/"


@dataclass(frozen=True)
class Version:
    name: str
    generation: int | None


def _versions(client: Any, bucket: str, prefix: str) -> list[Version]:
    # Every generation: with object versioning on, deleting only the live object would
    # keep the data as a noncurrent version.
    blobs = client.list_blobs(bucket, prefix=prefix, versions=True)
    return [Version(blob.name, blob.generation) for blob in blobs]


def _chunks(items: Sequence[Version]) -> Iterator[Sequence[Version]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def delete_objects(client: Any, bucket: str, prefix: str, progress: Progress) -> int:
    """Delete every version of every object under ``prefix``; returns how many went.

    Safe to run again after a failure: what is gone is not listed again.
    """
    from google.api_core import exceptions as gexc
    from google.cloud.storage.retry import DEFAULT_RETRY

    retry = DEFAULT_RETRY.with_timeout(RETRY_SECONDS)
    where = f"gs://{bucket}/{prefix}"
    try:
        versions = _versions(client, bucket, prefix)
    except gexc.NotFound:
        return 0  # no bucket, nothing to delete
    except gexc.GoogleAPIError as exc:
        raise OperationError(f"cannot list {where}: {exc.__class__.__name__}: {exc}") from exc
    handle = client.bucket(bucket)

    def delete(version: Version) -> None:
        # Gone already (a second run, or a lifecycle rule): that is what we wanted.
        with contextlib.suppress(gexc.NotFound):
            handle.delete_blob(version.name, generation=version.generation, retry=retry)

    done = 0
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for chunk in _chunks(versions):
            try:
                list(pool.map(delete, chunk))
            except gexc.GoogleAPIError as exc:
                raise OperationError(
                    f"{where}: deleted {done} of {len(versions)} objects, then "
                    f"{exc.__class__.__name__}: {exc}"
                ) from exc
            done += len(chunk)
            progress.advance(done, len(versions), chunk[-1].name)
    return done


def soft_delete_note(client: Any, bucket: str) -> str | None:
    """What the bucket's soft delete keeps of deleted objects, if it keeps any."""
    try:
        policy = client.get_bucket(bucket).soft_delete_policy
    except Exception:  # the note is a courtesy: the deletion is done
        return None
    seconds = policy.retention_duration_seconds if policy is not None else None
    if not seconds:
        return None
    days = int(seconds) / 86400
    return (
        f"gs://{bucket} has soft delete on: Cloud Storage keeps the deleted objects for "
        f"{days:g} days (restorable, and billed) before they are gone"
    )


def delete_tenant_artifacts(client: Any, bucket: str, user: str, progress: Progress) -> int:
    prefix = tenant_prefix(user)
    progress.step(f"deleting {user}'s artifacts in gs://{bucket}/{prefix}")
    count = delete_objects(client, bucket, prefix, progress)
    progress.note(f"Deleted {count} objects (every version) under gs://{bucket}/{prefix}")
    note = soft_delete_note(client, bucket) if count else None
    if note:
        progress.note(note)
    return count


def empty_bucket(client: Any, bucket: str, progress: Progress) -> int:
    progress.step(f"emptying the artifact bucket gs://{bucket}")
    count = delete_objects(client, bucket, "", progress)
    progress.note(f"Deleted {count} objects (every version) in gs://{bucket}")
    note = soft_delete_note(client, bucket) if count else None
    if note:
        progress.note(note)
    return count


def check_bucket_is_ours(
    bucket: str | None,
    *,
    settings_bucket: str | None,
    settings_where: str,
    env: str,
    others: Mapping[str, str],
) -> str:
    """The artifact bucket to delete from, once it is this environment's and no other's.

    ``bucket`` is what this environment's platform state names, ``settings_bucket`` what
    its settings name; ``others`` maps each other environment to the bucket its state
    names. Anything else is refused before a single object is deleted: two environments
    of one lab must not wipe each other's artifacts.
    """
    if not bucket:
        raise UsageError(
            f"environment {env}'s platform state names no artifact bucket: nothing was deleted"
        )
    if settings_bucket != bucket:
        raise UsageError(
            f"the artifact bucket in {settings_where} (gs://{settings_bucket}) is not the one "
            f"environment {env}'s platform state names (gs://{bucket}): nothing was deleted; "
            "set it back, or apply first"
        )
    sharing = sorted(name for name, other in others.items() if other == bucket)
    if sharing:
        raise UsageError(
            f"gs://{bucket} is also named by the platform state of environment "
            f"{', '.join(sharing)}: nothing was deleted"
        )
    return bucket
