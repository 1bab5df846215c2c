"""`unlock`: release a state lock left by a killed run, found in the state bucket."""

from __future__ import annotations

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.google.roots import StateRoots
from mlflowk8s.google.settings import PROJECT, STATE_BUCKET
from mlflowk8s.terraform.results import printable


def unlock(roots: StateRoots, lock_id: str) -> str:
    """Release the state lock ``lock_id``; returns the root that held it."""
    holders = locks(roots)
    root = next((r for r, held_id in holders.items() if held_id == lock_id), None)
    if root is None:
        held = ", ".join(f"{r} ({held_id})" for r, held_id in holders.items())
        raise UsageError(
            f"no state lock {lock_id} in environment {roots.lab.env}"
            + (f"; locked now: {held}" if held else ": no state is locked")
        )
    result = roots.root(root).force_unlock(lock_id)
    if result.code != 0:
        last = (result.stderr.strip().splitlines() or [f"exit code {result.code}"])[-1]
        raise OperationError(f"terraform force-unlock ({root}) failed: {printable(last)}")
    return root


def locks(roots: StateRoots) -> dict[str, str]:
    """The lock ID of each root whose state is locked now.

    The gcs backend's lock ID is the generation of the ``.tflock`` object.
    """
    from mlflowk8s.google.state_bucket import storage_client

    bucket_name = roots.settings.require(STATE_BUCKET)[STATE_BUCKET]
    try:
        bucket = storage_client(roots.settings.get(PROJECT) or "").bucket(bucket_name)
        found: dict[str, str] = {}
        for root in roots.layout.roots:
            prefix = roots.backend(root)["prefix"]
            blob = bucket.get_blob(f"{prefix}/default.tflock")
            if blob is not None:
                found[root] = str(blob.generation)
        return found
    except Exception as exc:  # google.api_core errors and network errors alike
        raise OperationError(f"cannot read the state locks in gs://{bucket_name}: {exc}") from exc
