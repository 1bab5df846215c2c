"""`status` of a cloudrun lab: the tenants as ``google/status.py`` reads them, and the lab's
facts."""

from __future__ import annotations

from typing import Any

from mlflowk8s.google import status
from mlflowk8s.targets.base import Status
from mlflowk8s.targets.cloudrun.roots import Roots


def lab_status(roots: Roots, check_health: bool = True) -> Status:
    # The deterministic URL, with the path MLflow's clients append to.
    return status.lab_status(roots, facts, check_health, url=lambda u: u.rstrip("/") + "/")


def facts(outputs: dict[str, Any], tenants_out: dict[str, Any]) -> dict[str, Any]:
    return {
        "project_number": outputs.get("project_number"),
        "region": outputs.get("region"),
        "database": f"Cloud SQL {outputs.get('sql_instance_name')}",
        "artifact_bucket": f"gs://{outputs.get('artifact_bucket')}",
        "image_registry": outputs.get("image_registry"),
        "sign-in": "IAP's Google-managed client (members of the project's organization)",
    }
