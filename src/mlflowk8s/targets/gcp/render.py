"""Settings and users to Terraform inputs (tfvars JSON) for the gcp target's two roots.

The variable names here are the contract with ``infra/platform`` and ``infra/tenants``;
``tests/infra`` checks both roots accept what this module renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowk8s import sizing
from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.google.clients import programmatic_client_ids
from mlflowk8s.google.settings import DEFAULT_CLOUDSQL_TIER
from mlflowk8s.lab.locks import WORK_DIR_NAME
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.oauth_client import ClientRole, OAuthClient, read_oauth_client
from mlflowk8s.server import PodTarget, launcher_command, ready_path, static_prefix
from mlflowk8s.targets.gcp import capacity
from mlflowk8s.targets.gcp import settings as s

DEFAULT_ENV = "default"
PLATFORM_TFVARS = "platform.tfvars.json"
TENANTS_TFVARS = "tenants.tfvars.json"


def work_dir(lab_dir: Path, env: str = DEFAULT_ENV) -> Path:
    """The per-environment work folder: rendered tfvars, plans, Terraform's data."""
    return lab_dir / WORK_DIR_NAME / env


def platform_vars(
    settings: Settings, env: str = DEFAULT_ENV, active_tenants: int = 0
) -> dict[str, Any]:
    required = settings.require(*s.REQUIRED)
    optional = s.optional_platform_vars(settings)
    # Sized here unless the admin set them: the pool's maximum from the active users, the
    # database's connections from its tier (a change restarts it: never per user).
    if "gke_max_nodes" not in optional:
        max_nodes = capacity.sized_max_nodes(settings, active_tenants)
        if max_nodes is not None:
            optional["gke_max_nodes"] = max_nodes
    if "cloudsql_max_connections" not in optional:
        tier = settings.get(s.CLOUDSQL_TIER) or DEFAULT_CLOUDSQL_TIER
        connections = capacity.tier_connections(tier)
        if connections is not None:
            optional["cloudsql_max_connections"] = connections
    return {
        "project_id": required[s.PROJECT],
        "region": required[s.REGION],
        "domain": required[s.DOMAIN],
        "artifact_bucket": required[s.ARTIFACT_BUCKET],
        "environment": env,
        **optional,
    }


def lab_oauth_client(settings: Settings) -> OAuthClient | None:
    """The lab's IAP OAuth client, or None until ``init --oauth-client-secret`` set it."""
    path = settings.file_path(s.OAUTH_CLIENT_SECRET_FILE)
    return read_oauth_client(path, ClientRole.IAP) if path else None


def tenant_entry(user: User, target: PodTarget) -> dict[str, Any]:
    command = launcher_command(user.name, target)
    return {
        "members": sorted(user.members),
        "retired": user.retired,
        # The container's whole argv: `python -c <launcher source> <flags>`.
        "server_command": command.argv,
        "server_env": command.env,
        # The readiness probe's path: the launcher's route that reads the store.
        "ready_path": ready_path(user.name),
        # What Terraform checks against its route and managed folder, without parsing args.
        "static_prefix": static_prefix(user.name),
        "artifacts_destination": f"gs://{target.artifact_bucket}/{user.name}",
    }


def tenant_resources() -> dict[str, Any]:
    """Requests and limits of every tenant's pod (mlflowk8s.sizing)."""
    return {
        "server_resources": sizing.SERVER.kubernetes(),
        "proxy_resources": sizing.PROXY.kubernetes(),
        "tmp_size_limit": f"{sizing.TMP_SIZE_MIB}Mi",
    }


def tenants_vars(settings: Settings, users: list[User], env: str = DEFAULT_ENV) -> dict[str, Any]:
    required = settings.require(*s.REQUIRED)
    target = PodTarget(domain=required[s.DOMAIN], artifact_bucket=required[s.ARTIFACT_BUCKET])
    client = lab_oauth_client(settings)
    return {
        "project_id": required[s.PROJECT],
        "region": required[s.REGION],
        "domain": required[s.DOMAIN],
        "environment": env,
        "mlflow_image": settings.get(s.MLFLOW_IMAGE) or "",
        "iap_oauth_client_id": client.client_id if client else "",
        "users": {user.name: tenant_entry(user, target) for user in users},
        **tenant_resources(),
    }


@dataclass(frozen=True)
class Rendered:
    platform: dict[str, Any]
    tenants: dict[str, Any]
    platform_path: Path
    tenants_path: Path


def render_lab(
    lab_dir: Path, settings: Settings, users: list[User], env: str = DEFAULT_ENV
) -> Rendered:
    """Render both tfvars files into the work folder; unchanged files are not rewritten."""
    # Not Terraform's (the CLI keeps the project's IAP settings), but read as `apply` will
    # read them: a wrong client file fails here, before anything is written.
    programmatic_client_ids(settings)
    platform = platform_vars(settings, env, sum(not user.retired for user in users))
    tenants = tenants_vars(settings, users, env)
    folder = work_dir(lab_dir, env)
    # Plans, Terraform's working data and outputs land here: for the admin's eyes only.
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    platform_path = folder / PLATFORM_TFVARS
    tenants_path = folder / TENANTS_TFVARS
    write_atomic(platform_path, dumps(platform))
    write_atomic(tenants_path, dumps(tenants))
    return Rendered(platform, tenants, platform_path, tenants_path)
