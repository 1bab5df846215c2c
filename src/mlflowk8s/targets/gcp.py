"""The GKE target: Terraform's two roots (platform, tenants) against the lab's GCS state.

The roots are copied into the work folder ``.mlflowk8s/<env>/infra/`` (the packaged ones
may be read-only; ``.terraform`` and the lock file belong to the lab) and initialised
with the ``gcs`` backend at ``gs://TF_GCS_BUCKET/mlflowk8s/<env>/<root>``. The platform's
outputs reach the tenants root as ``platform-outputs.tfvars.json``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mlflowk8s import settings as s
from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.fileio import write_atomic
from mlflowk8s.render import (
    DEFAULT_ENV,
    Rendered,
    dumps,
    lab_oauth_client,
    render_lab,
    work_dir,
)
from mlflowk8s.server import health_status
from mlflowk8s.settings import Settings
from mlflowk8s.targets.base import Approve, Change, Plan, Progress, Status, TenantStatus
from mlflowk8s.terraform import (
    ApplyProgress,
    PlannedChange,
    Terraform,
    TerraformError,
    find_terraform,
    forwarding_signals,
    resource_type,
)

INFRA_ENV = "MLFLOWK8S_INFRA_DIR"
# Base of the retry backoff in seconds (doubles per retry); tests set it to 0.
RETRY_DELAY_ENV = "MLFLOWK8S_RETRY_DELAY"
DEFAULT_RETRY_DELAY = 15.0
RETRIES = 3

PLATFORM = "platform"
TENANTS = "tenants"
ROOTS = (PLATFORM, TENANTS)
PLATFORM_OUTPUTS_TFVARS = "platform-outputs.tfvars.json"
# Platform resources that make up the cluster: `destroy` (without --delete-data) removes
# these and keeps the rest (network, Cloud SQL, bucket, IP, certificate, DNS).
CLUSTER_ADDRESSES = ("module.gke",)
# Resource types that live inside the cluster: they go with it.
CLUSTER_OBJECT_TYPES = ("kubernetes_",)
SECRET_TF_VAR = "TF_VAR_iap_oauth_client_secret"
HEALTH_TIMEOUT_SECONDS = 5.0
_STAMP = ".mlflowk8s-init.json"
_SKIP_DIRS = {".terraform", "tests", "__pycache__"}

T = TypeVar("T")


def _retry_delay() -> float:
    text = os.environ.get(RETRY_DELAY_ENV, "")
    try:
        delay = float(text) if text else DEFAULT_RETRY_DELAY
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 3600:
        raise UsageError(f"{RETRY_DELAY_ENV}={text!r}: give seconds between 0 and 3600")
    return delay


def infra_dir() -> Path:
    """The Terraform roots: ``MLFLOWK8S_INFRA_DIR``, the packaged infra, or the repo's."""
    configured = os.environ.get(INFRA_ENV)
    if configured:
        path = Path(configured).expanduser().resolve()
        missing = [root for root in ROOTS if not (path / root).is_dir()]
        if missing:
            raise UsageError(f"{INFRA_ENV}={configured} has no {' or '.join(missing)} folder")
        return path
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "infra", package.parents[1] / "infra"):
        if all((candidate / root).is_dir() for root in ROOTS):
            return candidate
    raise UsageError(
        f"the Terraform roots (infra/platform, infra/tenants) are missing from {package}: "
        f"reinstall mlflowk8s or set {INFRA_ENV}"
    )


def _source_files(source: Path) -> dict[Path, Path]:
    files: dict[Path, Path] = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if set(relative.parts) & _SKIP_DIRS or not path.is_file():
            continue
        if path.name.endswith((".tfstate", ".tfstate.backup", ".tfplan")):
            continue
        files[relative] = path
    return files


def sync_infra(source: Path, dest: Path) -> str:
    """Mirror the Terraform sources into ``dest``; returns a digest of what was copied.

    ``.terraform`` folders are Terraform's own; a lock file already in ``dest`` is the lab's
    and stays (it records the providers this lab was applied with).
    """
    digest = hashlib.sha256()
    files = _source_files(source)
    for relative, path in files.items():
        data = path.read_bytes()
        digest.update(str(relative).encode() + b"\0" + data + b"\0")
        target = dest / relative
        if relative.name == ".terraform.lock.hcl" and target.exists():
            continue
        write_atomic(target, data)
    for path in sorted(dest.rglob("*.tf"), reverse=True):
        relative = path.relative_to(dest)
        if relative not in files and ".terraform" not in relative.parts:
            path.unlink()
    return digest.hexdigest()


