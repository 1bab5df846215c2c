"""The Cloud Run target: ``infra/cloudrun``'s two roots against the lab's GCS state.

Plan and apply live here; status, destroy, `doctor`, `cost` and `init` have their own
modules in this package; what both Google targets do alike is ``google/target.py``'s.
The tenants' inputs name each service's run.app host, which holds the project's number,
a platform output: they are planned once the platform exists and planned again when its
outputs changed during apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.errors import UsageError
from mlflowk8s.fileio import dumps
from mlflowk8s.google.state_health import check_state
from mlflowk8s.google.target import GoogleTarget
from mlflowk8s.targets.base import Approve, Check, Destroyed, Plan, PlanHandle, Progress, Status
from mlflowk8s.targets.cloudrun import settings as s
from mlflowk8s.targets.cloudrun.init import CloudRunInit
from mlflowk8s.targets.cloudrun.render import Rendered
from mlflowk8s.targets.cloudrun.render import tenant_url as run_app_url
from mlflowk8s.targets.cloudrun.roots import (
    PLATFORM,
    TENANTS,
    Roots,
    changes_of,
    root_approve,
    tenant_of,
)
from mlflowk8s.terraform.rollout import RootPlan
from mlflowk8s.terraform.runner import forwarding_signals
from mlflowk8s.terraform.workspace import inputs_digest

if TYPE_CHECKING:
    from mlflowk8s.targets.base import CostEstimate


class CloudRunTarget(GoogleTarget):
    name = "cloudrun"
    settings_checks = s.CHECKS
    init = CloudRunInit()

    def _roots(self, progress: Progress) -> Roots:
        return Roots(self.lab, progress)

    # The Preflight interface (targets/base.py): `apply` checks this before planning.
    def preflight(self) -> None:
        s.require_image(self.settings)

    def _plan_tenants(self, roots: Roots, rendered: Rendered, user: str | None) -> RootPlan:
        """The tenants' plan; for ``--user``, only what belongs to that user.

        Resources are keyed by user, so the full plan says which are the user's: when it
        holds others' changes too, the user's addresses are planned again as targets.
        Other users not applied yet are left out of a ``--user`` plan: a targeted plan
        still evaluates every instance of the resources it depends on, and theirs would
        refer to resources that do not exist.
        """
        var_files = roots.tenants_var_files(rendered)
        if user is None:
            return roots.rollout.plan(TENANTS, var_files)
        users = roots.user_names()
        applied = {tenant_of(a, users) for a in roots.root(TENANTS).state_list()}
        assert rendered.tenants is not None
        entries = rendered.tenants["users"]
        kept = {name: e for name, e in entries.items() if name == user or name in applied}
        if len(kept) != len(entries):
            only = roots.override(f"cloudrun-tenants-{user}.tfvars.json", {"users": kept})
            var_files = [*var_files, only]
        full = roots.rollout.plan(TENANTS, var_files)
        mine = [c.address for c in full.changes if tenant_of(c.address, users) == user]
        if len(mine) == len(full.changes):
            return full
        full.discard()
        if not mine:
            return RootPlan(TENANTS)
        return roots.rollout.plan(TENANTS, var_files, targets=mine, label=f"only {user}")

    # -- Target: plan --------------------------------------------------------------
    def plan(self, user: str | None, progress: Progress) -> Plan:
        roots = self._roots(progress)
        outputs = roots.platform_outputs()
        if not outputs:
            self._check_required_apis(progress)
        else:
            # Before anything is planned (and so before the platform can be changed).
            check_state(roots, TENANTS)
        rendered = roots.render(outputs)
        handle = PlanHandle(user=user, inputs=inputs_digest(rendered.platform, rendered.tenants),
                            basis=dumps(outputs))  # fmt: skip
        result = Plan(handle=handle)
        users = roots.user_names()
        with forwarding_signals():
            platform = roots.rollout.plan(PLATFORM, [rendered.platform_path])
            handle.saved[PLATFORM] = platform
            result.changes += changes_of(PLATFORM, platform.changes, users)
            if rendered.tenants is None:
                result.notes.append(
                    "tenants: not planned: the platform does not exist yet "
                    "(apply creates it, then plans and applies the tenants)"
                )
                return result
            tenants = self._plan_tenants(roots, rendered, user)
        handle.saved[TENANTS] = tenants
        result.changes += changes_of(TENANTS, tenants.changes, users)
        return result

    # -- Target: apply -------------------------------------------------------------
    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        handle = self._shown_plan(plan, user)
        # What the plan was made from, read again: another admin may have edited meanwhile.
        self.lab.reread()
        self.preflight()
        roots = self._roots(progress)
        basis = json.loads(handle.basis) if handle.basis else {}
        rendered = roots.render(basis)
        self._check_inputs(handle, rendered.platform, rendered.tenants)
        asks = root_approve(approve, roots.user_names())
        platform, outputs = self._apply_platform(roots, handle, rendered.platform_path, asks)
        self._allow_clients(progress, str(outputs.get("project_number") or "") or None)
        if outputs != basis:
            rendered = roots.render(outputs)  # the services' hosts name the project number

        def replan_tenants() -> RootPlan:
            return self._plan_tenants(roots, rendered, user)

        unchanged = platform.path is None and outputs == basis
        self._apply_tenants(roots, handle.saved.get(TENANTS), unchanged, replan_tenants, asks)
        return self.status(check_health=False)

    # -- the rest, in their own modules ----------------------------------------------
    def status(self, check_health: bool = True) -> Status:
        from mlflowk8s.progress import QuietProgress
        from mlflowk8s.targets.cloudrun.status import lab_status

        return lab_status(self._roots(QuietProgress()), check_health)

    def _destroy(self, delete_data: bool, stop_database: bool, progress: Progress) -> Destroyed:
        from mlflowk8s.targets.cloudrun.destroy import destroy

        return destroy(self._roots(progress), self.preflight, delete_data, stop_database)

    def purge_user(self, name: str, progress: Progress) -> None:
        from mlflowk8s.targets.cloudrun.destroy import purge_user

        purge_user(self._roots(progress), self.preflight, name)

    def render(self) -> dict[str, tuple[Path, dict[str, Any]]]:
        """The Terraform inputs, written into the work folder; the tenants' once the
        platform exists (their hosts need its project number)."""
        from mlflowk8s.progress import QuietProgress

        rendered = self._roots(QuietProgress()).render()
        out = {PLATFORM: (rendered.platform_path, rendered.platform)}
        if rendered.tenants is not None:
            out[TENANTS] = (rendered.tenants_path, rendered.tenants)
        return out

    # -- researchers, doctor, cost ---------------------------------------------------
    def public_host(self) -> str | None:
        """None: no one host; each tenant has its own (:meth:`tenant_url`)."""
        return None

    def tenant_url(self, name: str) -> str:
        from mlflowk8s.progress import QuietProgress

        number = self.settings.get(s.PROJECT_NUMBER)
        region = self.settings.get(s.REGION)
        if not number:
            saved = self._roots(QuietProgress()).saved_outputs()
            number = str(saved.get("project_number") or "")
            region = str(saved.get("region") or region or "")
        if not number or not region:
            raise UsageError(
                "the tenant's URL needs the project's number: run `mlflowk8s status` in the "
                f"lab folder once the platform exists, or set {s.PROJECT_NUMBER} in .env"
            )
        return run_app_url(self.lab.env, name, number, region)

    def iap_audience(self) -> str | None:
        # With IAP's Google-managed client, programmatic tokens are minted for the lab's
        # allow-listed desktop client: its id is the audience.
        return self.desktop_client_id()

    def admin_checks(self, environ: Mapping[str, str]) -> list[Check]:
        from mlflowk8s.targets.cloudrun.doctor import admin_checks

        return admin_checks(self.settings, environ)

    def cost(self, users: int | None = None) -> CostEstimate:
        from mlflowk8s.targets.cloudrun.cost import estimate

        return estimate(self.settings, self._active_users() if users is None else users)
