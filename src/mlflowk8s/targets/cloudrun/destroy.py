"""`destroy` and `remove-user --purge` of a cloudrun lab, phase by phase.

Without ``--delete-data`` every tenant is retired (services, jobs and access go; service
accounts, databases, database users and managed folders stay) and the Cloud SQL instance
is stopped (``cloudsql_activation_policy = "NEVER"``): storage and backups are still
billed, nothing else. The next `apply` renders the default (``ALWAYS``) and starts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflowk8s.targets.cloudrun.roots import PLATFORM, TENANTS, Roots

UNPROTECT = {"deletion_protection": "false"}
STOP_DATABASE = {"cloudsql_activation_policy": "NEVER"}


def destroy(
    roots: Roots, require_apply_settings: Callable[[], None], delete_data: bool
) -> list[str]:
    outputs = roots.platform_outputs()
    rendered = roots.render(outputs)
    rollout = roots.rollout
    platform_tf = roots.root(PLATFORM)
    tenants_exist = bool(outputs) and bool(roots.root(TENANTS).state_list())
    if tenants_exist:
        require_apply_settings()
    platform_files = [rendered.platform_path]
    if delete_data:
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
        roots.outputs_path.unlink(missing_ok=True)
        return []
    if not outputs:
        roots.progress.note("No platform to stop.")
        return []
    if tenants_exist and rendered.tenants is not None:
        retired = {name: {"members": entry["members"], "retired": True}
                   for name, entry in rendered.tenants["users"].items()}  # fmt: skip
        retire_all = roots.override("cloudrun-tenants-retire-all.tfvars.json", {"users": retired})
        rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered, retire_all), label="retire every tenant"
        )
    rollout.plan_and_apply(PLATFORM, platform_files, STOP_DATABASE,
                           label="stop the Cloud SQL instance")  # fmt: skip
    return kept(outputs)


def kept(outputs: dict[str, Any]) -> list[str]:
    return [
        f"Cloud SQL instance {outputs.get('sql_instance_name')}, stopped (every tenant's "
        "database and database user; storage and backups are still billed; "
        "`mlflowk8s apply` starts it again)",
        f"artifact bucket gs://{outputs.get('artifact_bucket')} (every tenant's folder)",
        "every tenant's service account",
        f"image cache {outputs.get('image_registry')}",
    ]


def purge_user(roots: Roots, require_apply_settings: Callable[[], None], name: str) -> None:
    outputs = roots.platform_outputs()
    if not outputs:
        return
    rendered = roots.render(outputs)
    tenants_tf = roots.root(TENANTS)
    from mlflowk8s.targets.cloudrun.roots import tenant_of

    targets = [a for a in tenants_tf.state_list() if tenant_of(a, {name}) == name]
    if not targets or rendered.tenants is None:
        return
    require_apply_settings()
    users = {n: e for n, e in rendered.tenants["users"].items() if n != name}
    without = roots.override("cloudrun-tenants-purge.tfvars.json", {"users": users})
    roots.rollout.plan_and_apply(
        TENANTS, roots.tenants_var_files(rendered, without), targets=targets,
        label=f"delete {name} and its data",
    )  # fmt: skip
