"""`cost` of a gcp lab: nodes grow with the tenants; the load balancer and database are fixed."""

from __future__ import annotations

import math

from mlflowk8s import prices as p
from mlflowk8s.google.costs import data_lines, monthly, use
from mlflowk8s.google.settings import CLOUDSQL_TIER, DEFAULT_CLOUDSQL_TIER
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import CostEstimate, CostLine

PRICED_MACHINE = "e2-standard-2"


def estimate(settings: Settings, users: int) -> CostEstimate:
    result = CostEstimate(target="gcp", users=users, prices_as_of=p.PRICES_AS_OF)
    hours = p.HOURS_PER_MONTH
    spot = (settings.get("GKE_SPOT") or "").lower() in ("true", "1", "yes")
    node_key = f"node_{PRICED_MACHINE}" + ("_spot" if spot else "")
    nodes = max(1, math.ceil(users / p.TENANTS_PER_NODE))
    use(result, "gke_management", node_key, "pd_balanced_gb", "nat_vm_hour", "nat_gb",
        "forwarding_rule", "lb_gib")  # fmt: skip
    result.lines += [
        CostLine("GKE cluster management", "one zonal cluster: free tier", 0.0),
        CostLine(f"{PRICED_MACHINE} nodes" + (" (Spot)" if spot else ""),
                 f"{nodes} x {hours} h", monthly(node_key, nodes * hours)),
        CostLine("boot disks", f"{nodes} x {p.NODE_DISK_GB} GB pd-balanced",
                 monthly("pd_balanced_gb", nodes * p.NODE_DISK_GB)),
        CostLine("Cloud NAT", f"{nodes} VM",
                 round(monthly("nat_vm_hour", nodes * hours)
                       + monthly("nat_gb", nodes * p.NAT_GB_PER_NODE), 2)),
        CostLine("global forwarding rule", f"{hours} h", monthly("forwarding_rule", hours)),
        CostLine("load balancer data", f"{p.LB_GIB:g} GiB", monthly("lb_gib", p.LB_GIB)),
    ]  # fmt: skip
    data_lines(result, settings.get(CLOUDSQL_TIER) or DEFAULT_CLOUDSQL_TIER)
    result.assumptions[:0] = [
        f"a node fits {p.TENANTS_PER_NODE} tenants (544 MiB requested each); servers run all month",
    ]
    machine = settings.get("GKE_MACHINE_TYPE")
    if machine and machine != PRICED_MACHINE:
        result.assumptions.append(f"nodes priced as {PRICED_MACHINE}, not {machine}")
    result.assumptions.append(p.PRICES_WHERE)
    return result
