"""`destroy` and `remove-user --purge` of a cloudrun lab, phase by phase.

Without ``--delete-data`` every tenant is retired (services, jobs and access go; service
accounts, databases, database users and managed folders stay) and, when asked, the Cloud
SQL instance is stopped (``cloudsql_activation_policy = "NEVER"``): storage and backups
are still billed, nothing else. The next `apply` renders the default (``ALWAYS``) and
starts it. Artifacts are deleted by the CLI before Terraform removes a managed folder or
the bucket (``google/purge.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflowk8s.google.purge import database_kept, empty_owned_bucket, purge_tenant
from mlflowk8s.targets.base import Destroyed
from mlflowk8s.targets.cloudrun.roots import PLATFORM, TENANTS, Roots, tenant_of

UNPROTECT = {"deletion_protection": "false"}
STOP_DATABASE = {"cloudsql_activation_policy": "NEVER"}


def destroy(
    roots: Roots, require_apply_settings: Callable[[], None], delete_data: bool,
    stop_database: bool,
) -> Destroyed:  # fmt: skip
    outputs = roots.platform_outputs()
    rendered = roots.render(outputs)
    rollout = roots.rollout
    tenants_exist = bool(outputs) and bool(roots.root(TENANTS).state_list())
    if tenants_exist:
        require_apply_settings()
    if delete_data:
        delete_everything(roots, outputs, tenants_exist)
        return Destroyed()
    if not outputs:
        roots.progress.note("No platform to stop.")
        return Destroyed()
    if tenants_exist and rendered.tenants is not None:
        retired = {name: {"members": entry["members"], "retired": True}
                   for name, entry in rendered.tenants["users"].items()}  # fmt: skip
        retire_all = roots.override("cloudrun-tenants-retire-all.tfvars.json", {"users": retired})
        rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered, retire_all), label="retire every tenant"
        )
    if stop_database:
        rollout.plan_and_apply(PLATFORM, [rendered.platform_path], STOP_DATABASE,
                               label="stop the Cloud SQL instance")  # fmt: skip
    return Destroyed(kept(outputs, stop_database), stop_database)


def delete_everything(roots: Roots, outputs: dict[str, Any], tenants_exist: bool) -> None:
    """``--delete-data``: artifacts, tenants, platform, IAP clients; each step can be run
    again."""
    from mlflowk8s.google.iap_clients import release_clients

    rendered = roots.render(outputs)
    rollout = roots.rollout
    platform_tf = roots.root(PLATFORM)
    platform_files = [rendered.platform_path]
    # Before Terraform removes anything (checked first: a refusal deletes nothing).
    empty_owned_bucket(roots, outputs, bool(outputs.get("artifact_bucket")))
    if tenants_exist:
        rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered), destroy=True,
            label="remove every tenant and its data",
        )  # fmt: skip
    if platform_tf.state_list():
        rollout.plan_and_apply(PLATFORM, platform_files, UNPROTECT,
                               label="lift deletion protection")  # fmt: skip
        rollout.plan_and_apply(PLATFORM, platform_files, UNPROTECT, destroy=True,
                               label="remove everything")  # fmt: skip
    release_clients(roots.lab, roots.progress)
    roots.outputs_path.unlink(missing_ok=True)


def kept(outputs: dict[str, Any], stopped: bool) -> list[str]:
    return [
        database_kept(outputs, stopped),
        f"artifact bucket gs://{outputs.get('artifact_bucket')} (every tenant's folder)",
        "every tenant's service account",
        f"image cache {outputs.get('image_registry')}",
    ]


def purge_user(roots: Roots, require_apply_settings: Callable[[], None], name: str) -> None:
    """Delete the tenant's artifacts, then its Terraform resources (service, jobs, service
    account, database, database user, managed folder). Run again after a failure."""
    outputs = roots.platform_outputs()
    if not outputs:
        return
    rendered = roots.render(outputs)
    targets = [a for a in roots.root(TENANTS).state_list() if tenant_of(a, {name}) == name]
    if not targets or rendered.tenants is None:
        return
    require_apply_settings()
    users = {n: e for n, e in rendered.tenants["users"].items() if n != name}
    without = roots.override("cloudrun-tenants-purge.tfvars.json", {"users": users})

    def remove() -> None:
        roots.rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered, without), targets=targets,
            label=f"delete {name} and its data",
        )  # fmt: skip

    purge_tenant(roots, name, outputs, remove,
                 "service, service account, database, database user, managed folder")  # fmt: skip
