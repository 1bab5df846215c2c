"""Two Terraform roots (platform, tenants) applied in order against the lab's GCS state.

A Google target says how its roots are laid out (:class:`Layout`): their names, where they
sit in the packaged infra, their state prefixes and the file the platform's outputs reach
the tenants root through. :class:`StateRoots` is what one plan, apply, status or destroy
works with; the target's subclass renders the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.google.settings import STATE_BUCKET
from mlflowk8s.progress import Progress
from mlflowk8s.terraform.rollout import Rollout
from mlflowk8s.terraform.runner import Terraform
from mlflowk8s.terraform.workspace import Workspace

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlflowk8s.lab import Lab


@dataclass(frozen=True)
class Layout:
    """``roots``: (platform, tenants); ``state_prefix``: with ``{env}`` and ``{root}``."""

    roots: tuple[str, str]
    state_prefix: str
    outputs_tfvars: str
    subdir: str = ""
    required: tuple[str, ...] = (STATE_BUCKET,)

    @property
    def platform(self) -> str:
        return self.roots[0]

    @property
    def tenants(self) -> str:
        return self.roots[1]


class StateRoots:
    """The roots of one environment: workspace, rollout, the platform's outputs."""

    layout: Layout

    def __init__(self, lab: Lab, progress: Progress, layout: Layout) -> None:
        self.lab = lab
        self.layout = layout
        self.settings = lab.settings()
        self._credentials_checked = False
        # Terraform runs in the work folder: every path handed to it is absolute.
        self.work = lab.work_folder().resolve()
        self.workspace = Workspace(
            self.work,
            layout.roots,
            backend=self._checked_backend,
            progress=progress,
            environment=self.environment,
            init_hint=self._init_hint,
            unlock_command=unlock_command(lab.env),
            subdir=layout.subdir,
        )
        self.rollout = Rollout(self.workspace)

    @property
    def progress(self) -> Progress:
        return self.workspace.progress

    def backend(self, root: str) -> dict[str, str]:
        return self._backend(root)

    def _checked_backend(self, root: str) -> dict[str, str]:
        """The backend of a root Terraform is about to run, the credentials checked first:
        without them Terraform's gcs backend fails (or hangs) and the bucket gets blamed."""
        backend = self._backend(root)
        if not self._credentials_checked:
            from mlflowk8s.google_api import check_admin_credentials

            check_admin_credentials()
            self._credentials_checked = True
        return backend

    def _backend(self, root: str) -> dict[str, str]:
        # Every setting first: a lab missing some gets one error and no copied sources.
        bucket = self.settings.require(*self.layout.required)[STATE_BUCKET]
        prefix = self.layout.state_prefix.format(env=self.lab.env, root=root)
        return {"bucket": bucket, "prefix": prefix}

    def environment(self, root: str) -> Mapping[str, str]:
        """What ``root`` runs with besides the process environment (e.g. a secret)."""
        return {}

    @staticmethod
    def _init_hint(root: str, backend: Any) -> str:
        return (
            f"state gs://{backend['bucket']}/{backend['prefix']}: check {STATE_BUCKET} in "
            ".env; `mlflowk8s init` creates the bucket"
        )

    def root(self, name: str) -> Terraform:
        return self.workspace.root(name)

    @property
    def outputs_path(self) -> Path:
        return self.work / self.layout.outputs_tfvars

    def platform_outputs(self) -> dict[str, Any]:
        """The platform's outputs, also written for the tenants root; {} before it exists."""
        return self.workspace.outputs(self.layout.platform, save_as=self.outputs_path)

    def override(self, name: str, data: dict[str, Any]) -> Path:
        path = self.work / name
        write_atomic(path, dumps(data))
        return path


def unlock_command(env: str) -> str:
    flag = "" if env == "default" else f" --env {env}"
    return f"mlflowk8s{flag} unlock {{lock_id}}"
