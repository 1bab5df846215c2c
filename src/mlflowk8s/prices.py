"""The one table of prices `mlflowk8s cost` assumes, with their date and the usage model.

List prices in USD for us-central1, as Google's pricing pages published them in 2025 (not
re-checked since: verify before quoting; europe-west1 is ~10 % more). The figures and
assumptions are those of infra/README.md and infra/cloudrun/README.md ("Monthly cost").
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_AS_OF = "2025"
PRICES_WHERE = "Google Cloud list prices, us-central1, USD; not re-checked since"
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str  # what one usd buys: "vCPU-s", "GB-month", "h", ...
    what: str

    def shown(self) -> str:
        amount = f"{self.usd:.7f}".rstrip("0").rstrip(".")
        return f"${amount}/{self.unit}"


PRICES: dict[str, Price] = {
    # Cloud Run, request-based billing, and its free tier per billing account and month.
    "run_vcpu_second": Price(0.000024, "vCPU-s", "Cloud Run CPU"),
    "run_gib_second": Price(0.0000025, "GiB-s", "Cloud Run memory"),
    "run_million_requests": Price(0.40, "million requests", "Cloud Run requests"),
    # Cloud SQL for PostgreSQL, Enterprise edition, zonal, per tier.
    "sql_db-f1-micro": Price(0.0105, "h", "Cloud SQL db-f1-micro"),
    "sql_db-g1-small": Price(0.035, "h", "Cloud SQL db-g1-small"),
    "sql_db-custom-1-3840": Price(0.06755, "h", "Cloud SQL db-custom-1-3840"),
    "sql_ssd_gb": Price(0.17, "GB-month", "Cloud SQL SSD storage"),
    "sql_backup_gb": Price(0.08, "GB-month", "Cloud SQL backups and PITR logs"),
    "gcs_standard_gb": Price(0.020, "GB-month", "Cloud Storage Standard"),
    "registry_gb": Price(0.10, "GB-month", "Artifact Registry storage above 0.5 GB"),
    # GKE (the gcp target).
    "gke_management": Price(0.10, "h", "GKE cluster management (free tier: one zonal cluster)"),
    "node_e2-standard-2": Price(0.067, "h", "e2-standard-2 node, on-demand"),
    "node_e2-standard-2_spot": Price(0.0205, "h", "e2-standard-2 node, Spot (typical)"),
    "pd_balanced_gb": Price(0.10, "GB-month", "pd-balanced boot disk"),
    "nat_vm_hour": Price(0.0014, "h per VM", "Cloud NAT"),
    "nat_gb": Price(0.045, "GB processed", "Cloud NAT data"),
    "forwarding_rule": Price(0.025, "h", "global forwarding rule (the one Gateway)"),
    "lb_gib": Price(0.008, "GiB", "load balancer data processing"),
}

FREE_TIER = {
    "run_vcpu_seconds": 180_000,
    "run_gib_seconds": 360_000,
    "run_requests": 2_000_000,
    "registry_gb": 0.5,
}

# How a lab uses what it pays for (infra/cloudrun/README.md, "Assumptions").
BUSY_SHARE = 0.20  # of the users train 8 h a day, 30 days a month, logging every 5 s
BUSY_INSTANCE_SECONDS = 20_300  # 17,280 billed (one 100 ms request every 5 s) + UI, cold starts
BUSY_REQUESTS = 176_000
IDLE_INSTANCE_SECONDS = 1_200
IDLE_REQUESTS = 2_000
ARTIFACT_GB_PER_USER = 1.0
IMAGE_GB = 2.0  # the cached MLflow image
SQL_DISK_GB_PER_50_USERS = 10  # at least 10 GB
SQL_BACKUP_GB_BASE = 5.0
SQL_BACKUP_GB_PER_USER = 0.05
# GKE: an 8 GB node fits about 9 tenants (544 MiB requested each); NAT and LB data small.
TENANTS_PER_NODE = 9
NODE_DISK_GB = 30
NAT_GB_PER_NODE = 0.6
LB_GIB = 12.5


def price(key: str) -> Price:
    return PRICES[key]


def sql_tier_price(tier: str) -> Price | None:
    """The hourly price of Cloud SQL ``tier``; None: not in the table."""
    return PRICES.get(f"sql_{tier}")


def suggested_sql_tier(users: int) -> str:
    """db-f1-micro has 25 connections (~8 tenants); db-g1-small suits ~30."""
    if users <= 8:
        return "db-f1-micro"
    if users <= 30:
        return "db-g1-small"
    return "db-custom-1-3840"
