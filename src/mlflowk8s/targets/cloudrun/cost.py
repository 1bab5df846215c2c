"""`cost` of a cloudrun lab: scaled-to-zero services, so what users do is what is paid."""

from __future__ import annotations

from mlflowk8s import prices as p
from mlflowk8s.google.costs import data_lines, use
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import CostEstimate, CostLine
from mlflowk8s.targets.cloudrun import settings as s

# An instance: MLflow 1 vCPU / 1 GiB + the Auth Proxy 1 vCPU / 256 MiB (the tenants
# root's defaults of server_resources and proxy_resources).
INSTANCE_VCPU = 2.0
INSTANCE_GIB = 1.25


def cloud_run_usage(users: int) -> tuple[float, float]:
    """(instance-seconds, requests) a month for ``users`` tenants."""
    busy = users * p.BUSY_SHARE
    idle = users - busy
    seconds = busy * p.BUSY_INSTANCE_SECONDS + idle * p.IDLE_INSTANCE_SECONDS
    return seconds, busy * p.BUSY_REQUESTS + idle * p.IDLE_REQUESTS


def cloud_run_line(users: int) -> CostLine:
    seconds, requests = cloud_run_usage(users)
    free = p.FREE_TIER
    vcpu = max(0.0, seconds * INSTANCE_VCPU - free["run_vcpu_seconds"])
    gib = max(0.0, seconds * INSTANCE_GIB - free["run_gib_seconds"])
    billed_requests = max(0.0, requests - free["run_requests"]) / 1e6
    usd = (
        vcpu * p.price("run_vcpu_second").usd
        + gib * p.price("run_gib_second").usd
        + billed_requests * p.price("run_million_requests").usd
    )
    usage = f"{seconds:,.0f} instance-s, {requests:,.0f} requests"
    if usd == 0:
        usage += " (free tier)"
    return CostLine("Cloud Run", usage, round(usd, 2))


def estimate(settings: Settings, users: int) -> CostEstimate:
    result = CostEstimate(target="cloudrun", users=users, prices_as_of=p.PRICES_AS_OF)
    use(result, "run_vcpu_second", "run_gib_second", "run_million_requests")
    result.lines.append(cloud_run_line(users))
    data_lines(result, settings.get(s.CLOUDSQL_TIER) or s.DEFAULT_CLOUDSQL_TIER)
    result.lines.append(CostLine("IAP, Cloud SQL public IP while running", "", 0.0))
    free = p.FREE_TIER
    result.assumptions[:0] = [
        f"{p.BUSY_SHARE:.0%} of the users train 8 h a day, 30 days a month, logging every 5 s: "
        f"{p.BUSY_INSTANCE_SECONDS:,} instance-s and {p.BUSY_REQUESTS:,} requests each; the "
        f"others {p.IDLE_INSTANCE_SECONDS:,} instance-s and {p.IDLE_REQUESTS:,} requests",
        f"an instance is {INSTANCE_VCPU:g} vCPU and {INSTANCE_GIB:g} GiB (MLflow + Auth Proxy); "
        "min instances 0: an idle tenant costs nothing",
        f"Cloud Run free tier per billing account: {free['run_vcpu_seconds']:,} vCPU-s, "
        f"{free['run_gib_seconds']:,} GiB-s, {free['run_requests']:,} requests",
        "a stopped database (after `destroy`) still bills storage, backups and its public IP",
    ]
    result.assumptions.append(p.PRICES_WHERE)
    return result
