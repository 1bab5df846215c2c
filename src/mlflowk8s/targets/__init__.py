"""Targets: where the lab's tenants run. Chosen by MLFLOWK8S_TARGET in .env."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlflowk8s.errors import UsageError

if TYPE_CHECKING:
    from mlflowk8s.cli.context import LabContext
    from mlflowk8s.targets.base import Target


def target_for(lc: LabContext) -> Target:
    settings = lc.settings()
    if settings.target == "local":
        from mlflowk8s.targets.local import LocalTarget

        local: Target = LocalTarget(lc.lab_dir, settings, lc.env)
        return local
    if settings.target == "gcp":
        from mlflowk8s.targets.gcp import GcpTarget

        gcp: Target = GcpTarget(lc.lab_dir, settings, lc.env)
        return gcp
    raise UsageError(f"unknown target {settings.target!r}")
