"""`doctor` asks the lab's target for the admin's checks; researchers' checks stay apart."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_a_healthy_local_lab_passes(cli: Cli, lab_dir: Path) -> None:
    (lab_dir / ".env").write_text("MLFLOWK8S_TARGET=local\n")
    (lab_dir / "users.yaml").write_text("users: {}\n")
    result = cli("doctor", "--json")
    assert result.code == 0, result.stdout
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["settings"]["status"] == "ok"
    assert checks["settings"]["detail"] == ".env (target local)"
    assert checks["local tools"]["status"] == "ok"
    assert checks["local settings"] == {
        "name": "local settings",
        "status": "ok",
        "detail": "servers on 127.0.0.1 from port 5100",
    }
    # Loopback servers need no Google sign-in, so none is asked for; no Terraform either.
    assert "credentials" not in checks
    assert "terraform" not in checks


def test_a_local_lab_with_a_refused_host_fails_and_says_why(cli: Cli, lab_dir: Path) -> None:
    (lab_dir / ".env").write_text("MLFLOWK8S_TARGET=local\nMLFLOWK8S_LOCAL_HOST=0.0.0.0\n")
    result = cli("doctor")
    assert result.code == 1
    assert "FAIL local settings: MLFLOWK8S_LOCAL_HOST='0.0.0.0' is refused" in result.stdout


def test_a_gcp_lab_lists_missing_settings_and_checks_terraform(cli: Cli, lab_dir: Path) -> None:
    (lab_dir / ".env").write_text("GCP_PROJECT=demo-project\n")
    result = cli("doctor", "--json")
    assert result.code == 1
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["settings"] == {
        "name": "settings",
        "status": "fail",
        "detail": "missing in .env: GCP_REGION, MLFLOW_DOMAIN, TF_GCS_BUCKET, MLFLOW_GCS_BUCKET",
        "fix": "run `mlflowk8s init`",
    }
    assert "terraform" in checks


GCP_ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=demo-artifacts\n"
)


def _servers_check(cli: Cli, lab_dir: Path, image: str) -> dict[str, str]:
    (lab_dir / ".env").write_text(GCP_ENV + f"MLFLOW_IMAGE={image}\n")
    result = cli("doctor", "--json")
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    return checks["servers' MLflow"]


def test_the_admin_sees_the_version_the_servers_image_runs(cli: Cli, lab_dir: Path) -> None:
    from mlflowk8s import server

    digest = "@sha256:" + "a" * 64
    pinned = server.MLFLOW_VERSION
    assert _servers_check(cli, lab_dir, server.MLFLOW_IMAGE + digest) == {
        "name": "servers' MLflow", "status": "ok",
        "detail": f"MLflow {pinned} (the launcher is held to {pinned})",
    }  # fmt: skip
    fix = f"set MLFLOW_IMAGE={server.MLFLOW_IMAGE}@sha256:<its index digest> in .env"
    assert _servers_check(cli, lab_dir, "ghcr.io/mlflow/mlflow:v3.16.0-full" + digest) == {
        "name": "servers' MLflow", "status": "warn",
        "detail": f"MLFLOW_IMAGE runs MLflow 3.16.0, a minor version apart from the {pinned} "
                  "this mlflowk8s's launcher is held to",
        "fix": fix,
    }  # fmt: skip
    hand_set = _servers_check(cli, lab_dir, "europe-docker.pkg.dev/lab/mlflow/server" + digest)
    assert (hand_set["status"], hand_set["fix"]) == ("warn", fix)
    assert hand_set["detail"].startswith("MLFLOW_IMAGE names no MLflow version")
