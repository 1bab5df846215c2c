"""The GKE target: Terraform's two roots (platform, tenants) against the lab's GCS state.

Plan and apply live here; status, destroy, `doctor` and `init` have their own modules in
this package; what both Google targets do alike is ``google/target.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.fileio import dumps
from mlflowk8s.google.state_health import check_state
from mlflowk8s.google.target import GoogleTarget
from mlflowk8s.server import public_url
from mlflowk8s.targets.base import Approve, Check, Destroyed, Plan, PlanHandle, Progress, Status
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
from mlflowk8s.terraform.results import TerraformError
from mlflowk8s.terraform.rollout import RootPlan
from mlflowk8s.terraform.runner import forwarding_signals
from mlflowk8s.terraform.workspace import inputs_digest

if TYPE_CHECKING:
    from mlflowk8s.targets.base import CostEstimate


class GcpTarget(GoogleTarget):
    name = "gcp"
    settings_checks = s.CHECKS
    init = GcpInit()

    def _roots(self, progress: Progress) -> Roots:
        return Roots(self.lab, progress)

    # -- checks --------------------------------------------------------------------
    def require_apply_settings(self) -> None:
        """The settings the tenants root needs; checked before the first apply."""
        s.require_apply_settings(self.settings)
        lab_oauth_client(self.settings)

    # The Preflight interface (targets/base.py): `apply` checks these before planning.
    preflight = require_apply_settings

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
        handle = self._shown_plan(plan, user)
        # What the plan was made from, read again: another admin may have edited meanwhile.
        self.lab.reread()
        self.require_apply_settings()
        roots = self._roots(progress)
        rendered = roots.render()
        self._check_inputs(handle, rendered.platform, rendered.tenants)
        asks = root_approve(approve)
        platform, outputs = self._apply_platform(roots, handle, rendered.platform_path, asks)
        self._allow_clients(progress)
        targets = [tenant_target(user)] if user else []
        var_files = roots.tenants_var_files(rendered)

        def replan_tenants() -> RootPlan:
            # The tenants' inputs are the platform outputs just applied.
            return roots.rollout.plan(TENANTS, var_files, targets=targets)

        unchanged = platform.path is None and handle.basis == dumps(outputs)
        self._apply_tenants(roots, handle.saved.get(TENANTS), unchanged, replan_tenants, asks)
        return self.status(check_health=False)

    # -- the rest, in their own modules ----------------------------------------------
    def status(self, check_health: bool = True) -> Status:
        from mlflowk8s.progress import QuietProgress
        from mlflowk8s.targets.gcp.status import lab_status

        return lab_status(self._roots(QuietProgress()), check_health)

    def _destroy(self, delete_data: bool, stop_database: bool, progress: Progress) -> Destroyed:
        from mlflowk8s.targets.gcp.destroy import destroy

        return destroy(self._roots(progress), self.require_apply_settings, delete_data,
                       stop_database)  # fmt: skip

    def purge_user(self, name: str, progress: Progress) -> None:
        from mlflowk8s.targets.gcp.destroy import purge_user

        purge_user(self._roots(progress), self.require_apply_settings, name)

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

    def iap_audience(self) -> str | None:
        client = lab_oauth_client(self.settings)
        return client.client_id if client else None

    def admin_checks(self, environ: Mapping[str, str]) -> list[Check]:
        from mlflowk8s.targets.gcp.doctor import admin_checks

        return admin_checks(self.settings, environ)

    def cost(self, users: int | None = None) -> CostEstimate:
        from mlflowk8s.targets.gcp.cost import estimate

        return estimate(self.settings, self._active_users() if users is None else users)
