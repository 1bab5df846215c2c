"""How many tenants a gcp lab's nodes and database hold, and the check before a plan.

The tenants' figures are ``mlflowk8s.sizing``'s. The node pool's maximum follows from the
number of active tenants (unless ``GKE_MAX_NODES`` is set); the database's
``max_connections`` follows from the tier (unless ``CLOUDSQL_MAX_CONNECTIONS`` is set),
so that adding a user never restarts the database. A plan stops, naming the setting to
change, when the active tenants' peak does not fit either.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from mlflowk8s import sizing
from mlflowk8s.errors import UsageError
from mlflowk8s.google.settings import DEFAULT_CLOUDSQL_TIER
from mlflowk8s.lab.settings import Settings

# infra/platform's defaults (tests/infra holds them equal).
DEFAULT_MACHINE_TYPE = "e2-standard-2"

# Setup Jobs run while Terraform applies, at most its default parallelism (10) at once.
TERRAFORM_PARALLELISM = 10
# PostgreSQL keeps superuser_reserved_connections (3) for Cloud SQL's administration, and
# Cloud SQL's own agents hold a few more.
DB_RESERVED_CONNECTIONS = 6
# Instance memory per connection the tier is allowed: shared buffers take about a third of
# a Cloud SQL instance's memory, an idle tenant connection a few MiB (estimate, to be
# measured on a real instance). db-g1-small: 1.7 GB -> 240 connections.
TIER_MIB_PER_CONNECTION = 7
# Share of a tier's connections or a pool's nodes kept free when sizing.
HEADROOM = 0.2
# GKE's system DaemonSets and cluster add-ons (logging, metadata server, DNS, CSI driver),
# per node (estimate from their requests; to be read off `kubectl describe node`).
SYSTEM_PODS_MEMORY_MIB = 1024
SYSTEM_PODS_CPU_M = 500
# One node more than the tenants need: a node being repaired or upgraded leaves no tenant
# pending, and the autoscaler adds it only when it is needed.
SPARE_NODES = 1

_SHARED_TIERS_MIB = {"db-f1-micro": 614, "db-g1-small": 1740}
_CUSTOM_TIER = re.compile(r"^db-custom-(\d+)-(\d+)$")
_N1_TIER = re.compile(r"^db-n1-(standard|highmem)-(\d+)$")
_N1_TIER_MIB_PER_CPU = {"standard": 3840, "highmem": 6656}
_SHARED_MACHINES = {"e2-micro": (2, 1024), "e2-small": (2, 2048), "e2-medium": (2, 4096)}
_MACHINE = re.compile(r"^(e2|n1|n2|n2d|t2d|c3|n4)-(standard|highmem|highcpu)-(\d+)$")
_GIB_PER_CPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
_N1_GIB_PER_CPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}


def tier_memory_mib(tier: str) -> int | None:
    if tier in _SHARED_TIERS_MIB:
        return _SHARED_TIERS_MIB[tier]
    if match := _CUSTOM_TIER.match(tier):
        return int(match[2])
    if match := _N1_TIER.match(tier):
        return _N1_TIER_MIB_PER_CPU[match[1]] * int(match[2])
    return None


def tier_connections(tier: str) -> int | None:
    """The ``max_connections`` mlflowk8s gives ``tier`` (None: a tier it does not know)."""
    memory = tier_memory_mib(tier)
    if memory is None:
        return None
    return max(25, memory // TIER_MIB_PER_CONNECTION // 10 * 10)


def machine_capacity(machine_type: str) -> tuple[int, int] | None:
    """vCPUs (as millicores) and memory (MiB) of a machine type; None when unknown."""
    if machine_type in _SHARED_MACHINES:
        cpus, memory = _SHARED_MACHINES[machine_type]
        return cpus * 1000, memory
    match = _MACHINE.match(machine_type)
    if match is None:
        return None
    family, kind, cpus = match[1], match[2], int(match[3])
    per_cpu = (_N1_GIB_PER_CPU if family == "n1" else _GIB_PER_CPU)[kind]
    return cpus * 1000, int(cpus * per_cpu * 1024)


def _tiered(total: float, tiers: list[tuple[float, float]]) -> float:
    """Sum of ``rate`` over each band ``(upper bound, rate)`` of ``total``."""
    reserved, lower = 0.0, 0.0
    for upper, rate in tiers:
        if total > lower:
            reserved += (min(total, upper) - lower) * rate
        lower = upper
    return reserved


def allocatable(cpu_m: int, memory_mib: int) -> tuple[int, int]:
    """What GKE leaves to pods on a node: its documented reservation for the kubelet and
    the system, and the 100 MiB eviction threshold."""
    if memory_mib < 1024:
        memory_reserved = 255.0
    else:
        memory_reserved = _tiered(memory_mib, [(4096, 0.25), (8192, 0.20), (16384, 0.10),
                                               (131072, 0.06), (math.inf, 0.02)])  # fmt: skip
    cpu_reserved = _tiered(cpu_m, [(1000, 0.06), (2000, 0.01), (4000, 0.005), (math.inf, 0.0025)])
    return int(cpu_m - cpu_reserved), int(memory_mib - memory_reserved - 100)


def node_room(machine_type: str) -> tuple[int, int] | None:
    """Millicores and MiB a node of ``machine_type`` leaves to tenants; None when unknown."""
    capacity = machine_capacity(machine_type)
    if capacity is None:
        return None
    cpu, memory = allocatable(*capacity)
    return max(0, cpu - SYSTEM_PODS_CPU_M), max(0, memory - SYSTEM_PODS_MEMORY_MIB)


def tenants_per_node(machine_type: str) -> int | None:
    room = node_room(machine_type)
    if room is None:
        return None
    return min(room[0] // sizing.TENANT_CPU_REQUEST_M, room[1] // sizing.TENANT_MEMORY_REQUEST_MIB)


def connections_needed(tenants: int) -> int:
    """Every active tenant at its pool's peak, the setup Jobs of one apply, the reserve."""
    jobs = min(tenants, TERRAFORM_PARALLELISM)
    return (tenants * sizing.DB_CONNECTIONS_PEAK + jobs * sizing.SETUP_JOB_CONNECTIONS
            + DB_RESERVED_CONNECTIONS)  # fmt: skip


