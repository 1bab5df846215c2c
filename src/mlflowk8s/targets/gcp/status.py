"""`status` of a gcp lab: the tenants as ``google/status.py`` reads them, and the lab's
address facts."""

from __future__ import annotations

import os
from typing import Any

from mlflowk8s.google import status
from mlflowk8s.targets.base import Status
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.roots import Roots


def lab_status(roots: Roots, check_health: bool = True) -> Status:
    return status.lab_status(roots, lambda out, ten: facts(roots, out, ten), check_health)


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
