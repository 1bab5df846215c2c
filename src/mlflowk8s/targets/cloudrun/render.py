"""Settings and users to Terraform inputs (tfvars JSON) for ``infra/cloudrun``'s two roots.

The variable names here are the contract with ``infra/cloudrun/platform`` and
``infra/cloudrun/tenants``; ``tests/cloudrun/test_fixture_contract.py`` holds them to it.
A tenant's URL needs the project's number, a platform output: the tenants' inputs are
rendered only once the platform exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowk8s.errors import UsageError
from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.google.clients import programmatic_client_ids
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.server import CloudRunTarget, launcher_command
from mlflowk8s.targets.cloudrun import settings as s

PLATFORM_TFVARS = "cloudrun-platform.tfvars.json"
TENANTS_TFVARS = "cloudrun-tenants.tfvars.json"
# The deterministic URL's first label, <service>-<project number>, is a DNS label.
MAX_LABEL = 63


def service_name(env: str, user: str) -> str:
    """The tenant's Cloud Run service (infra/cloudrun/tenants: mlflow-<env>-<user>)."""
    return f"mlflow-{env}-{user}"


def service_host(env: str, user: str, project_number: str, region: str) -> str:
    """``<service>-<project number>.<region>.run.app``: known before the service exists."""
    label = f"{service_name(env, user)}-{project_number}"
    if len(label) > MAX_LABEL:
        raise UsageError(
            f"{label!r} is {len(label)} characters, Cloud Run's URL label allows {MAX_LABEL}: "
            "shorten the user or environment name"
        )
    return f"{label}.{region}.run.app"


def legacy_hosts(env: str, user: str) -> tuple[str, ...]:
    """MLflow ``--allowed-hosts`` patterns for the service's legacy URL
    ``<service>-<hash>-<region code>.a.run.app``, which Cloud Run serves beside the
    deterministic one (requests to it would get 403 otherwise).

    Its hash is assigned when the service is created, so no revision could name it before
    the one that creates the service. MLflow matches entries that hold ``*`` with
    ``fnmatch``: the pattern is scoped to this service's name under Google's ``a.run.app``,
    which only Cloud Run's front end answers for, routing each host to the service it names
    (a sibling whose name extends this one, ``…-alice-bob-…``, matches too, but its host is
    routed to that sibling). The Host check guards against DNS rebinding (an attacker's own
    name pointed at a server), and no attacker's name ends in ``.a.run.app``. Tokens are
    another matter: they go to the deterministic host alone (``auth/hosts.py``, exact names
    only).
    """
    pattern = f"{service_name(env, user)}-*.a.run.app"
    return pattern, f"{pattern}:*"


def tenant_url(env: str, user: str, project_number: str, region: str) -> str:
    return f"https://{service_host(env, user, project_number, region)}/"


def platform_vars(settings: Settings, env: str) -> dict[str, Any]:
    required = settings.require(*s.REQUIRED)
    return {
        "project_id": required[s.PROJECT],
        "region": required[s.REGION],
        "artifact_bucket": required[s.ARTIFACT_BUCKET],
        "environment": env,
        **s.optional_platform_vars(settings),
    }


def tenant_entry(user: User, env: str, outputs: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"members": sorted(user.members), "retired": user.retired}
    if user.retired:
        return entry  # a retired tenant keeps its data only: no server to describe
    host = service_host(env, user.name, str(outputs["project_number"]), str(outputs["region"]))
    target = CloudRunTarget(service_host=host, artifact_bucket=str(outputs["artifact_bucket"]),
                            legacy_hosts=legacy_hosts(env, user.name))  # fmt: skip
    command = launcher_command(user.name, target)
    # ["python", "-c", SOURCE, flags...]: Cloud Run's command is the program, args the rest.
    entry["server"] = {
        "command": command.argv[:1],
        "args": command.argv[1:],
        "env": command.env,
    }
    return entry


def tenants_vars(
    settings: Settings, users: list[User], env: str, outputs: dict[str, Any]
) -> dict[str, Any]:
    """The tenants root's own inputs; ``outputs`` (the platform's) reach it as a second file."""
    required = settings.require(*s.REQUIRED)
    return {
        "project_id": required[s.PROJECT],
        "environment": env,
        "mlflow_image": s.require_image(settings),
        "users": {user.name: tenant_entry(user, env, outputs) for user in users},
    }


@dataclass(frozen=True)
class Rendered:
    platform: dict[str, Any]
    platform_path: Path
    # None until the platform exists (its outputs name the project number).
    tenants: dict[str, Any] | None
    tenants_path: Path


def render_lab(
    work: Path, settings: Settings, users: list[User], env: str, outputs: dict[str, Any]
) -> Rendered:
    """Render the tfvars files into the work folder ``work``; unchanged files stay as they are."""
    # Not Terraform's (the CLI keeps the project's IAP settings), but read as `apply` will
    # read them: a wrong client file fails here, before anything is written.
    programmatic_client_ids(settings)
    platform = platform_vars(settings, env)
    tenants = tenants_vars(settings, users, env, outputs) if outputs else None
    # Plans, Terraform's working data and outputs land here: for the admin's eyes only.
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o700)
    platform_path = work / PLATFORM_TFVARS
    tenants_path = work / TENANTS_TFVARS
    write_atomic(platform_path, dumps(platform))
    if tenants is not None:
        write_atomic(tenants_path, dumps(tenants))
    return Rendered(platform, platform_path, tenants, tenants_path)
