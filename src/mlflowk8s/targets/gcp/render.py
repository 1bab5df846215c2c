"""Settings and users to Terraform inputs (tfvars JSON) for the gcp target's two roots.

The variable names here are the contract with ``infra/platform`` and ``infra/tenants``;
``tests/infra`` checks both roots accept what this module renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.google.clients import desktop_client_id
from mlflowk8s.lab.locks import WORK_DIR_NAME
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.oauth_client import ClientRole, OAuthClient, read_oauth_client
from mlflowk8s.server import PodTarget, server_command, static_prefix
from mlflowk8s.targets.gcp import settings as s

DEFAULT_ENV = "default"
PLATFORM_TFVARS = "platform.tfvars.json"
TENANTS_TFVARS = "tenants.tfvars.json"


def work_dir(lab_dir: Path, env: str = DEFAULT_ENV) -> Path:
    """The per-environment work folder: rendered tfvars, plans, Terraform's data."""
    return lab_dir / WORK_DIR_NAME / env


def platform_vars(settings: Settings, env: str = DEFAULT_ENV) -> dict[str, Any]:
    required = settings.require(*s.REQUIRED)
    optional = s.optional_platform_vars(settings)
    desktop_client = desktop_client_id(settings)
    if desktop_client:
        listed = list(optional.get("iap_programmatic_client_ids", []))  # type: ignore[call-overload]
        optional["iap_programmatic_client_ids"] = sorted({*listed, desktop_client})
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
    command = server_command(user.name, target)
    return {
        "members": sorted(user.members),
        "retired": user.retired,
        "server_args": command.args,
        "server_env": command.env,
        # What Terraform checks against its route and managed folder, without parsing args.
        "static_prefix": static_prefix(user.name),
        "artifacts_destination": f"gs://{target.artifact_bucket}/{user.name}",
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
    platform = platform_vars(settings, env)
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