def nodes_needed(tenants: int, machine_type: str) -> int | None:
    """Nodes for every active tenant's pod, with the setup Jobs of one apply beside them."""
    room, per_node = node_room(machine_type), tenants_per_node(machine_type)
    if room is None or not per_node:
        return None
    if tenants == 0:
        return 0
    jobs = min(tenants, TERRAFORM_PARALLELISM)
    cpu = tenants * sizing.TENANT_CPU_REQUEST_M + jobs * sizing.SETUP_JOB_CPU_M
    memory = tenants * sizing.TENANT_MEMORY_REQUEST_MIB + jobs * sizing.SETUP_JOB_MEMORY_MIB
    return max(math.ceil(tenants / per_node), math.ceil(cpu / room[0]),
               math.ceil(memory / room[1]))  # fmt: skip


@dataclass(frozen=True)
class Capacity:
    """What the lab's active tenants need and what its settings give them."""

    tenants: int
    machine_type: str
    tenants_per_node: int | None  # None: a machine type the sizing does not know
    nodes: int | None
    max_nodes: int | None
    max_nodes_setting: bool  # GKE_MAX_NODES is set (else: sized here)
    tier: str
    connections: int
    max_connections: int | None
    max_connections_setting: bool  # CLOUDSQL_MAX_CONNECTIONS is set (else: from the tier)

    def problems(self) -> list[str]:
        """One line per limit the tenants exceed, naming the setting to change."""
        return [p for p in (self._database_problem(), self._node_problem()) if p]

    def _database_problem(self) -> str | None:
        if self.max_connections is None:
            return (
                f"CLOUDSQL_TIER={self.tier} is a tier whose connections mlflowk8s cannot "
                "size: set CLOUDSQL_MAX_CONNECTIONS"
            )
        if self.connections <= self.max_connections:
            return None
        need = (
            f"{self.tenants} active tenants need up to {self.connections} database connections "
            f"({sizing.DB_CONNECTIONS_PEAK} each, setup Jobs and reserve)"
        )
        if self.max_connections_setting:
            return (
                f"{need}; CLOUDSQL_MAX_CONNECTIONS={self.max_connections} allows fewer: "
                "raise CLOUDSQL_MAX_CONNECTIONS"
            )
        return (
            f"{need}; CLOUDSQL_TIER={self.tier} allows {self.max_connections}: set "
            f"CLOUDSQL_TIER to a larger tier ({larger_tier(self.connections)})"
        )

    def _node_problem(self) -> str | None:
        if self.tenants_per_node is None:
            if self.max_nodes_setting:
                return None
            return (
                f"GKE_MACHINE_TYPE={self.machine_type} is a machine type whose capacity "
                "mlflowk8s cannot size: set GKE_MAX_NODES"
            )
        if self.tenants_per_node == 0:
            return (
                f"GKE_MACHINE_TYPE={self.machine_type} holds no tenant beside GKE's system "
                "pods: set GKE_MACHINE_TYPE to a larger machine type"
            )
        if self.nodes is None or self.max_nodes is None or self.nodes <= self.max_nodes:
            return None
        return (
            f"{self.tenants} active tenants need {self.nodes} nodes of {self.machine_type} "
            f"({self.tenants_per_node} tenants each); GKE_MAX_NODES={self.max_nodes} allows "
            f"fewer: raise GKE_MAX_NODES to {self.nodes + SPARE_NODES} or remove it (then it "
            "follows the users)"
        )


