"""Sizing a gcp lab: how many tenants a node and the database hold, and the plan check."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflowk8s import sizing
from mlflowk8s.errors import UsageError
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.gcp import capacity
from mlflowk8s.targets.gcp.render import platform_vars

BASE = {
    "GCP_PROJECT": "demo-project",
    "GCP_REGION": "europe-west1",
    "MLFLOW_DOMAIN": "mlflow.lab.org",
    "TF_GCS_BUCKET": "demo-tfstate",
    "MLFLOW_GCS_BUCKET": "lab-artifacts",
}


def settings(**extra: str) -> Settings:
    return Settings(path=Path(".env"), values={**BASE, **extra})


def test_gke_node_allocatable_follows_its_documented_reservation() -> None:
    # e2-standard-2: 2 vCPU, 8 GiB -> 1930m and 8192 - 1843 - 100 MiB eviction threshold.
    assert capacity.allocatable(2000, 8192) == (1930, 6248)
    assert capacity.machine_capacity("e2-standard-2") == (2000, 8192)
    assert capacity.machine_capacity("n1-standard-4") == (4000, 15360)
    assert capacity.machine_capacity("a2-ultragpu-1g") is None


def test_an_e2_standard_2_node_holds_14_tenants() -> None:
    assert sizing.TENANT_MEMORY_REQUEST_MIB == 352 and sizing.TENANT_CPU_REQUEST_M == 70
    assert capacity.tenants_per_node("e2-standard-2") == 14
    assert capacity.tenants_per_node("e2-standard-4") == 35


def test_the_default_30_user_lab_fits_with_20_percent_headroom() -> None:
    lab = capacity.check_capacity(settings(), 30)
    assert lab.connections == 30 * 5 + 10 * 2 + 6 == 176
    assert lab.max_connections == 240  # db-g1-small
    assert lab.connections <= (1 - capacity.HEADROOM) * lab.max_connections
    assert (lab.nodes, lab.max_nodes) == (3, 4)
    assert lab.tenants_per_node is not None and lab.max_nodes is not None
    slots = lab.max_nodes * lab.tenants_per_node
    assert (1 - capacity.HEADROOM) * slots >= 30
    rendered = platform_vars(settings(), active_tenants=30)
    assert (rendered["gke_max_nodes"], rendered["cloudsql_max_connections"]) == (4, 240)


def test_too_many_tenants_for_the_tier_name_the_tier_setting() -> None:
    with pytest.raises(UsageError) as raised:
        capacity.check_capacity(settings(), 50)
    assert str(raised.value) == (
        "50 active tenants need up to 276 database connections (5 each, setup Jobs and "
        "reserve); CLOUDSQL_TIER=db-g1-small allows 240: set CLOUDSQL_TIER to a larger tier "
        "(e.g. db-custom-1-3840, 540 connections)"
    )
    capacity.check_capacity(settings(CLOUDSQL_TIER="db-custom-1-3840"), 50)


def test_an_explicit_connection_limit_is_named_when_too_low() -> None:
    with pytest.raises(UsageError, match=r"CLOUDSQL_MAX_CONNECTIONS=100 allows fewer: raise"):
        capacity.check_capacity(settings(CLOUDSQL_MAX_CONNECTIONS="100"), 30)
    rendered = platform_vars(settings(CLOUDSQL_MAX_CONNECTIONS="300"), active_tenants=30)
    assert rendered["cloudsql_max_connections"] == 300


def test_a_pool_maximum_below_the_tenants_names_gke_max_nodes() -> None:
    with pytest.raises(UsageError) as raised:
        capacity.check_capacity(settings(GKE_MAX_NODES="2"), 30)
    assert str(raised.value) == (
        "30 active tenants need 3 nodes of e2-standard-2 (14 tenants each); GKE_MAX_NODES=2 "
        "allows fewer: raise GKE_MAX_NODES to 4 or remove it (then it follows the users)"
    )
    assert platform_vars(settings(GKE_MAX_NODES="2"), active_tenants=30)["gke_max_nodes"] == 2


def test_both_limits_are_named_in_one_line() -> None:
    with pytest.raises(UsageError) as raised:
        capacity.check_capacity(settings(GKE_MAX_NODES="1", CLOUDSQL_TIER="db-f1-micro"), 20)
    message = str(raised.value)
    assert "\n" not in message
    assert "CLOUDSQL_TIER=db-f1-micro allows 80" in message
    assert "GKE_MAX_NODES=1 allows fewer" in message


def test_unknown_machine_types_and_tiers_ask_for_the_explicit_setting() -> None:
    with pytest.raises(UsageError, match=r"GKE_MACHINE_TYPE=x9-huge-1 .* set GKE_MAX_NODES"):
        capacity.check_capacity(settings(GKE_MACHINE_TYPE="x9-huge-1"), 3)
    capacity.check_capacity(settings(GKE_MACHINE_TYPE="x9-huge-1", GKE_MAX_NODES="3"), 3)
    with pytest.raises(UsageError, match=r"CLOUDSQL_TIER=db-perf-1 .* CLOUDSQL_MAX_CONNECTIONS"):
        capacity.check_capacity(settings(CLOUDSQL_TIER="db-perf-1"), 3)
    assert "cloudsql_max_connections" not in platform_vars(settings(CLOUDSQL_TIER="db-perf-1"))


def test_the_sized_maximum_respects_gke_min_nodes() -> None:
    assert capacity.sized_max_nodes(settings(), 0) == 1
    assert capacity.sized_max_nodes(settings(), 3) == 2
    assert capacity.sized_max_nodes(settings(GKE_MIN_NODES="5"), 3) == 5


def test_the_pool_figures_come_from_the_servers_environment() -> None:
    assert (sizing.DB_POOL_SIZE, sizing.DB_MAX_OVERFLOW, sizing.DB_CONNECTIONS_PEAK) == (2, 3, 5)
    assert sizing.DB_CONNECTIONS_PEAK >= sizing.DB_CONNECTIONS_PEAK_MEASURED
