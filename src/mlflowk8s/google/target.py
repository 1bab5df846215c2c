"""What the gcp and cloudrun targets do alike; each target's own plan, apply, status and
destroy stay in its package."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.errors import OperationError
from mlflowk8s.google import settings as s
from mlflowk8s.google.clients import desktop_client_id
from mlflowk8s.google.roots import StateRoots
from mlflowk8s.targets.base import STOP_DATABASE_BY_DEFAULT, Destroyed, Plan, PlanHandle, Progress
from mlflowk8s.terraform.workspace import inputs_digest

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Settings
    from mlflowk8s.terraform.rollout import Approve as RootApprove
    from mlflowk8s.terraform.rollout import RootPlan


class GoogleTarget:
    """The shared part of a Google target; a subclass names its roots and its modules."""

    # The StopsDatabase interface (targets/base.py): what `destroy` offers to stop.
    stoppable_database = "the Cloud SQL instance"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    @property
    def settings(self) -> Settings:
        return self.lab.settings()

    def _roots(self, progress: Progress) -> StateRoots:
        raise NotImplementedError

    def _check_required_apis(self, progress: Progress) -> None:
        """Before the platform exists: Terraform cannot turn these APIs on itself.

        Without them its first step fails, and looks like an API still being enabled,
        which the runner would retry for minutes.
        """
        from mlflowk8s.google.admin_checks import required_apis

        project = self.settings.require(s.PROJECT)[s.PROJECT]
        progress.step(f"checking the Google APIs of {project}")
        check = required_apis(project, os.environ)
        if check["status"] != "ok":
            fix = check.get("fix")
            raise OperationError(f"{check['detail']}: {fix}" if fix else check["detail"])

    # -- Target: apply, the steps both targets take ------------------------------------
    @staticmethod
    def _shown_plan(plan: Plan, user: str | None) -> PlanHandle:
        handle = plan.handle
        if handle is None or handle.user != user:
            raise OperationError("apply needs the plan that was shown for the same --user")
        return handle

    @staticmethod
    def _check_inputs(handle: PlanHandle, *rendered: object) -> None:
        """The inputs rendered again are the plan's: another admin may have edited since."""
        if inputs_digest(*rendered) != handle.inputs:
            handle.discard()
            raise OperationError(
                "users.yaml or .env changed since the plan was shown: nothing was applied; "
                "run apply again"
            )

    @staticmethod
    def _apply_platform(
        roots: StateRoots, handle: PlanHandle, var_file: Path, asks: RootApprove | None
    ) -> tuple[RootPlan, dict[str, Any]]:
        """The platform's shown plan applied (planned again if it went stale); the plan and
        the platform's outputs."""
        from mlflowk8s.terraform.rollout import RootPlan

        name, rollout = roots.layout.platform, roots.rollout
        platform: RootPlan = handle.saved.get(name) or RootPlan(name)
        if platform.path is not None:
            rollout.apply(platform, lambda: rollout.plan(name, [var_file]), approve=asks)
        outputs = roots.platform_outputs()
        if not outputs:
            raise OperationError(
                "the platform has no outputs after apply: check `terraform output` "
                f"in {roots.workspace.root_dir(name)}"
            )
        return platform, outputs

    @staticmethod
    def _apply_tenants(
        roots: StateRoots,
        shown: RootPlan | None,
        still_valid: bool,
        replan: Callable[[], RootPlan],
        asks: RootApprove | None,
    ) -> None:
        """Apply the tenants' ``shown`` plan while ``still_valid`` (the platform did not
        change), else one made now from the platform's new outputs: creating was
        announced; changing or deleting what ``shown`` did not show needs a yes."""
        from mlflowk8s.google.state_health import check_state

        rollout = roots.rollout
        if shown is not None and still_valid:
            tenants = shown
        else:
            tenants = replan()
            seen = {(c.address, c.action) for c in (shown.changes if shown else [])}
            unseen = [c for c in tenants.changes
                      if c.action != "create" and (c.address, c.action) not in seen]  # fmt: skip
            rollout.confirm_unseen(
                tenants, unseen, asks,
                why="The platform's changes are applied; the tenants' plan now "
                "has changes the first plan did not show:",
                refused="the platform's changes are applied, the tenants' are not; "
                "run `mlflowk8s apply` again",
            )  # fmt: skip
        if tenants.path is not None:
            rollout.apply(tenants, replan, approve=asks)
        # Records the state's lineage: a later deleted or replaced state is then noticed.
        check_state(roots, roots.layout.tenants)

    def _allow_clients(self, progress: Progress, project_number: str | None = None) -> None:
        """After the platform apply: the project's IAP settings are shared with other
        environments, so the CLI keeps the lab's programmatic clients there."""
        from mlflowk8s.google.iap_clients import allow_clients

        allow_clients(self.lab, progress, project_number)

    # -- Target: destroy ------------------------------------------------------------
    def destroy_confirmation_word(self) -> str:
        return str(self.settings.require(s.PROJECT)[s.PROJECT])

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        return self._destroy(delete_data, STOP_DATABASE_BY_DEFAULT, progress).kept

    def destroy_keeping_data(self, stop_database: bool, progress: Progress) -> Destroyed:
        return self._destroy(False, stop_database, progress)

    def _destroy(self, delete_data: bool, stop_database: bool, progress: Progress) -> Destroyed:
        raise NotImplementedError

    # -- the rest -------------------------------------------------------------------
    def unlock(self, lock_id: str) -> str:
        """Release the state lock ``lock_id``; returns the root that held it."""
        from mlflowk8s.google.state_locks import unlock
        from mlflowk8s.progress import QuietProgress

        return unlock(self._roots(QuietProgress()), lock_id)

    def desktop_client_id(self) -> str | None:
        return desktop_client_id(self.settings)

    def _active_users(self) -> int:
        return len(self.lab.users().active_users()) if self.lab.has_users_file() else 0
