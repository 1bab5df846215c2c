"""`env NAME` in a cloudrun lab: the tenant's run.app URL, the token for that exact host
only (the real CLI, then the real host policy the MLflow plugin applies)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from mlflowk8s.auth.hosts import TokenPolicy
from tests.conftest import Cli

HOST = "mlflow-default-alice-123456789012.europe-west1.run.app"


def cloudrun_lab(lab_dir: Path) -> None:
    (lab_dir / ".env").write_text(
        "MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT=lab-project-1\nGCP_REGION=europe-west1\n"
        "TF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-art\n"
        "MLFLOWK8S_DESKTOP_CLIENT_ID=42-desktop.apps.googleusercontent.com\n"
    )
    (lab_dir / "users.yaml").write_text("users:\n  alice:\n    members: [user:alice@lab.org]\n")


def exports(stdout: str) -> dict[str, str]:
    pairs = [shlex.split(line.removeprefix("export "))[0] for line in stdout.splitlines()
             if line.startswith("export ")]  # fmt: skip
    return dict(pair.split("=", 1) for pair in pairs)


def test_env_exports_the_run_app_url_and_only_its_host_for_tokens(cli: Cli, lab_dir: Path) -> None:
    cloudrun_lab(lab_dir)
    work = lab_dir / ".mlflowk8s" / "default"
    work.mkdir(parents=True)
    (work / "cloudrun-platform-outputs.tfvars.json").write_text(
        json.dumps({"project_number": "123456789012", "region": "europe-west1"})
    )
    result = cli("env", "alice")
    assert result.code == 0, result.stderr
    found = exports(result.stdout)
    assert found["MLFLOW_TRACKING_URI"] == f"https://{HOST}/"
    assert found["MLFLOW_TRACKING_AUTH"] == "mlflowk8s"
    assert found["MLFLOWK8S_TOKEN_HOSTS"] == HOST
    assert found["MLFLOWK8S_IAP_AUDIENCE"] == "42-desktop.apps.googleusercontent.com"
    assert "MLFLOW_DOMAIN" not in found

    def sends(url: str) -> bool:
        policy = TokenPolicy.from_environment(found, found["MLFLOW_TRACKING_URI"])
        return policy.decide(url, lambda _: {}).token

    assert sends(f"https://{HOST}/api/2.0/mlflow/runs/get")
    # Another tenant of the same lab, another lab's service, a look-alike: no token.
    assert not sends("https://mlflow-default-bob-123456789012.europe-west1.run.app/")
    assert not sends("https://evil-123456789012.europe-west1.run.app/")
    assert not sends(f"https://{HOST}.evil.example/")
    # The server accepts its legacy host by a pattern (mlflow-default-alice-*.a.run.app);
    # tokens follow no pattern: not to that host, let alone to a sibling that matches it.
    assert not sends("https://mlflow-default-alice-2xqbzpojga-ew.a.run.app/")
    assert not sends("https://mlflow-default-alice-bob-2xqbzpojga-ew.a.run.app/")
    assert not sends("https://evil-2xqbzpojga-ew.a.run.app/")


def test_env_before_the_platform_exists_says_what_to_run(cli: Cli, lab_dir: Path) -> None:
    cloudrun_lab(lab_dir)
    result = cli("env", "alice")
    assert result.code == 2
    assert "needs the project's number: run `mlflowk8s status`" in result.stderr
    assert "GCP_PROJECT_NUMBER" in result.stderr


def test_the_project_number_setting_stands_in_for_the_outputs(cli: Cli, lab_dir: Path) -> None:
    cloudrun_lab(lab_dir)
    with (lab_dir / ".env").open("a") as env_file:
        env_file.write("GCP_PROJECT_NUMBER=123456789012\n")
    result = cli("env", "alice")
    assert result.code == 0, result.stderr
    assert exports(result.stdout)["MLFLOW_TRACKING_URI"] == f"https://{HOST}/"


def test_verify_runs_on_cloudrun_and_first_asks_for_the_admins_login(
    cli: Cli, lab_dir: Path, tmp_path: Path
) -> None:
    cloudrun_lab(lab_dir)
    cli.env["MLFLOWK8S_CREDENTIALS_FILE"] = str(tmp_path / "none.json")
    result = cli("verify")
    # IAP is in front of every service: verify goes on to sign-in (not "has none").
    assert result.code != 0
    assert "verify signs in as you: run `mlflowk8s login` first" in result.stderr
