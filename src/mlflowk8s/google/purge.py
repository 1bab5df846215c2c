"""Deleting a Google lab's data in order (the artifacts first, then Terraform's
resources), and how `destroy` names the database it keeps.

The same on both Google targets: artifacts are deleted by the CLI (``artifacts.py`` says
why) and only from the bucket this environment's settings and platform state both name
and no other environment's state names; each step can be run again after a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflowk8s.google import settings as s
from mlflowk8s.google.roots import StateRoots


def again(roots: StateRoots, args: str) -> str:
    """The command that runs ``args`` again in this environment, quoted for a message."""
    flag = "" if roots.lab.env == "default" else f" --env {roots.lab.env}"
    return f"`mlflowk8s{flag} {args}`"


def storage(roots: StateRoots) -> Any:
    from mlflowk8s.google.state_bucket import storage_client

    return storage_client(roots.settings.require(s.PROJECT)[s.PROJECT])


def owned_artifact_bucket(roots: StateRoots, outputs: dict[str, Any]) -> str:
    """The artifact bucket, once settings and state agree and no other environment names
    it (else one clear refusal, before anything is deleted)."""
    from mlflowk8s.google.artifacts import check_bucket_is_ours
    from mlflowk8s.google.environments import platform_output_by_env

    state_bucket = roots.settings.require(s.STATE_BUCKET)[s.STATE_BUCKET]
    others = platform_output_by_env(storage(roots), state_bucket, "artifact_bucket")
    others.pop(roots.lab.env, None)
    return check_bucket_is_ours(
        outputs.get("artifact_bucket"),
        settings_bucket=roots.settings.get(s.ARTIFACT_BUCKET),
        settings_where=f"{roots.settings.path} ({s.ARTIFACT_BUCKET})",
        env=roots.lab.env,
        others={name: str(value) for name, value in others.items()},
    )


def purge_tenant(
    roots: StateRoots, name: str, outputs: dict[str, Any], remove: Callable[[], None], what: str
) -> None:
    """Delete tenant ``name``'s artifacts, then its Terraform resources (``remove``, which
    deletes ``what``: e.g. "server, database, database user, managed folder")."""
    from mlflowk8s.google.artifacts import delete_tenant_artifacts

    bucket = owned_artifact_bucket(roots, outputs)
    rerun = again(roots, f"remove-user {name} --purge")
    try:
        delete_tenant_artifacts(storage(roots), bucket, name, roots.progress)
    except Exception:
        roots.progress.note(
            f"{name}: some artifacts may be left; its {what} are untouched: run {rerun} again"
        )
        raise
    try:
        remove()
    except Exception:
        roots.progress.note(
            f"{name}: its artifacts are deleted; what Terraform did not remove ({what}) is "
            f"left: run {rerun} again"
        )
        raise


def empty_owned_bucket(roots: StateRoots, outputs: dict[str, Any], in_state: bool) -> None:
    """``--delete-data``: empty the artifact bucket when this environment's platform state
    holds it (``in_state``); absent from the state, there is nothing of ours to empty."""
    from mlflowk8s.google.artifacts import empty_bucket

    if outputs and in_state:
        empty_bucket(storage(roots), owned_artifact_bucket(roots, outputs), roots.progress)


def database_kept(outputs: dict[str, Any], stopped: bool) -> str:
    """The kept database, as `destroy` tells it: stopped, or billed while it runs."""
    what = f"Cloud SQL instance {outputs.get('sql_instance_name')}"
    if stopped:
        return (
            f"{what}, stopped (every tenant's database and database user; storage and "
            "backups are still billed; `mlflowk8s apply` starts it again)"
        )
    return (
        f"{what}, not stopped (every tenant's database and database user; billed while it runs: "
        "`mlflowk8s destroy --stop-database` stops it)"
    )
