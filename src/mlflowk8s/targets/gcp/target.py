"""The GKE target: Terraform's two roots (platform, tenants) against the lab's GCS state.

Plan and apply live here; status, destroy, unlock, `doctor` and `init` have their own
modules in this package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.errors import OperationError
from mlflowk8s.fileio import dumps
from mlflowk8s.google.clients import desktop_client_id
from mlflowk8s.server import public_url
from mlflowk8s.targets.base import Approve, Check, Plan, PlanHandle, Progress, Status
from mlflowk8s.targets.gcp import settings as s
from mlflowk8s.targets.gcp.init import GcpInit
from mlflowk8s.targets.gcp.render import lab_oauth_client, render_lab
from mlflowk8s.targets.gcp.roots import (
    PLATFORM,
    TENANTS,
    Roots,
    changes_of,
    root_approve,
    tenant_target,
)
from mlflowk8s.targets.gcp.state_health import check_state
from mlflowk8s.terraform.results import TerraformError
from mlflowk8s.terraform.rollout import RootPlan
from mlflowk8s.terraform.runner import forwarding_signals
from mlflowk8s.terraform.workspace import inputs_digest

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Settings
    from mlflowk8s.targets.base import CostEstimate


class GcpTarget:
    name = "gcp"
    settings_checks = s.CHECKS
    init = GcpInit()

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    @property
    def settings(self) -> Settings:
        return self.lab.settings()

    def _roots(self, progress: Progress) -> Roots:
        return Roots(self.lab, progress)

    # -- checks --------------------------------------------------------------------
    def require_apply_settings(self) -> None:
        """The settings the tenants root needs; checked before the first apply."""
        s.require_apply_settings(self.settings)
        lab_oauth_client(self.settings)

    # The Preflight interface (targets/base.py): `apply` checks these before planning.
    preflight = require_apply_settings

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

    # -- Target: plan --------------------------------------------------------------
    def check_capacity(self) -> None:
        """Before planning: the active tenants' peak fits the database and the node pool."""
        from mlflowk8s.targets.gcp.capacity import check_capacity

        check_capacity(self.settings, len(self.lab.users().active_users()))

    def plan(self, user: str | None, progress: Progress) -> Plan:
        self.check_capacity()
        roots = self._roots(progress)
        rendered = roots.render()
        handle = PlanHandle(user=user, inputs=inputs_digest(rendered.platform, rendered.tenants))
        result = Plan(handle=handle)
        # The tenants' inputs are the platform's current outputs, so both roots can be
        # planned at the same time (each has its own state and lock).
        outputs = roots.platform_outputs()
        if not outputs:
            self._check_required_apis(progress)
        else:
            self.require_apply_settings()
            # Before anything is planned (and so before the platform can be changed).
            check_state(roots, TENANTS)
            roots.root(TENANTS)
            handle.basis = dumps(outputs)
        targets = [tenant_target(user)] if user else []
        progress.step("planning platform and tenants" if outputs else "planning platform")
        rollout = roots.rollout
        with forwarding_signals(), ThreadPoolExecutor(max_workers=2) as pool:
            platform_job = pool.submit(
                rollout.plan, PLATFORM, [rendered.platform_path], announce=False
            )
            tenants_job = None
            if outputs:
                tenants_job = pool.submit(
                    rollout.plan, TENANTS, roots.tenants_var_files(rendered), targets=targets,
                    announce=False,
                    retries=0,  # retried below, once the platform plan is known
                )  # fmt: skip
            platform = platform_job.result()
            tenants_error: TerraformError | None = None
            tenants = None
            if tenants_job is not None:
                try:
                    tenants = tenants_job.result()
                except TerraformError as exc:
                    tenants_error = exc
        handle.saved[PLATFORM] = platform
        result.changes += changes_of(PLATFORM, platform.changes)
        if tenants_job is None:
            result.notes.append(
                "tenants: not planned: the platform does not exist yet "
                "(apply creates it, then plans and applies the tenants)"
            )
            return result
        if tenants_error is not None:
            if platform.changes:
                # E.g. no cluster to ask after `destroy`: the platform apply brings it back.
                first = tenants_error.result.errors[:1]
                reason = first[0].text() if first else str(tenants_error)
                result.notes.append(
                    f"tenants: not planned: {reason} (apply plans them after applying the "
                    "platform's changes and asks again before changing or deleting any)"
                )
                return result
            if not tenants_error.transient:
                raise tenants_error
            tenants = rollout.plan(TENANTS, roots.tenants_var_files(rendered), targets=targets)
        assert tenants is not None
        handle.saved[TENANTS] = tenants
        result.changes += changes_of(TENANTS, tenants.changes)
        return result

    # -- Target: apply -------------------------------------------------------------
    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        handle = plan.handle
        if handle is None or handle.user != user:
            raise OperationError("apply needs the plan that was shown for the same --user")
        # What the plan was made from, read again: another admin may have edited meanwhile.
        self.lab.reread()
        self.require_apply_settings()
        roots = self._roots(progress)
        rendered = roots.render()
        if inputs_digest(rendered.platform, rendered.tenants) != handle.inputs:
            handle.discard()
            raise OperationError(
                "users.yaml or .env changed since the plan was shown: nothing was applied; "
                "run apply again"
            )
        rollout, asks = roots.rollout, root_approve(approve)
        platform: RootPlan = handle.saved.get(PLATFORM) or RootPlan(PLATFORM)
        if platform.path is not None:

            def replan_platform() -> RootPlan:
                return rollout.plan(PLATFORM, [rendered.platform_path])

            rollout.apply(platform, replan_platform, approve=asks)
        outputs = roots.platform_outputs()
        if not outputs:
            raise OperationError(
                "the platform has no outputs after apply: check `terraform output` "
                f"in {roots.workspace.root_dir(PLATFORM)}"
            )
        # The project's IAP settings are shared with other environments: kept by the CLI.
        from mlflowk8s.targets.gcp.iap import allow_clients

        allow_clients(self.lab, progress)
        targets = [tenant_target(user)] if user else []
        var_files = roots.tenants_var_files(rendered)

        def replan_tenants() -> RootPlan:
            return rollout.plan(TENANTS, var_files, targets=targets)

        shown: RootPlan | None = handle.saved.get(TENANTS)
        if shown is not None and platform.path is None and handle.basis == dumps(outputs):
            tenants = shown
        else:
            # The tenants' inputs are the platform outputs just applied: plan them now.
            tenants = replan_tenants()
            # Creating was announced; changing or deleting what was not shown needs a yes.
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
            rollout.apply(tenants, replan_tenants, approve=asks)
        # Records the state's lineage: a later deleted or replaced state is then noticed.
        check_state(roots, TENANTS)
        return self.status(check_health=False)

    # -- the rest, in their own modules ----------------------------------------------
    def status(self, check_health: bool = True) -> Status:
        from mlflowk8s.progress import QuietProgress
        from mlflowk8s.targets.gcp.status import lab_status

        return lab_status(self._roots(QuietProgress()), check_health)

    def destroy_confirmation_word(self) -> str:
        return str(self.settings.require(s.PROJECT)[s.PROJECT])

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        from mlflowk8s.targets.gcp.destroy import destroy

        return destroy(self._roots(progress), self.require_apply_settings, delete_data)

    def purge_user(self, name: str, progress: Progress) -> None:
        from mlflowk8s.targets.gcp.destroy import purge_user

        purge_user(self._roots(progress), self.require_apply_settings, name)

    def unlock(self, lock_id: str) -> str:
        """Release the state lock ``lock_id``; returns the root that held it."""
        from mlflowk8s.google.state_locks import unlock
        from mlflowk8s.progress import QuietProgress

        return unlock(self._roots(QuietProgress()), lock_id)

    def render(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        """The Terraform inputs of both roots, written into the work folder."""
        rendered = render_lab(self.lab.folder, self.settings, self.lab.users().all_users(),
                              self.lab.env)  # fmt: skip
        return {
            PLATFORM: (rendered.platform_path, rendered.platform),
            TENANTS: (rendered.tenants_path, rendered.tenants),
        }

    # -- researchers and doctor ------------------------------------------------------
    def public_host(self) -> str | None:
        return self.settings.get(s.DOMAIN)

    def tenant_url(self, name: str) -> str:
        from mlflowk8s.errors import UsageError

        domain = self.public_host()
        if not domain:
            raise UsageError(
                f"no lab domain: pass --domain (missing {s.DOMAIN} in {self.settings.path})"
            )
        return public_url(domain, name)

    def desktop_client_id(self) -> str | None:
        return desktop_client_id(self.settings)

    def iap_audience(self) -> str | None:
        client = lab_oauth_client(self.settings)
        return client.client_id if client else None

    def admin_checks(self, environ: Mapping[str, str]) -> list[Check]:
        from mlflowk8s.targets.gcp.doctor import admin_checks

        return admin_checks(self.settings, environ)

    def cost(self, users: int | None = None) -> CostEstimate:
        from mlflowk8s.targets.gcp.cost import estimate

        count = len(self.lab.users().active_users()) if self.lab.has_users_file() else 0
        return estimate(self.settings, count if users is None else users)
