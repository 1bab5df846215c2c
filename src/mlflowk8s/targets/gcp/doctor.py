"""`doctor`'s checks for a gcp lab's admin: settings, Terraform, the APIs Terraform needs."""

from __future__ import annotations

from collections.abc import Mapping

from mlflowk8s.google.admin_checks import required_apis, servers_image, terraform_check
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import Check, check
from mlflowk8s.targets.gcp import settings as s


def admin_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    checks = []
    missing = [key for key in s.REQUIRED if not settings.get(key)]
    if missing:
        checks.append(check("settings", "fail", f"missing in {settings.path}: "
                            f"{', '.join(missing)}", "run `mlflowk8s init`"))  # fmt: skip
    image = settings.get(s.MLFLOW_IMAGE)
    if image:
        checks.append(servers_image(image))
    checks.append(terraform_check())
    project = settings.get(s.PROJECT)
    if project:
        checks.append(required_apis(project, environ))
    return checks