@dataclass
class PlanHandle:
    """What ``apply`` needs to apply exactly what ``plan`` showed."""

    user: str | None
    inputs_digest: str = ""  # the tfvars the plan was made from
    platform_plan: Path | None = None  # None: no platform changes
    platform_changes: list[PlannedChange] = field(default_factory=list)
    tenants_planned: bool = False
    tenants_plan: Path | None = None  # None: no tenants changes (or not planned)
    tenants_changes: list[PlannedChange] = field(default_factory=list)
    outputs_digest: str = ""

    def discard(self) -> None:
        for path in (self.platform_plan, self.tenants_plan):
            if path is not None:
                path.unlink(missing_ok=True)


def _inputs_digest(rendered: Rendered) -> str:
    return hashlib.sha256((dumps(rendered.platform) + dumps(rendered.tenants)).encode()).hexdigest()


@dataclass
class _NullProgress:
    notes: list[str] = field(default_factory=list)

    def step(self, message: str) -> None:
        pass

    def advance(self, done: int, total: int, current: str) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


def tenant_target(user: str) -> str:
    return f'module.tenant["{user}"]'


def _tenant_of(address: str) -> str | None:
    prefix = 'module.tenant["'
    if address.startswith(prefix):
        return address[len(prefix) :].split('"', 1)[0]
    return None


def _count(changes: Sequence[PlannedChange]) -> int:
    """How many apply steps a plan takes (a replacement is a delete and a create)."""
    return sum(2 if c.action == "replace" else 1 for c in changes)


def _relevant(changes: Sequence[PlannedChange]) -> list[PlannedChange]:
    return [c for c in changes if c.action not in ("noop", "read")]


