"""The cloudrun target's two roots: ``infra/cloudrun/{platform,tenants}``.

State at ``gs://TF_GCS_BUCKET/mlflowk8s/<env>/cloudrun-<root>`` (beside a gcp lab's
``…/<env>/<root>``, never on it); the platform's outputs reach the tenants root as
``cloudrun-platform-outputs.tfvars.json``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.google.roots import Layout, StateRoots
from mlflowk8s.progress import Progress
from mlflowk8s.targets.base import Change, Plan
from mlflowk8s.targets.cloudrun import settings as s
from mlflowk8s.targets.cloudrun.render import Rendered, render_lab
from mlflowk8s.terraform.results import PlannedChange

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.targets.base import Approve
    from mlflowk8s.terraform.rollout import Approve as RootApprove

PLATFORM = "platform"
TENANTS = "tenants"
ROOTS = (PLATFORM, TENANTS)
STATE_PREFIX = "mlflowk8s/{env}/cloudrun-{root}"
PLATFORM_OUTPUTS_TFVARS = "cloudrun-platform-outputs.tfvars.json"
LAYOUT = Layout(ROOTS, STATE_PREFIX, PLATFORM_OUTPUTS_TFVARS, subdir="cloudrun",
                required=s.REQUIRED)  # fmt: skip

# Per-tenant resources are keyed by the user's name, or "<user>/<member or role>".
_KEY_RE = re.compile(r'^[a-z0-9_]+\.[a-z0-9_]+\["([a-z0-9-]+)(?:/[^"]*)?"\]$')


def tenant_of(address: str, users: set[str]) -> str | None:
    """The user a tenants-root resource belongs to (None: shared)."""
    match = _KEY_RE.match(address)
    return match.group(1) if match and match.group(1) in users else None


def changes_of(root: str, changes: list[PlannedChange], users: set[str]) -> list[Change]:
    return [
        Change(root, c.action, c.address, tenant_of(c.address, users) if root == TENANTS else None)
        for c in changes
    ]


def root_approve(approve: Approve | None, users: set[str]) -> RootApprove | None:
    """The admin's yes/no for a plan the rollout made late, shown as the CLI shows plans."""
    if approve is None:
        return None

    def ask(root: str, changes: list[PlannedChange], why: str) -> bool:
        return approve(Plan(changes=changes_of(root, changes, users), notes=[why]))

    return ask


class Roots(StateRoots):
    """What one plan, apply, status or destroy of a cloudrun lab works with."""

    def __init__(self, lab: Lab, progress: Progress) -> None:
        super().__init__(lab, progress, LAYOUT)

    def user_names(self) -> set[str]:
        return {user.name for user in self.lab.users().all_users()}

    def saved_outputs(self) -> dict[str, Any]:
        """The platform's outputs as the last run saved them (no Terraform call); {}: none."""
        import json

        try:
            data = json.loads(self.outputs_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def render(self, outputs: dict[str, Any] | None = None) -> Rendered:
        """Both roots' inputs; the tenants' only with the platform's ``outputs``."""
        return render_lab(self.work, self.settings, self.lab.users().all_users(), self.lab.env,
                          self.saved_outputs() if outputs is None else outputs)  # fmt: skip

    def tenants_var_files(self, rendered: Rendered, *extra: Path) -> list[Path]:
        return [self.outputs_path, rendered.tenants_path, *extra]
