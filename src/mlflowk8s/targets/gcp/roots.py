"""The gcp target's two Terraform roots for one operation: workspace, rollout, inputs.

The roots are copied into ``.mlflowk8s/<env>/infra/`` and initialised with the ``gcs``
backend at ``gs://TF_GCS_BUCKET/mlflowk8s/<env>/<root>``. The platform's outputs reach the
tenants root as ``platform-outputs.tfvars.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.progress import Progress
from mlflowk8s.targets.base import Change, Plan
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.render import Rendered, lab_oauth_client, render_lab
from mlflowk8s.terraform.results import PlannedChange, module_key
from mlflowk8s.terraform.rollout import Rollout
from mlflowk8s.terraform.runner import Terraform
from mlflowk8s.terraform.workspace import Workspace

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.targets.base import Approve
    from mlflowk8s.terraform.rollout import Approve as RootApprove

PLATFORM = "platform"
TENANTS = "tenants"
ROOTS = (PLATFORM, TENANTS)
STATE_PREFIX = "mlflowk8s/{env}/{root}"
PLATFORM_OUTPUTS_TFVARS = "platform-outputs.tfvars.json"
SECRET_TF_VAR = "TF_VAR_iap_oauth_client_secret"


def tenant_target(user: str) -> str:
    return f'module.tenant["{user}"]'


def tenant_of(address: str) -> str | None:
    return module_key(address, "tenant")


def changes_of(root: str, changes: list[PlannedChange]) -> list[Change]:
    return [Change(root, c.action, c.address, tenant_of(c.address)) for c in changes]


def root_approve(approve: Approve | None) -> RootApprove | None:
    """The admin's yes/no for a plan the rollout made late, shown as the CLI shows plans."""
    if approve is None:
        return None

    def ask(root: str, changes: list[PlannedChange], why: str) -> bool:
        return approve(Plan(changes=changes_of(root, changes), notes=[why]))

    return ask


class Roots:
    """What one plan, apply, status or destroy of a gcp lab works with."""

    def __init__(self, lab: Lab, progress: Progress) -> None:
        self.lab = lab
        self.settings = lab.settings()
        # Terraform runs in the work folder: every path handed to it is absolute.
        self.work = lab.work_folder().resolve()
        self.workspace = Workspace(
            self.work,
            ROOTS,
            backend=self._backend,
            progress=progress,
            environment=self._environment,
            init_hint=self._init_hint,
            unlock_command=unlock_command(lab.env),
        )
        self.rollout = Rollout(self.workspace)

    @property
    def progress(self) -> Progress:
        return self.workspace.progress

    def backend(self, root: str) -> dict[str, str]:
        return self._backend(root)

    def _backend(self, root: str) -> dict[str, str]:
        # Every setting first: a lab missing some gets one error and no copied sources.
        bucket = self.settings.require(*s.REQUIRED)[s.STATE_BUCKET]
        return {"bucket": bucket, "prefix": STATE_PREFIX.format(env=self.lab.env, root=root)}

    def _environment(self, root: str) -> dict[str, str]:
        secret = self.oauth_client_secret() if root == TENANTS else ""
        return {SECRET_TF_VAR: secret} if secret else {}

    @staticmethod
    def _init_hint(root: str, backend: Any) -> str:
        return (
            f"state gs://{backend['bucket']}/{backend['prefix']}: check {s.STATE_BUCKET} in "
            ".env; `mlflowk8s init` creates the bucket"
        )

    def oauth_client_secret(self) -> str:
        client = lab_oauth_client(self.settings)
        return client.client_secret if client else ""

    def root(self, name: str) -> Terraform:
        return self.workspace.root(name)

    def render(self) -> Rendered:
        return render_lab(self.lab.root, self.settings, self.lab.users().all_users(),
                          self.lab.env)  # fmt: skip

    @property
    def outputs_path(self) -> Path:
        return self.work / PLATFORM_OUTPUTS_TFVARS

    def platform_outputs(self) -> dict[str, Any]:
        """The platform's outputs, also written for the tenants root; {} before it exists."""
        return self.workspace.outputs(PLATFORM, save_as=self.outputs_path)

    def tenants_var_files(self, rendered: Rendered, *extra: Path) -> list[Path]:
        return [self.outputs_path, rendered.tenants_path, *extra]

    def override(self, name: str, data: dict[str, Any]) -> Path:
        path = self.work / name
        write_atomic(path, dumps(data))
        return path


def unlock_command(env: str) -> str:
    flag = "" if env == "default" else f" --env {env}"
    return f"mlflowk8s{flag} unlock {{lock_id}}"
