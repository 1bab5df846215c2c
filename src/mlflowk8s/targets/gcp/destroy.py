"""`destroy` and `remove-user --purge` of a gcp lab, phase by phase.

Without ``--delete-data`` every tenant is retired and the cluster removed (targeted); the
network, Cloud SQL, bucket, static IP and DNS stay (DESIGN.md, "Destroy keeps data"), and
the Cloud SQL instance is stopped when asked (``cloudsql_activation_policy = "NEVER"``,
targeted too: the next `apply` renders the default, ``ALWAYS``, and starts it).

Artifacts are deleted by the CLI before Terraform removes a managed folder or the bucket
(``google/purge.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mlflowk8s.errors import MlflowK8sError
from mlflowk8s.google.purge import again, database_kept, empty_owned_bucket, purge_tenant
from mlflowk8s.targets.base import Destroyed
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.roots import PLATFORM, TENANTS, Roots, tenant_target
from mlflowk8s.terraform.results import TerraformError, resource_type

# Platform resources that make up the cluster: `destroy` (without --delete-data) removes
# these and keeps the rest (network, Cloud SQL, bucket, IP, certificate, DNS).
CLUSTER_ADDRESSES = ("module.gke",)
# The database instance: `destroy` stops it by a plan targeted here.
DATABASE_ADDRESS = "module.cloudsql"
STOP_DATABASE = {"cloudsql_activation_policy": "NEVER"}
# The platform's artifact bucket: only an environment whose state holds it empties it.
ARTIFACT_STORE_ADDRESS = "module.artifact_store"
# Resource types that live inside the cluster: they go with it.
CLUSTER_OBJECT_TYPES = ("kubernetes_",)
UNPROTECT = {"deletion_protection": "false"}


def network_name(env: str) -> str:
    """The lab's VPC: infra/platform names it ``local.prefix`` (``mlflow-<environment>``)."""
    return f"mlflow-{env}"


def destroy(
    roots: Roots, require_apply_settings: Callable[[], None], delete_data: bool,
    stop_database: bool,
) -> Destroyed:  # fmt: skip
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
        return Destroyed(delete_everything(roots, outputs, tenants_exist, cluster))
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
    database = platform_tf.state_list(DATABASE_ADDRESS)
    if stop_database and database:
        rollout.plan_and_apply(PLATFORM, platform_files, STOP_DATABASE, [DATABASE_ADDRESS],
                               label="stop the Cloud SQL instance")  # fmt: skip
    return Destroyed(kept(outputs, stop_database), stop_database if database else None)


def delete_everything(
    roots: Roots, outputs: dict[str, Any], tenants_exist: bool, cluster: list[str]
) -> list[str]:
    """``--delete-data``: artifacts, tenants, platform; each step can be run again."""
    from mlflowk8s.google.iap_clients import release_clients

    rendered = roots.render()
    rollout = roots.rollout
    platform_tf = roots.root(PLATFORM)
    platform_files = [rendered.platform_path]
    # Before Terraform removes anything (checked first: a refusal deletes nothing).
    empty_owned_bucket(roots, outputs, bool(platform_tf.state_list(ARTIFACT_STORE_ADDRESS)))
    if tenants_exist:
        if not cluster:
            forget_cluster_objects(roots)
        rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered), destroy=True,
            label="remove every tenant and its data",
        )  # fmt: skip
    left: list[str] = []
    if platform_tf.state_list():
        rollout.plan_and_apply(PLATFORM, platform_files, UNPROTECT,
                               label="lift deletion protection")  # fmt: skip
        left = remove_platform(roots, platform_files)
    release_clients(roots.lab, roots.progress)
    if not left:
        roots.outputs_path.unlink(missing_ok=True)
    return left


def remove_platform(roots: Roots, platform_files: list[Any]) -> list[str]:
    """Destroy the platform; the VPC waits for its Private Service Access peering.

    Returns what stays: nothing, or the VPC and its range when Google still holds the
    peering after the wait (they cost nothing; a later run removes them).
    """
    from mlflowk8s.google.network import SERVICE_NETWORKING_PEERING, Compute, wait_seconds
    from mlflowk8s.google.network import remove_service_networking_peering as remove_peering
    from mlflowk8s.google_api import admin_session

    def destroy_all() -> None:
        roots.rollout.plan_and_apply(PLATFORM, platform_files, UNPROTECT, destroy=True,
                                     label="remove everything")  # fmt: skip

    try:
        destroy_all()
        return []
    except TerraformError as failure:
        project = roots.settings.require(s.PROJECT)[s.PROJECT]
        network = network_name(roots.lab.env)
        try:
            session = admin_session()
            peerings = Compute(project, network, os.environ, session).peerings() or []
        except MlflowK8sError:
            raise failure from None  # Terraform's own error is the one to see
        if SERVICE_NETWORKING_PEERING not in peerings:
            raise  # another cause: Terraform's own error says which
        roots.progress.note(
            f"VPC {network} is still peered with {SERVICE_NETWORKING_PEERING} (left by the "
            "database's networking connection): removing the peering"
        )
    if remove_peering(project, network, roots.progress, session=session):
        destroy_all()
        return []
    minutes = wait_seconds(os.environ) / 60
    return [
        f"VPC {network} and its Private Service Access range (no cost): Google still holds "
        f"the {SERVICE_NETWORKING_PEERING} peering after {minutes:g} min; run "
        f"{again(roots, 'destroy --delete-data')} later to remove them"
    ]


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


def kept(outputs: dict[str, Any], stopped: bool) -> list[str]:
    if not outputs:
        return []
    return [
        "network and Cloud NAT",
        database_kept(outputs, stopped),
        f"artifact bucket gs://{outputs.get('artifact_bucket')} (every tenant's folder)",
        f"static IP {outputs.get('gateway_ip_name')} ({outputs.get('gateway_ip_address')})",
        f"certificate map {outputs.get('certificate_map_name')} and DNS records",
    ]


def purge_user(roots: Roots, require_apply_settings: Callable[[], None], name: str) -> None:
    """Delete the tenant's artifacts, then its Terraform resources (server, database,
    database user, managed folder). Run again after a failure: each step resumes."""
    rendered = roots.render()
    outputs = roots.platform_outputs()
    if not outputs:
        return
    target = tenant_target(name)
    if not roots.root(TENANTS).state_list(target):
        return
    require_apply_settings()
    users = {n: e for n, e in rendered.tenants["users"].items() if n != name}
    without = roots.override("tenants-purge.tfvars.json", {"users": users})

    def remove() -> None:
        roots.rollout.plan_and_apply(
            TENANTS, roots.tenants_var_files(rendered, without), targets=[target],
            label=f"delete {name} and its data",
        )  # fmt: skip

    purge_tenant(roots, name, outputs, remove, "server, database, database user, managed folder")
