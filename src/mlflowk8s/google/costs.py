"""Cost lines both Google targets have: the Cloud SQL instance, its storage, the artifact
bucket and the image cache (prices and usage from :mod:`mlflowk8s.prices`)."""

from __future__ import annotations

import math

from mlflowk8s import prices as p
from mlflowk8s.targets.base import CostEstimate, CostLine


def monthly(key: str, amount: float) -> float:
    return round(p.price(key).usd * amount, 2)


def use(estimate: CostEstimate, *keys: str) -> None:
    """Record the prices a line used, as the estimate shows them."""
    for key in keys:
        estimate.prices[p.price(key).what] = p.price(key).shown()


def data_lines(estimate: CostEstimate, tier: str) -> None:
    """Cloud SQL (tier, storage, backups), artifacts and the cached image."""
    users = estimate.users
    tier_price = p.sql_tier_price(tier)
    if tier_price is None:
        estimate.lines.append(CostLine("Cloud SQL tier", f"{tier}: not in the price table", 0.0))
        estimate.assumptions.append(f"{tier} is not priced here: its line shows $0")
    else:
        use(estimate, f"sql_{tier}")
        hours = p.HOURS_PER_MONTH
        estimate.lines.append(
            CostLine("Cloud SQL tier", f"{tier}, {hours} h", round(tier_price.usd * hours, 2))
        )
    disk = p.SQL_DISK_GB_PER_50_USERS * max(1, math.ceil(users / 50))
    backups = p.SQL_BACKUP_GB_BASE + p.SQL_BACKUP_GB_PER_USER * users
    use(estimate, "sql_ssd_gb", "sql_backup_gb", "gcs_standard_gb", "registry_gb")
    estimate.lines.append(
        CostLine(
            "Cloud SQL storage + backups/PITR",
            f"{disk} GB SSD, {backups:g} GB backups",
            round(monthly("sql_ssd_gb", disk) + monthly("sql_backup_gb", backups), 2),
        )
    )
    artifacts = p.ARTIFACT_GB_PER_USER * users
    estimate.lines.append(
        CostLine(
            "Cloud Storage artifacts", f"{artifacts:g} GB", monthly("gcs_standard_gb", artifacts)
        )
    )
    cached = max(0.0, p.IMAGE_GB - p.FREE_TIER["registry_gb"])
    estimate.lines.append(
        CostLine(
            "Artifact Registry image cache", f"{p.IMAGE_GB:g} GB", monthly("registry_gb", cached)
        )
    )
    estimate.assumptions += [
        f"{p.ARTIFACT_GB_PER_USER:g} GB of artifacts per user; a {p.IMAGE_GB:g} GB cached image",
        f"Cloud SQL: {p.SQL_DISK_GB_PER_50_USERS} GB SSD per 50 users, backups and PITR logs "
        f"{p.SQL_BACKUP_GB_BASE:g} GB + {p.SQL_BACKUP_GB_PER_USER:g} GB per user",
        "logs within the free 50 GiB; IAP free",
    ]
    suggested = p.suggested_sql_tier(users)
    if suggested != tier:
        estimate.assumptions.append(
            f"for {users} users {suggested} fits better than {tier} (CLOUDSQL_TIER in .env)"
        )
