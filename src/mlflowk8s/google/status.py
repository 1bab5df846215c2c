"""`status` of a Google lab: every tenant from the tenants root's outputs, probed, with the
target's own facts beside them (both Google targets read their outputs the same way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlflowk8s.google.roots import StateRoots
from mlflowk8s.google.settings import MLFLOW_IMAGE
from mlflowk8s.health import probe_all
from mlflowk8s.mlflow_versions import deployed
from mlflowk8s.targets.base import Status, TenantStatus

HEALTH_TIMEOUT_SECONDS = 5.0

# The target's facts from the platform's outputs and the tenants root's.
Facts = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


def lab_status(
    roots: StateRoots, facts: Facts, check_health: bool, url: Callable[[str], str] = str
) -> Status:
    """``url``: a tenant's URL as ``status`` shows it, from the one its outputs give."""
    outputs = roots.platform_outputs()
    if not outputs:
        return Status(facts={"platform": "not created yet (run `mlflowk8s apply`)"})
    tenants_out = roots.root(roots.layout.tenants).outputs()
    # The version of what each server runs: its deployed image's digest, named by the pin.
    pinned = roots.settings.get(MLFLOW_IMAGE)
    tenants: list[TenantStatus] = []
    for name, info in sorted((tenants_out.get("tenants") or {}).items()):
        retired = bool(info.get("retired"))
        tenants.append(
            TenantStatus(
                name=name,
                url=url(str(info.get("url", ""))),
                members=list(info.get("members") or []),
                state="retired" if retired else "applied",
                mlflow_version=None if retired else deployed(info.get("image"), pinned),
            )
        )
    if check_health:
        # A scaled-to-zero Cloud Run service starts for this request; IAP answers before.
        probe_all([t for t in tenants if t.state != "retired"], HEALTH_TIMEOUT_SECONDS)
    return Status(tenants=tenants, facts=facts(outputs, tenants_out))
