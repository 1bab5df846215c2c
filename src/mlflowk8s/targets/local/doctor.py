"""`doctor`'s checks for a local lab's admin: MLflow and supervisor here, the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlflowk8s.errors import MlflowK8sError
from mlflowk8s.targets.base import Check, check
from mlflowk8s.targets.local import settings as ls

if TYPE_CHECKING:
    from mlflowk8s.targets.local.target import LocalTarget


def admin_checks(target: LocalTarget, environ: Mapping[str, str]) -> list[Check]:
    checks = []
    try:
        mlflow = ls.require_tools()
    except MlflowK8sError as exc:
        checks.append(check("local tools", "fail", str(exc), ls.INSTALL_HINT))
    else:
        checks.append(check("local tools", "ok", f"MLflow {mlflow} and supervisor"))
    try:
        host = ls.local_host(target.settings)
        port = ls.base_port(target.settings)
        ls.start_timeout(target.settings)
    except MlflowK8sError as exc:
        checks.append(check("local settings", "fail", str(exc), "correct it in .env"))
    else:
        checks.append(check("local settings", "ok", f"servers on {host} from port {port}"))
    return checks
