"""`status` of a cloudrun lab: every tenant from the tenants' outputs, and the lab's facts."""

from __future__ import annotations

from typing import Any

from mlflowk8s.health import probe_all
from mlflowk8s.mlflow_versions import deployed
from mlflowk8s.targets.base import Status, TenantStatus
from mlflowk8s.targets.cloudrun import settings as s
from mlflowk8s.targets.cloudrun.roots import TENANTS, Roots

HEALTH_TIMEOUT_SECONDS = 5.0


def lab_status(roots: Roots, check_health: bool = True) -> Status:
    outputs = roots.platform_outputs()
    if not outputs:
        return Status(facts={"platform": "not created yet (run `mlflowk8s apply`)"})
    tenants_out = roots.root(TENANTS).outputs()
    # The version of what each server runs: its deployed image's digest, named by the pin.
    pinned = roots.settings.get(s.MLFLOW_IMAGE)
    tenants: list[TenantStatus] = []
    for name, info in sorted((tenants_out.get("tenants") or {}).items()):
        retired = bool(info.get("retired"))
        tenants.append(
            TenantStatus(
                name=name,
                # The deterministic URL, with the path MLflow's clients append to.
                url=str(info.get("url", "")).rstrip("/") + "/",
                members=list(info.get("members") or []),
                state="retired" if retired else "applied",
                mlflow_version=None if retired else deployed(info.get("image"), pinned),
            )
        )
    if check_health:
        # A scaled-to-zero service starts for this request; IAP answers before it does.
        probe_all([t for t in tenants if t.state != "retired"], HEALTH_TIMEOUT_SECONDS)
    return Status(tenants=tenants, facts=facts(outputs, tenants_out))


def facts(outputs: dict[str, Any], tenants_out: dict[str, Any]) -> dict[str, Any]:
    return {
        "project_number": outputs.get("project_number"),
        "region": outputs.get("region"),
        "database": f"Cloud SQL {outputs.get('sql_instance_name')}",
        "artifact_bucket": f"gs://{outputs.get('artifact_bucket')}",
        "image_registry": outputs.get("image_registry"),
        "sign-in": "IAP's Google-managed client (members of the project's organization)",
    }
