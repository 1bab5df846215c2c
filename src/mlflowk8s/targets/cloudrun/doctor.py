"""`doctor`'s checks for a cloudrun lab's admin: settings, Terraform, the APIs Terraform
needs, and the organization policy that would refuse the database's public IP."""

from __future__ import annotations

from collections.abc import Mapping

from mlflowk8s.errors import MlflowK8sError
from mlflowk8s.google.admin_checks import required_apis, servers_image, terraform_check
from mlflowk8s.lab.settings import Settings
from mlflowk8s.targets.base import Check, check
from mlflowk8s.targets.cloudrun import settings as s

# Cloud Run reaches the database through its public IP (connectors only, no authorized
# networks); an organization enforcing this constraint refuses to create it.
PUBLIC_IP_CONSTRAINT = "constraints/sql.restrictPublicIp"


def admin_checks(settings: Settings, environ: Mapping[str, str]) -> list[Check]:
    checks = []
    missing = [key for key in s.REQUIRED if not settings.get(key)]
    if missing:
        detail = f"missing in {settings.path}: {', '.join(missing)}"
        checks.append(check("settings", "fail", detail, "run `mlflowk8s init --target cloudrun`"))
    elif not settings.get(s.MLFLOW_IMAGE):
        checks.append(check("settings", "fail", f"missing in {settings.path}: {s.MLFLOW_IMAGE}",
                            "run `mlflowk8s init`"))  # fmt: skip
    image = settings.get(s.MLFLOW_IMAGE)
    if image:
        checks.append(servers_image(image))
    checks.append(terraform_check())
    project = settings.get(s.PROJECT)
    if project:
        apis = required_apis(project, environ)
        checks.append(apis)
        if apis["status"] == "ok":  # the policy is asked through Resource Manager
            checks.append(public_ip_policy(project, environ))
    return checks


def public_ip_policy(project: str, env: Mapping[str, str]) -> Check:
    """Does the organization's policy let Cloud SQL have a public IP in ``project``?"""
    from mlflowk8s import google_api

    name = "database public IP"
    try:
        session = google_api.admin_session()
        base = google_api.endpoint(google_api.RESOURCE_MANAGER, env)
        code, body = google_api.request_json(
            session, "POST", f"{base}/v1/projects/{project}:getEffectiveOrgPolicy",
            {"constraint": PUBLIC_IP_CONSTRAINT},
        )  # fmt: skip
    except MlflowK8sError as exc:
        return check(name, "fail", f"cannot ask Resource Manager about {project}: {exc}",
                     "check the network and `gcloud auth application-default login`")  # fmt: skip
    if code == 403:
        return check(
            name, "warn", f"not allowed to read {PUBLIC_IP_CONSTRAINT} of {project}",
            "ask for roles/orgpolicy.policyViewer, or check the policy in the console",
        )  # fmt: skip
    if code != 200:
        return check(name, "fail", f"Resource Manager answered HTTP {code} for {project}",
                     "check GCP_PROJECT")  # fmt: skip
    if (body.get("booleanPolicy") or {}).get("enforced"):
        return check(
            name, "fail",
            f"{PUBLIC_IP_CONSTRAINT} is enforced for {project}: Cloud SQL cannot get the "
            "public IP the Cloud Run services connect through",
            f"ask an organization admin to exempt {project} from {PUBLIC_IP_CONSTRAINT}, "
            "or use the gcp target (private IP)",
        )  # fmt: skip
    return check(name, "ok", f"{PUBLIC_IP_CONSTRAINT} is not enforced for {project}")