# Tiers to suggest, smallest first.
_LARGER_TIERS = ("db-custom-1-3840", "db-custom-2-7680", "db-custom-4-15360", "db-custom-8-30720")


def larger_tier(connections: int) -> str:
    """The smallest suggested tier that holds ``connections`` with the headroom."""
    want = math.ceil(connections / (1 - HEADROOM))
    for tier in _LARGER_TIERS:
        if (tier_connections(tier) or 0) >= want:
            return f"e.g. {tier}, {tier_connections(tier)} connections"
    return "a db-custom tier with more memory"


def lab_capacity(settings: Settings, active_tenants: int) -> Capacity:
    from mlflowk8s.targets.gcp import settings as s

    machine = settings.get(s.MACHINE_TYPE) or DEFAULT_MACHINE_TYPE
    per_node = tenants_per_node(machine)
    nodes = nodes_needed(active_tenants, machine)
    max_nodes_value = settings.get(s.MAX_NODES)
    if max_nodes_value:
        max_nodes: int | None = int(max_nodes_value)
    else:
        max_nodes = sized_max_nodes(settings, active_tenants)
    tier = settings.get(s.CLOUDSQL_TIER) or DEFAULT_CLOUDSQL_TIER
    max_connections_value = settings.get(s.CLOUDSQL_MAX_CONNECTIONS)
    max_connections = (int(max_connections_value) if max_connections_value
                       else tier_connections(tier))  # fmt: skip
    return Capacity(
        tenants=active_tenants, machine_type=machine, tenants_per_node=per_node,
        nodes=nodes, max_nodes=max_nodes, max_nodes_setting=bool(max_nodes_value),
        tier=tier, connections=connections_needed(active_tenants),
        max_connections=max_connections, max_connections_setting=bool(max_connections_value),
    )  # fmt: skip


def sized_max_nodes(settings: Settings, active_tenants: int) -> int | None:
    """The node pool's maximum for ``active_tenants`` (at least GKE_MIN_NODES and 1)."""
    from mlflowk8s.targets.gcp import settings as s

    nodes = nodes_needed(active_tenants, settings.get(s.MACHINE_TYPE) or DEFAULT_MACHINE_TYPE)
    if nodes is None:
        return None
    minimum = int(settings.get(s.MIN_NODES) or 1)
    return max(minimum, 1, nodes + SPARE_NODES)


def check_capacity(settings: Settings, active_tenants: int) -> Capacity:
    """The lab's capacity; a UsageError naming the setting when the tenants do not fit."""
    capacity = lab_capacity(settings, active_tenants)
    problems = capacity.problems()
    if problems:
        raise UsageError("; ".join(problems))
    return capacity
