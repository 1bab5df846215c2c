"""What one tenant's server costs in memory, disk and database connections: one owner.

Every target that sizes a tenant reads its figures here (the GKE pod's requests and limits,
the capacity check before a plan; Cloud Run's memory). The measured figures come from
``bench/bench_server.py`` (MLflow 3.17.2, the launcher with a tenant's flags, one run with
200 metrics and a 1 MiB artifact logged; see its docstring); the others are derived from
them, and each says how.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflowk8s import server

# -- measured (bench/bench_server.py, medians of 3 rounds) ------------------------------------
# Resident memory of the launcher process after the workload. RSS counts the shared
# libraries in full; PSS shares them out among the processes mapping them (on a node, the
# tenants of one image share its files' pages).
TENANT_RSS_MIB = 296
TENANT_PSS_MIB = 239
# Seconds from start to the first successful API call (an experiments search), on a store
# whose schema is current: 1.9-3.2 s on an idle machine, 12.6 s (mlflow server: 44 s) on a
# shared, loaded 2-core one. A pod adds the image pull and the proxy's start; the startup
# probe allows 180 s.
FIRST_API_CALL_S = 3.2
# Connections to PostgreSQL with the pool below: idle after start, and at peak during the
# workload (one client; 2 in most rounds, 3 in some).
DB_CONNECTIONS_IDLE = 2
DB_CONNECTIONS_PEAK_MEASURED = 3

# -- the pool (set by server.py) and what it allows -------------------------------------------
DB_POOL_SIZE = int(server.POD_DB_POOL_ENV["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"])
DB_MAX_OVERFLOW = int(server.POD_DB_POOL_ENV["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"])
# SQLAlchemy opens at most pool size + overflow: what a busy tenant can hold, whatever
# one client measured.
DB_CONNECTIONS_PEAK = DB_POOL_SIZE + DB_MAX_OVERFLOW

# -- uploads ----------------------------------------------------------------------------------
# Under a static prefix an artifact upload reaches MLflow's Flask handler through its WSGI
# bridge, which reads the whole body into memory: the chunks, then their join, then a copy
# into the WSGI stream (the chunks are freed first): twice the file at the peak. The handler
# then stages the file in /tmp before it goes to the bucket. Larger files must go directly
# to the bucket (multipart upload signing) or be split.
MAX_BUFFERED_UPLOAD_MIB = 512
UPLOAD_COPIES_IN_MEMORY = 2
# Python's allocator, the request's parsing and a second small request beside the upload.
SERVER_MEMORY_MARGIN_MIB = 64
# /tmp besides the staged upload: MLflow's own temporary files (UI downloads, tracing).
TMP_MARGIN_MIB = 128

# -- the Cloud SQL Auth Proxy sidecar and the per-tenant setup Job ------------------------------
PROXY_MEMORY_REQUEST_MIB = 32
PROXY_MEMORY_LIMIT_MIB = 128
PROXY_CPU_REQUEST_M = 20
PROXY_CPU_LIMIT_M = 500
# The setup container (python + psycopg2) and its own proxy sidecar.
SETUP_JOB_MEMORY_MIB = 128 + PROXY_MEMORY_REQUEST_MIB
SETUP_JOB_CPU_M = 50 + PROXY_CPU_REQUEST_M
# db_setup.py keeps its first connection (to `postgres`) open while it opens the tenant's.
SETUP_JOB_CONNECTIONS = 2

# -- CPU --------------------------------------------------------------------------------------
# An idle tracking server uses a few millicores; a request is the scheduling floor, and
# the limit lets the first API call and uploads use a whole core when the node has it.
SERVER_CPU_REQUEST_M = 50
SERVER_CPU_LIMIT_M = 1000


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


@dataclass(frozen=True)
class Container:
    """Requests and limits of one container, in Kubernetes quantities."""

    cpu_request_m: int
    cpu_limit_m: int
    memory_request_mib: int
    memory_limit_mib: int

    def kubernetes(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": f"{self.cpu_request_m}m", "memory": f"{self.memory_request_mib}Mi"},
            "limits": {"cpu": f"{self.cpu_limit_m}m", "memory": f"{self.memory_limit_mib}Mi"},
        }


# The request holds the measured RSS (rounded up to 32 MiB); the limit holds it plus the
# largest buffered upload in memory.
SERVER = Container(
    cpu_request_m=SERVER_CPU_REQUEST_M,
    cpu_limit_m=SERVER_CPU_LIMIT_M,
    memory_request_mib=_round_up(TENANT_RSS_MIB, 32),
    memory_limit_mib=_round_up(
        TENANT_RSS_MIB + UPLOAD_COPIES_IN_MEMORY * MAX_BUFFERED_UPLOAD_MIB
        + SERVER_MEMORY_MARGIN_MIB, 128,
    ),
)  # fmt: skip
PROXY = Container(
    cpu_request_m=PROXY_CPU_REQUEST_M,
    cpu_limit_m=PROXY_CPU_LIMIT_M,
    memory_request_mib=PROXY_MEMORY_REQUEST_MIB,
    memory_limit_mib=PROXY_MEMORY_LIMIT_MIB,
)
# The emptyDir /tmp: the staged upload and MLflow's own temporary files.
TMP_SIZE_MIB = _round_up(MAX_BUFFERED_UPLOAD_MIB + TMP_MARGIN_MIB, 128)

# What one active tenant's pod asks the scheduler for.
TENANT_MEMORY_REQUEST_MIB = SERVER.memory_request_mib + PROXY.memory_request_mib
TENANT_CPU_REQUEST_M = SERVER.cpu_request_m + PROXY.cpu_request_m
