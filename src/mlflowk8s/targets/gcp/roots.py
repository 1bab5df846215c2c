"""The gcp target's two Terraform roots for one operation: workspace, rollout, inputs.

The roots are copied into ``.mlflowk8s/<env>/infra/`` and initialised with the ``gcs``
backend at ``gs://TF_GCS_BUCKET/mlflowk8s/<env>/<root>``. The platform's outputs reach the
tenants root as ``platform-outputs.tfvars.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.google.roots import Layout, StateRoots
from mlflowk8s.progress import Progress
from mlflowk8s.targets.base import Change, Plan
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.render import Rendered, lab_oauth_client, render_lab
from mlflowk8s.terraform.results import PlannedChange, module_key

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


LAYOUT = Layout(ROOTS, STATE_PREFIX, PLATFORM_OUTPUTS_TFVARS, required=s.REQUIRED)


class Roots(StateRoots):
    """What one plan, apply, status or destroy of a gcp lab works with."""

    def __init__(self, lab: Lab, progress: Progress) -> None:
        super().__init__(lab, progress, LAYOUT)

    def environment(self, root: str) -> dict[str, str]:
        secret = self.oauth_client_secret() if root == TENANTS else ""
        return {SECRET_TF_VAR: secret} if secret else {}

    def oauth_client_secret(self) -> str:
        client = lab_oauth_client(self.settings)
        return client.client_secret if client else ""

    def render(self) -> Rendered:
        return render_lab(self.lab.root, self.settings, self.lab.users().all_users(),
                          self.lab.env)  # fmt: skip

    def tenants_var_files(self, rendered: Rendered, *extra: Path) -> list[Path]:
        return [self.outputs_path, rendered.tenants_path, *extra]
