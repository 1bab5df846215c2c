"""`destroy` and `remove-user --purge` of a gcp lab, phase by phase.

Without ``--delete-data`` every tenant is retired and the cluster removed (targeted); the
network, Cloud SQL, bucket, static IP and DNS stay (DESIGN.md, "Destroy keeps data").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflowk8s.targets.gcp.roots import PLATFORM, TENANTS, Roots, tenant_target
from mlflowk8s.terraform.results import resource_type

# Platform resources that make up the cluster: `destroy` (without --delete-data) removes
# these and keeps the rest (network, Cloud SQL, bucket, IP, certificate, DNS).
CLUSTER_ADDRESSES = ("module.gke",)
# Resource types that live inside the cluster: they go with it.
CLUSTER_OBJECT_TYPES = ("kubernetes_",)
UNPROTECT = {"deletion_protection": "false"}


def destroy(
    roots: Roots, require_apply_settings: Callable[[], None], delete_data: bool
) -> list[str]:
    rendered = roots.render()
    rollout = roots.rollout
    platform_tf = roots.root(PLATFORM)
    outputs = roots.platform_outputs()
    tenants_exist = bool(outputs) and bool(roots.root(TENANTS).state_list())
    if tenants_exist:
        require_apply_settings()
    cluster = platform_tf.state_list(*CLUSTER_ADDRESSES)
    platform_files = [rendered.platform_path]
    if delete_data:
        if tenants_exist:
            if not cluster:
                forget_cluster_objects(roots)
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
    if tenants_exist and cluster:
        retired = {
            name: {**entry, "retired": True} for name, entry in rendered.tenants["users"].items()
        }
        retire_all = roots.override("tenants-retire-all.tfvars.json", {"users": retired})
        rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered, retire_all), label="retire every tenant"
        )
    if cluster:
        targets = list(CLUSTER_ADDRESSES)
        # Lift the cluster's deletion protection only: targeted, so the database instance
        # keeps its own.
        rollout.plan_and_apply(
            PLATFORM, platform_files, UNPROTECT, targets,
            label="lift the cluster's deletion protection",
        )  # fmt: skip
        rollout.plan_and_apply(
            PLATFORM, platform_files, UNPROTECT, targets, destroy=True, label="remove the cluster",
        )  # fmt: skip
        if tenants_exist:
            forget_cluster_objects(roots)
    else:
        roots.progress.note("No cluster to remove.")
    return kept(outputs)


def forget_cluster_objects(roots: Roots) -> None:
    """Drop Kubernetes objects from the tenants state once their cluster is gone.

    They went with the cluster; left in the state, the Kubernetes provider would try to
    reach a cluster that no longer exists on the next tenants plan or destroy.
    """
    tenants = roots.root(TENANTS)
    gone = [
        address for address in tenants.state_list()
        if resource_type(address).startswith(CLUSTER_OBJECT_TYPES)
    ]  # fmt: skip
    if gone:
        roots.progress.step("tenants: forgetting the objects that went with the cluster")
        tenants.state_rm(gone)


def kept(outputs: dict[str, Any]) -> list[str]:
    if not outputs:
        return []
    return [
        "network and Cloud NAT",
        f"Cloud SQL instance {outputs.get('sql_instance_name')} "
        "(every tenant's database and database user)",
        f"artifact bucket gs://{outputs.get('artifact_bucket')} (every tenant's folder)",
        f"static IP {outputs.get('gateway_ip_name')} ({outputs.get('gateway_ip_address')})",
        f"certificate map {outputs.get('certificate_map_name')} and DNS records",
    ]


def purge_user(roots: Roots, require_apply_settings: Callable[[], None], name: str) -> None:
    rendered = roots.render()
    if not roots.platform_outputs():
        return
    target = tenant_target(name)
    if not roots.root(TENANTS).state_list(target):
        return
    require_apply_settings()
    users = {n: e for n, e in rendered.tenants["users"].items() if n != name}
    without = roots.override("tenants-purge.tfvars.json", {"users": users})
    roots.rollout.plan_and_apply(
        TENANTS, roots.tenants_var_files(rendered, without), targets=[target],
        label=f"delete {name} and its data",
    )  # fmt: skip
