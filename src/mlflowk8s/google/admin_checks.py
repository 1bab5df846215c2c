"""`doctor`'s checks every Google target's admin needs: Terraform, the Google APIs
Terraform needs before it can enable the others, and the servers' image."""

from __future__ import annotations

from collections.abc import Mapping

from mlflowk8s.errors import MlflowK8sError
from mlflowk8s.targets.base import Check, check

# Terraform cannot turn these on itself (DESIGN.md, "Nodes"): the admin must.
REQUIRED_APIS = ("serviceusage.googleapis.com", "cloudresourcemanager.googleapis.com")


def terraform_check() -> Check:
    from mlflowk8s.terraform.binary import find_terraform

    try:
        path, version = find_terraform()
    except MlflowK8sError as exc:
        return check(
            "terraform", "fail", str(exc), "https://developer.hashicorp.com/terraform/install"
        )
    return check("terraform", "ok", f"Terraform {version} ({path})")


def servers_image(image: str) -> Check:
    """The MLflow version MLFLOW_IMAGE runs against the one the launcher is held to (the
    contract test runs that version's `mlflow server`)."""
    from mlflowk8s import mlflow_versions, server

    name = "servers' MLflow"
    fix = f"set MLFLOW_IMAGE={server.MLFLOW_IMAGE}@sha256:<its index digest> in .env"
    version = mlflow_versions.of_image(image)
    if version is None:
        return check(
            name, "warn",
            f"MLFLOW_IMAGE names no MLflow version (not the official {server.MLFLOW_IMAGE} "
            f"tag before its digest): `status` cannot say what tenants run, and the launcher "
            f"is held to MLflow {server.MLFLOW_VERSION}",
            fix,
        )  # fmt: skip
    if mlflow_versions.skewed(version, server.MLFLOW_VERSION):
        return check(
            name, "warn",
            f"MLFLOW_IMAGE runs MLflow {version}, a minor version apart from the "
            f"{server.MLFLOW_VERSION} this mlflowk8s's launcher is held to",
            fix,
        )  # fmt: skip
    return check(name, "ok", f"MLflow {version} (the launcher is held to {server.MLFLOW_VERSION})")


def enable_command(project: str) -> str:
    return f"gcloud services enable {' '.join(REQUIRED_APIS)} --project {project}"


def required_apis(project: str, env: Mapping[str, str]) -> Check:
    """Are the APIs on that Terraform needs before it can enable the others?"""
    import json

    from mlflowk8s import google_api

    enable = enable_command(project)
    try:
        session = google_api.admin_session()
    except MlflowK8sError as exc:
        return check("google apis", "fail", str(exc), "gcloud auth application-default login")
    base = google_api.endpoint(google_api.SERVICE_USAGE, env)
    off = []
    for api in REQUIRED_APIS:
        try:
            code, body = google_api.get_json(
                session, f"{base}/v1/projects/{project}/services/{api}"
            )
        except MlflowK8sError as exc:
            return check(
                "google apis", "fail", f"cannot ask Service Usage about {project}: {exc}",
                "check the network and `gcloud auth application-default login`",
            )  # fmt: skip
        if code == 200:
            if body.get("state") != "ENABLED":
                off.append(api)
        elif code == 403 and "SERVICE_DISABLED" in json.dumps(body):
            return check(
                "google apis", "fail", f"the Service Usage API is off in {project}", enable
            )
        else:
            return check(
                "google apis", "fail",
                f"Service Usage answered HTTP {code} for project {project}",
                "check GCP_PROJECT and that you may view its services "
                "(roles/serviceusage.serviceUsageViewer)",
            )  # fmt: skip
    if off:
        return check("google apis", "fail", f"off in {project}: {', '.join(off)}", enable)
    return check("google apis", "ok", f"{', '.join(REQUIRED_APIS)} are on in {project}")
