"""Targets: where the lab's tenants run, one package each, found through this registry.

Adding a target is a new package under ``targets/`` and one line here. Classes are
imported only when a lab asks for its target, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mlflowk8s.errors import UsageError

if TYPE_CHECKING:
    from mlflowk8s.targets.base import TargetClass

DEFAULT_TARGET = "gcp"

REGISTRY: dict[str, str] = {
    "gcp": "mlflowk8s.targets.gcp.target:GcpTarget",
    "cloudrun": "mlflowk8s.targets.cloudrun.target:CloudRunTarget",
    "local": "mlflowk8s.targets.local.target:LocalTarget",
}


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def check_name(name: str, what: str) -> str:
    if name not in REGISTRY:
        raise UsageError(f"{what}={name!r} is not one of: {', '.join(REGISTRY)}")
    return name


def target_class(name: str) -> TargetClass:
    """The class of target ``name`` (imported now)."""
    module_name, _, class_name = REGISTRY[check_name(name, "target")].partition(":")
    cls: TargetClass = getattr(importlib.import_module(module_name), class_name)
    return cls