class GcpTarget:
    name = "gcp"

    def __init__(self, lab_dir: Path, settings: Settings, env: str = DEFAULT_ENV) -> None:
        # Terraform runs in the work folder: every path handed to it is absolute.
        self.lab_dir = lab_dir.resolve()
        self.settings = settings
        self.env = env
        self.work = work_dir(self.lab_dir, env)
        self._binary: Path | None = None
        self._roots: dict[str, Terraform] = {}
        self._progress: Progress = _NullProgress()
        self._digest: str | None = None
        self._noted_interrupt = False

    # -- set-up --------------------------------------------------------------------
    @property
    def unlock_command(self) -> str:
        env = "" if self.env == DEFAULT_ENV else f" --env {self.env}"
        return f"mlflowk8s{env} unlock {{lock_id}}"

    def _backend_config(self, root: str) -> dict[str, str]:
        bucket = self.settings.require(s.STATE_BUCKET)[s.STATE_BUCKET]
        return {"bucket": bucket, "prefix": f"mlflowk8s/{self.env}/{root}"}

    def _terraform(self, root: str) -> Terraform:
        """The root's runner, its sources synced and initialised (again when they changed)."""
        if root in self._roots:
            return self._roots[root]
        # Settings first: a lab missing them gets one error and no copied sources.
        self.settings.require(*s.GCP_REQUIRED)
        backend = self._backend_config(root)
        if self._binary is None:
            self._binary, _ = find_terraform(cache=self.work / "terraform-version.json")
        dest = self.work / "infra"
        if self._digest is None:
            self._digest = sync_infra(infra_dir(), dest)
        digest = self._digest
        env = dict(os.environ)
        if root == TENANTS:
            secret = self._oauth_client_secret()
            if secret:
                env[SECRET_TF_VAR] = secret
        tf = Terraform(
            self._binary,
            dest / root,
            root,
            env=env,
            unlock_command=self.unlock_command,
            on_interrupt=self._interrupted,
        )
        stamp_path = dest / root / _STAMP
        stamp = dumps({"backend": backend, "sources": digest, "terraform": str(self._binary)})
        current = stamp_path.read_text(encoding="utf-8") if stamp_path.exists() else ""
        if current != stamp or not (dest / root / ".terraform").is_dir():
            self._progress.step(f"initialising {root}")
            try:
                tf.init(backend)
            except TerraformError as exc:
                raise OperationError(
                    f"{exc} (state gs://{backend['bucket']}/{backend['prefix']}: "
                    f"check {s.STATE_BUCKET} in .env; `mlflowk8s init` creates the bucket)"
                ) from exc
            write_atomic(stamp_path, stamp)
        self._roots[root] = tf
        return tf

    def _interrupted(self) -> None:
        if self._noted_interrupt:
            return
        self._noted_interrupt = True
        self._progress.note("Ctrl-C: stopping terraform cleanly (press Ctrl-C again to kill it)")

    def _oauth_client_secret(self) -> str:
        client = lab_oauth_client(self.settings)
        return client.client_secret if client else ""

    def require_apply_settings(self) -> None:
        """The settings the tenants root needs; checked before the first apply."""
        missing = [key for key in (s.OAUTH_CLIENT_SECRET_FILE, s.MLFLOW_IMAGE)
                   if not self.settings.get(key)]  # fmt: skip
        if missing:
            hints = {
                s.OAUTH_CLIENT_SECRET_FILE: "`mlflowk8s init --oauth-client-secret FILE`",
                s.MLFLOW_IMAGE: "an image with psycopg2 and google-cloud-storage, by digest",
            }
            raise UsageError(
                f"missing settings in {self.settings.path} before applying: "
                + "; ".join(f"{key} ({hints[key]})" for key in missing)
            )
        self._oauth_client_secret()

    def _check_required_apis(self) -> None:
        """Before the platform exists: Terraform cannot turn these APIs on itself.

        Without them its first step fails, and looks like an API still being enabled,
        which the runner would retry for minutes.
        """
        from mlflowk8s.doctor import required_apis

        project = self.settings.require(s.PROJECT)[s.PROJECT]
        self._progress.step(f"checking the Google APIs of {project}")
        check = required_apis(project, os.environ)
        if check["status"] != "ok":
            fix = check.get("fix")
            raise OperationError(f"{check['detail']}: {fix}" if fix else check["detail"])

    # The Preflight interface (targets/base.py): `apply` checks these before planning.
    preflight = require_apply_settings

    def _render(self) -> Rendered:
        from mlflowk8s.users import load_users

        users = load_users(self.lab_dir).all_users()
        return render_lab(self.lab_dir, self.settings, users, self.env)

    @property
    def _outputs_path(self) -> Path:
        return self.work / PLATFORM_OUTPUTS_TFVARS

    def _platform_outputs(self) -> dict[str, Any]:
        """The platform's outputs, also written for the tenants root; {} before it exists."""
        outputs = self._terraform(PLATFORM).outputs()
        if outputs:
            write_atomic(self._outputs_path, dumps(outputs))
        return outputs

    def _tenants_var_files(self, rendered: Rendered, *extra: Path) -> list[Path]:
        return [self._outputs_path, rendered.tenants_path, *extra]

    def _override(self, name: str, data: dict[str, Any]) -> Path:
        path = self.work / name
        write_atomic(path, dumps(data))
        return path

    # -- retries -------------------------------------------------------------------
    def _retrying(self, root: str, attempt: Callable[[int], T], retries: int = RETRIES) -> T:
        """Run ``attempt(n)``; transient Terraform errors are retried ``retries`` times."""
        base = _retry_delay()
        number = 0
        while True:
            try:
                return attempt(number)
            except TerraformError as exc:
                if not exc.transient or not retries:
                    raise
                if number >= retries:
                    raise OperationError(f"{exc} (still failing after {retries} retries)") from exc
                number += 1
                delay = base * 2 ** (number - 1)
                reason = exc.result.errors[0].summary if exc.result.errors else "error"
                self._progress.note(
                    f"{root}: transient error ({reason}); retry {number}/{RETRIES} in {delay:.0f} s"
                )
                time.sleep(delay)

    def _plan_root(
        self,
        root: str,
        var_files: Sequence[Path],
        variables: dict[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        announce: bool = True,
        retries: int = RETRIES,
        label: str = "",
    ) -> tuple[Path | None, list[PlannedChange]]:
        """Plan one root into its saved plan file; (None, []) when nothing changes."""
        tf = self._terraform(root)
        out = self.work / f"{root}.tfplan"
        verb = "planning the removal of" if destroy else "planning"
        phase = f"planning {root}: {label}" if label else f"{verb} {root}"

        def attempt(number: int) -> list[PlannedChange]:
            if announce or number:
                self._progress.step(phase)
            follow = ApplyProgress(self._progress.advance)
            result = tf.plan(out, var_files, variables, targets, destroy, on_event=follow)
            return _relevant(result.changes)

        changes = self._retrying(root, attempt, retries)
        if not changes:
            out.unlink(missing_ok=True)  # nothing to apply; it holds every input all the same
            return None, changes
        return out, changes

    def _apply_root(
        self,
        root: str,
        plan_file: Path,
        planned: Sequence[PlannedChange],
        replan: Callable[[], tuple[Path | None, list[PlannedChange]]],
        label: str = "",
        approve: Approve | None = None,
    ) -> None:
        """Apply a saved plan; a retry after a transient error plans again first.

        A new plan that only finishes what the failed run started goes on (asking at every
        transient error would stall an unattended apply); one that touches more needs
        ``approve``, or stops.
        """
        tf = self._terraform(root)
        phase = f"applying {root}{': ' + label if label else ''}"
        shown = {c.address for c in planned}

        def attempt(number: int) -> None:
            path: Path | None = plan_file
            steps = _count(planned)
            if number:
                path, changes = replan()
                if path is not None:
                    self._confirm_unseen(
                        root, path, changes, [c for c in changes if c.address not in shown],
                        approve, why=f"{root}: planning again after the error found changes "
                        "the confirmed plan did not show:",
                        refused="nothing more was applied; run apply again",
                    )  # fmt: skip
                steps = _count(changes)
            if path is None:
                return
            self._progress.step(phase)
            try:
                tf.apply(path, on_event=ApplyProgress(self._progress.advance, steps))
            finally:
                # Applied or stale either way; and a saved plan holds every input value.
                path.unlink(missing_ok=True)

        self._retrying(root, attempt)

    @staticmethod
    def _confirm_unseen(
        root: str,
        path: Path,
        changes: list[PlannedChange],
        unseen: list[PlannedChange],
        approve: Approve | None,
        why: str,
        refused: str,
    ) -> None:
        """Changes the admin did not confirm: shown and asked for, or the run stops."""
        if not unseen:
            return
        late = Plan(
            changes=[Change(root, c.action, c.address, _tenant_of(c.address)) for c in changes],
            notes=[why],
        )
        if approve is None or not approve(late):
            path.unlink(missing_ok=True)
            listed = ", ".join(c.address for c in unseen[:3]) + (", ..." if len(unseen) > 3 else "")
            raise OperationError(f"{root}: not confirmed ({listed}): {refused}")

    def _plan_and_apply(
        self,
        root: str,
        var_files: Sequence[Path],
        variables: dict[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        label: str = "",
    ) -> list[PlannedChange]:
        def replan() -> tuple[Path | None, list[PlannedChange]]:
            return self._plan_root(root, var_files, variables, targets, destroy, label=label)

        path, changes = replan()
        if path is not None:
            self._apply_root(root, path, changes, replan, label=label)
        return changes

    # -- Target: plan / apply ------------------------------------------------------
    def plan(self, user: str | None, progress: Progress) -> Plan:
        self._progress = progress
        rendered = self._render()
        handle = PlanHandle(user=user, inputs_digest=_inputs_digest(rendered))
        result = Plan(handle=handle)
        # The tenants' inputs are the platform's current outputs, so both roots can be
        # planned at the same time (each has its own state and lock).
        outputs = self._platform_outputs()
        if not outputs:
            self._check_required_apis()
        else:
            self.require_apply_settings()
            self._terraform(TENANTS)
            handle.outputs_digest = dumps(outputs)
        targets = [tenant_target(user)] if user else []
        progress.step("planning platform and tenants" if outputs else "planning platform")
        with forwarding_signals(), ThreadPoolExecutor(max_workers=2) as pool:
            platform_job = pool.submit(
                self._plan_root, PLATFORM, [rendered.platform_path], announce=False
            )
            tenants_job = None
            if outputs:
                tenants_job = pool.submit(
                    self._plan_root,
                    TENANTS,
                    self._tenants_var_files(rendered),
                    targets=targets,
                    announce=False,
                    retries=0,  # retried below, once the platform plan is known
                )
            path, platform_changes = platform_job.result()
            tenants_error: TerraformError | None = None
            tenants = None
            if tenants_job is not None:
                try:
                    tenants = tenants_job.result()
                except TerraformError as exc:
                    tenants_error = exc
        handle.platform_plan, handle.platform_changes = path, platform_changes
        result.changes += [Change(PLATFORM, c.action, c.address) for c in platform_changes]
        if tenants_job is None:
            result.notes.append(
                "tenants: not planned: the platform does not exist yet "
                "(apply creates it, then plans and applies the tenants)"
            )
            return result
        if tenants_error is not None:
            if platform_changes:
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
            tenants = self._plan_root(TENANTS, self._tenants_var_files(rendered), targets=targets)
        assert tenants is not None
        path, tenant_changes = tenants
        handle.tenants_planned = True
        handle.tenants_plan, handle.tenants_changes = path, tenant_changes
        result.changes += [
            Change(TENANTS, c.action, c.address, _tenant_of(c.address)) for c in tenant_changes
        ]
        return result

    def apply(
        self, plan: Plan, user: str | None, progress: Progress, approve: Approve | None = None
    ) -> Status:
        self._progress = progress
        handle = plan.handle
        if not isinstance(handle, PlanHandle) or handle.user != user:
            raise OperationError("apply needs the plan that was shown for the same --user")
        self.require_apply_settings()
        rendered = self._render()
        if _inputs_digest(rendered) != handle.inputs_digest:
            handle.discard()
            raise OperationError(
                "users.yaml or .env changed since the plan was shown: nothing was applied; "
                "run apply again"
            )
        if handle.platform_plan is not None:

            def replan_platform() -> tuple[Path | None, list[PlannedChange]]:
                return self._plan_root(PLATFORM, [rendered.platform_path])

            self._apply_root(
                PLATFORM, handle.platform_plan, handle.platform_changes, replan_platform,
                approve=approve,
            )  # fmt: skip
        outputs = self._platform_outputs()
        if not outputs:
            raise OperationError(
                "the platform has no outputs after apply: check `terraform output` "
                f"in {self.work / 'infra' / PLATFORM}"
            )
        targets = [tenant_target(user)] if user else []
        var_files = self._tenants_var_files(rendered)

        def replan_tenants() -> tuple[Path | None, list[PlannedChange]]:
            return self._plan_root(TENANTS, var_files, targets=targets)

        fresh = (
            handle.tenants_planned
            and handle.platform_plan is None
            and handle.outputs_digest == dumps(outputs)
        )
        if fresh:
            path, changes = handle.tenants_plan, handle.tenants_changes
        else:
            # The tenants' inputs are the platform outputs just applied: plan them now.
            path, changes = replan_tenants()
            if path is not None:
                # Creating was announced; changing or deleting what was not shown needs a yes.
                seen = {(c.address, c.action) for c in handle.tenants_changes}
                unseen = [
                    c for c in changes if c.action != "create" and (c.address, c.action) not in seen
                ]
                self._confirm_unseen(
                    TENANTS, path, changes, unseen,
                    approve, why="The platform's changes are applied; the tenants' plan now "
                    "has changes the first plan did not show:",
                    refused="the platform's changes are applied, the tenants' are not; "
                    "run `mlflowk8s apply` again",
                )  # fmt: skip
        if path is not None:
            self._apply_root(TENANTS, path, changes, replan_tenants, approve=approve)
        return self.status(check_health=False)

    # -- Target: status ------------------------------------------------------------
    def status(self, check_health: bool = True) -> Status:
        outputs = self._platform_outputs()
        if not outputs:
            return Status(facts={"platform": "not created yet (run `mlflowk8s apply`)"})
        tenants_out = self._terraform(TENANTS).outputs()
        tenants: list[TenantStatus] = []
        for name, info in sorted((tenants_out.get("tenants") or {}).items()):
            retired = bool(info.get("retired"))
            tenants.append(
                TenantStatus(
                    name=name,
                    url=str(info.get("url", "")),
                    members=list(info.get("members") or []),
                    state="retired" if retired else "applied",
                )
            )
        if check_health:
            probe_all([t for t in tenants if t.state != "retired"])
        return Status(tenants=tenants, facts=self._facts(outputs, tenants_out))

    def _facts(self, outputs: dict[str, Any], tenants_out: dict[str, Any]) -> dict[str, Any]:
        domain = self.settings.get(s.DOMAIN) or ""
        facts: dict[str, Any] = {
            "domain": domain,
            "ip_address": outputs.get("gateway_ip_address"),
            "cluster": f"{outputs.get('cluster_name')} ({outputs.get('cluster_location')})",
        }
        servers = outputs.get("dns_name_servers") or []
        facts["name_servers"] = (
            servers if servers
            else f"none managed here: point {domain} (A) at {outputs.get('gateway_ip_address')}"
        )  # fmt: skip
        auth = outputs.get("certificate_dns_authorization")
        if isinstance(auth, dict) and auth.get("name"):
            facts["dns_authorization"] = f"{auth.get('name')} {auth.get('type')} {auth.get('data')}"
        if tenants_out.get("gateway_name"):
            facts["gateway"] = tenants_out["gateway_name"]
        facts["certificate"] = self._certificate(outputs)
        return facts

    def _certificate(self, outputs: dict[str, Any]) -> str:
        from mlflowk8s.errors import MlflowK8sError
        from mlflowk8s.google_api import certificate_state

        project = self.settings.get(s.PROJECT) or ""
        try:
            return certificate_state(project, str(outputs.get("certificate_map_name")), os.environ)
        except MlflowK8sError as exc:
            return f"unknown: {exc}"

    # -- Target: destroy / purge ---------------------------------------------------
    def destroy_confirmation_word(self) -> str:
        return self.settings.require(s.PROJECT)[s.PROJECT]

    def destroy(self, delete_data: bool, progress: Progress) -> list[str]:
        self._progress = progress
        rendered = self._render()
        platform_tf = self._terraform(PLATFORM)
        outputs = self._platform_outputs()
        tenants_exist = bool(outputs) and bool(self._terraform(TENANTS).state_list())
        if tenants_exist:
            self.require_apply_settings()
        cluster = platform_tf.state_list(*CLUSTER_ADDRESSES)
        if delete_data:
            if tenants_exist:
                if not cluster:
                    self._forget_cluster_objects()
                self._plan_and_apply(
                    TENANTS, self._tenants_var_files(rendered), destroy=True,
                    label="remove every tenant and its data",
                )  # fmt: skip
            if platform_tf.state_list():
                unprotect = {"deletion_protection": "false"}
                self._plan_and_apply(
                    PLATFORM, [rendered.platform_path], unprotect,
                    label="lift deletion protection",
                )  # fmt: skip
                self._plan_and_apply(
                    PLATFORM, [rendered.platform_path], unprotect, destroy=True,
                    label="remove everything",
                )  # fmt: skip
            self._outputs_path.unlink(missing_ok=True)
            return []
        if tenants_exist and cluster:
            retired = {
                name: {**entry, "retired": True}
                for name, entry in rendered.tenants["users"].items()
            }
            retire_all = self._override("tenants-retire-all.tfvars.json", {"users": retired})
            self._plan_and_apply(
                TENANTS, self._tenants_var_files(rendered, retire_all), label="retire every tenant"
            )
        if cluster:
            targets = list(CLUSTER_ADDRESSES)
            # Lift the cluster's deletion protection only: targeted, so the database
            # instance keeps its own.
            unprotect = {"deletion_protection": "false"}
            self._plan_and_apply(
                PLATFORM, [rendered.platform_path], unprotect, targets,
                label="lift the cluster's deletion protection",
            )  # fmt: skip
            self._plan_and_apply(
                PLATFORM, [rendered.platform_path], unprotect, targets, destroy=True,
                label="remove the cluster",
            )  # fmt: skip
            if tenants_exist:
                self._forget_cluster_objects()
        else:
            progress.note("No cluster to remove.")
        return self._kept(outputs)

    def _forget_cluster_objects(self) -> None:
        """Drop Kubernetes objects from the tenants state once their cluster is gone.

        They went with the cluster; left in the state, the Kubernetes provider would try
        to reach a cluster that no longer exists on the next tenants plan or destroy.
        """
        tenants = self._terraform(TENANTS)
        gone = [
            address for address in tenants.state_list()
            if resource_type(address).startswith(CLUSTER_OBJECT_TYPES)
        ]  # fmt: skip
        if gone:
            self._progress.step("tenants: forgetting the objects that went with the cluster")
            tenants.state_rm(gone)

    @staticmethod
    def _kept(outputs: dict[str, Any]) -> list[str]:
        if not outputs:
            return []
        kept = [
            "network and Cloud NAT",
            f"Cloud SQL instance {outputs.get('sql_instance_name')} "
            "(every tenant's database and database user)",
            f"artifact bucket gs://{outputs.get('artifact_bucket')} (every tenant's folder)",
            f"static IP {outputs.get('gateway_ip_name')} ({outputs.get('gateway_ip_address')})",
            f"certificate map {outputs.get('certificate_map_name')} and DNS records",
        ]
        return kept

    def purge_user(self, name: str, progress: Progress) -> None:
        self._progress = progress
        rendered = self._render()
        if not self._platform_outputs():
            return
        target = tenant_target(name)
        if not self._terraform(TENANTS).state_list(target):
            return
        self.require_apply_settings()
        users = {n: e for n, e in rendered.tenants["users"].items() if n != name}
        without = self._override("tenants-purge.tfvars.json", {"users": users})
        self._plan_and_apply(
            TENANTS, self._tenants_var_files(rendered, without), targets=[target],
            label=f"delete {name} and its data",
        )  # fmt: skip

    # -- unlock --------------------------------------------------------------------
    def unlock(self, lock_id: str) -> str:
        """Release the state lock ``lock_id``; returns the root that held it."""
        holders = self._locks()
        root = next((r for r, held_id in holders.items() if held_id == lock_id), None)
        if root is None:
            held = ", ".join(f"{r} ({held_id})" for r, held_id in holders.items())
            raise UsageError(
                f"no state lock {lock_id} in environment {self.env}"
                + (f"; locked now: {held}" if held else ": no state is locked")
            )
        result = self._terraform(root).force_unlock(lock_id)
        if result.code != 0:
            last = (result.stderr.strip().splitlines() or [f"exit code {result.code}"])[-1]
            raise OperationError(f"terraform force-unlock ({root}) failed: {last}")
        return root

    def _locks(self) -> dict[str, str]:
        """The lock ID of each root whose state is locked now.

        The gcs backend's lock ID is the generation of the ``.tflock`` object.
        """
        from mlflowk8s.state_bucket import storage_client

        bucket_name = self.settings.require(s.STATE_BUCKET)[s.STATE_BUCKET]
        try:
            bucket = storage_client(self.settings.get(s.PROJECT) or "").bucket(bucket_name)
            found: dict[str, str] = {}
            for root in ROOTS:
                prefix = self._backend_config(root)["prefix"]
                blob = bucket.get_blob(f"{prefix}/default.tflock")
                if blob is not None:
                    found[root] = str(blob.generation)
            return found
        except Exception as exc:  # google.api_core errors and network errors alike
            raise OperationError(
                f"cannot read the state locks in gs://{bucket_name}: {exc}"
            ) from exc


# -- health ----------------------------------------------------------------------------

IAP_STATUSES = (302, 401, 403)


def classify_health(status_code: int | None) -> tuple[bool | None, str | None]:
    """(healthy, note) for an unauthenticated GET of /<user>/health."""
    if status_code is None:
        return None, "unreachable"
    if status_code == 200:
        return True, None
    if status_code in IAP_STATUSES:
        # IAP answers before the server: reachable, but its health is not visible to us.
        return None, "behind IAP"
    return False, f"HTTP {status_code}"


def probe_all(tenants: list[TenantStatus]) -> None:
    if not tenants:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(tenants))) as pool:
        codes = list(pool.map(lambda t: health_status(t.url, HEALTH_TIMEOUT_SECONDS), tenants))
    for tenant, code in zip(tenants, codes, strict=True):
        tenant.healthy, note = classify_health(code)
        if note is not None:
            tenant.health_note = note
