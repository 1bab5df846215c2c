"""Before planning: a root's state in the bucket is readable and was not lost.

Terraform reads a corrupt state as an error only once it plans that root (after the
platform may have changed), and a deleted state as an empty one: it would plan to create
every tenant again. The bucket is versioned, so both show: the current object is no
Terraform state, or it is absent (or a new, empty one of another lineage) while an earlier
version holds resources, or while this lab folder last saw it hold resources (recorded in
``.mlflowk8s/<env>/states-seen.json``: lineage per root). Either stops the run, naming the
version to restore when the bucket keeps one.
"""

from __future__ import annotations

import json
from typing import Any

from mlflowk8s.errors import OperationError
from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.google import settings as s
from mlflowk8s.google.roots import StateRoots
from mlflowk8s.google.state_bucket import RETRY_SECONDS, storage_client
from mlflowk8s.terraform.results import printable

STATE_OBJECT = "default.tfstate"
SEEN_FILE = "states-seen.json"


def check_state(roots: StateRoots, root: str) -> None:
    """Raise when ``root``'s state is unreadable or lost; nothing is changed."""
    from google.api_core.retry import Retry

    bucket_name = roots.settings.require(s.STATE_BUCKET)[s.STATE_BUCKET]
    name = f"{roots.backend(root)['prefix']}/{STATE_OBJECT}"
    where = f"gs://{bucket_name}/{name}"
    retry = Retry(timeout=RETRY_SECONDS)
    try:
        bucket = storage_client(roots.settings.get(s.PROJECT) or "").bucket(bucket_name)
        versions = sorted(
            bucket.list_blobs(prefix=name, versions=True, retry=retry, timeout=RETRY_SECONDS),
            key=lambda blob: int(blob.generation),
            reverse=True,
        )
        versions = [blob for blob in versions if blob.name == name]
        current = next((b for b in versions if b.time_deleted is None), None)
        earlier = [b for b in versions if b is not current]
        current_state = _read(current, retry) if current is not None else None
        previous = next(
            (
                (b, st)
                for b in earlier
                if (st := _read(b, retry)) is not None and st.get("resources")
            ),
            None,
        )
    except OperationError:
        raise
    except Exception as exc:  # google.api_core errors and network errors alike
        raise OperationError(
            f"cannot read the {root} state {where}: {printable(str(exc))}"
        ) from exc
    seen_path = roots.work / SEEN_FILE
    seen = _load(seen_path)
    # Keyed by the state's folder ("tenants", "cloudrun-tenants"): one environment's
    # roots of two targets are never mistaken for each other.
    key = roots.backend(root)["prefix"].rsplit("/", 1)[-1]
    restore = "; restore a good copy"
    if previous is not None:
        blob, _ = previous
        restore = (
            f"; restore its last good version with `gcloud storage cp {where}#{blob.generation} "
            f"{where}`, then run the command again"
        )
    if current is not None and current_state is None:
        raise OperationError(
            f"the {root} state {where} is not a readable Terraform state (corrupt or "
            f"overwritten): nothing was planned or changed{restore}"
        )
    lineages = {seen.get(key)} | ({previous[1].get("lineage")} if previous else set())
    lineages.discard(None)
    empty = current_state is None or not current_state.get("resources")
    if empty and lineages and (current_state or {}).get("lineage") not in lineages:
        state = "missing (deleted)" if current_state is None else "a new, empty state"
        raise OperationError(
            f"the {root} state {where} is {state}, but it held resources before: Terraform "
            f"would create them again; nothing was planned or changed{restore}"
        )
    if current_state is not None and current_state.get("resources"):
        seen[key] = current_state.get("lineage")
        write_atomic(seen_path, dumps(seen))


def _load(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read(blob: Any, retry: Any) -> dict[str, Any] | None:
    """The state in one object version, or None when it is no Terraform state."""
    # A listed version downloads its own generation.
    data = blob.download_as_bytes(retry=retry, timeout=RETRY_SECONDS)
    try:
        state = json.loads(data)
    except ValueError:
        return None
    if not isinstance(state, dict) or "lineage" not in state or "version" not in state:
        return None
    return state
