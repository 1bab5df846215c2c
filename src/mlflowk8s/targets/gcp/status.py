"""`status` of a gcp lab: every tenant from the tenants' outputs, and the lab's address facts."""

from __future__ import annotations

import os
from typing import Any

from mlflowk8s.health import probe_all
from mlflowk8s.mlflow_versions import deployed
from mlflowk8s.targets.base import Status, TenantStatus
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.roots import TENANTS, Roots

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
                url=str(info.get("url", "")),
                members=list(info.get("members") or []),
                state="retired" if retired else "applied",
                mlflow_version=None if retired else deployed(info.get("image"), pinned),
            )
        )
    if check_health:
        probe_all([t for t in tenants if t.state != "retired"], HEALTH_TIMEOUT_SECONDS)
    return Status(tenants=tenants, facts=facts(roots, outputs, tenants_out))


def facts(roots: Roots, outputs: dict[str, Any], tenants_out: dict[str, Any]) -> dict[str, Any]:
    domain = roots.settings.get(s.DOMAIN) or ""
    found: dict[str, Any] = {
        "domain": domain,
        "ip_address": outputs.get("gateway_ip_address"),
        "cluster": f"{outputs.get('cluster_name')} ({outputs.get('cluster_location')})",
    }
    servers = outputs.get("dns_name_servers") or []
    found["name_servers"] = (
        servers if servers
        else f"none managed here: point {domain} (A) at {outputs.get('gateway_ip_address')}"
    )  # fmt: skip
    auth = outputs.get("certificate_dns_authorization")
    if isinstance(auth, dict) and auth.get("name"):
        found["dns_authorization"] = f"{auth.get('name')} {auth.get('type')} {auth.get('data')}"
    if tenants_out.get("gateway_name"):
        found["gateway"] = tenants_out["gateway_name"]
    found["certificate"] = certificate(roots.settings.get(s.PROJECT) or "", outputs)
    return found


def certificate(project: str, outputs: dict[str, Any]) -> str:
    from mlflowk8s.errors import MlflowK8sError
    from mlflowk8s.google_api import certificate_state

    try:
        return certificate_state(project, str(outputs.get("certificate_map_name")), os.environ)
    except MlflowK8sError as exc:
        return f"unknown: {exc}"
