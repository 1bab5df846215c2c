"""The tenant server command (one owner for every target) and the tfvars it feeds."""

from __future__ import annotations

import json
from pathlib import Path

from mlflowk8s import sizing
from mlflowk8s.fileio import dumps
from mlflowk8s.google.clients import programmatic_client_ids
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.server import (
    LocalTarget,
    PodTarget,
    health_path,
    launcher_command,
    launcher_source,
    server_command,
)
from mlflowk8s.targets.gcp.render import platform_vars, render_lab, tenants_vars

SETTINGS = Settings(
    path=Path(".env"),
    values={
        "GCP_PROJECT": "demo-project",
        "GCP_REGION": "europe-west1",
        "MLFLOW_DOMAIN": "mlflow.lab.org",
        "TF_GCS_BUCKET": "demo-tfstate",
        "MLFLOW_GCS_BUCKET": "lab-artifacts",
        "GKE_SPOT": "true",
    },
)


def test_pod_command_is_the_contract_with_infra() -> None:
    command = server_command("alice", PodTarget("mlflow.lab.org", "lab-artifacts"))
    assert command.args == [
        "server", "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/alice",
        "--allowed-hosts",
        "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*",
        "--artifacts-destination", "gs://lab-artifacts/alice", "--serve-artifacts",
        "--workers", "1", "--uvicorn-opts", "--forwarded-allow-ips=* --timeout-keep-alive=620",
    ]  # fmt: skip
    assert command.env == {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "2",
        "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "3",
    }


def test_local_command_binds_loopback_with_own_store(tmp_path: Path) -> None:
    command = server_command("bob", LocalTarget(port=5101, data_dir=tmp_path / "bob"))
    args = command.args
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert args[args.index("--static-prefix") + 1] == "/bob"
    assert args[args.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/bob/mlflow.db"
    assert args[args.index("--artifacts-destination") + 1] == f"{tmp_path}/bob/artifacts"
    assert "10.*" not in args[args.index("--allowed-hosts") + 1]
    assert health_path("bob") == "/bob/health"


def test_tenants_vars_hold_every_user_with_its_own_command() -> None:
    users = [User("bob", ("user:bob@lab.org",), retired=True), User("alice", ("user:a@lab.org",))]
    data = tenants_vars(SETTINGS, users)
    assert set(data["users"]) == {"alice", "bob"}
    assert data["users"]["bob"]["retired"] is True
    alice = data["users"]["alice"]
    assert alice["server_command"][8] == "/alice"
    assert data["users"]["bob"]["server_command"][8] == "/bob"
    assert alice["static_prefix"] == "/alice"
    assert alice["ready_path"] == "/alice/ready"
    command = alice["server_command"]
    destination = command[command.index("--artifacts-destination") + 1]
    assert alice["artifacts_destination"] == destination
    assert data["mlflow_image"] == ""
    assert data["iap_oauth_client_id"] == ""


def test_a_gke_tenant_runs_the_launcher_not_mlflow_server() -> None:
    data = tenants_vars(SETTINGS, [User("alice", ("user:a@lab.org",))])
    alice = data["users"]["alice"]
    expected = launcher_command("alice", PodTarget("mlflow.lab.org", "lab-artifacts"))
    assert alice["server_command"] == expected.argv
    assert alice["server_command"][:3] == ["python", "-c", launcher_source()]
    assert alice["server_command"][3:] == [
        "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/alice",
        "--allowed-hosts",
        "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*",
        "--artifacts-destination", "gs://lab-artifacts/alice", "--serve-artifacts",
        "--forwarded-allow-ips=*", "--timeout-keep-alive=620",
    ]  # fmt: skip
    assert alice["server_env"] == expected.env
    assert "server_args" not in alice
    # Nowhere in the rendered inputs but the launcher's own docstrings, which name what it
    # replaces.
    rendered = dumps(data).replace(json.dumps(launcher_source())[1:-1], "<launcher source>")
    assert "<launcher source>" in rendered
    assert "mlflow server" not in rendered
    assert "server" not in alice["server_command"][3:]


def test_tenants_vars_carry_the_sized_pod() -> None:
    data = tenants_vars(SETTINGS, [])
    assert data["server_resources"] == {
        "requests": {"cpu": "50m", "memory": "320Mi"},
        "limits": {"cpu": "1000m", "memory": "1408Mi"},
    }
    assert data["proxy_resources"] == {
        "requests": {"cpu": "20m", "memory": "32Mi"},
        "limits": {"cpu": "500m", "memory": "128Mi"},
    }
    assert data["tmp_size_limit"] == "640Mi"
    # The request holds the measured server; the limit twice the largest buffered upload.
    assert sizing.SERVER.memory_request_mib >= sizing.TENANT_RSS_MIB
    assert sizing.SERVER.memory_limit_mib >= (
        sizing.TENANT_RSS_MIB + 2 * sizing.MAX_BUFFERED_UPLOAD_MIB
    )
    assert sizing.TMP_SIZE_MIB >= sizing.MAX_BUFFERED_UPLOAD_MIB


def test_desktop_client_joins_the_programmatic_clients() -> None:
    values = {
        **SETTINGS.values,
        "IAP_PROGRAMMATIC_CLIENT_IDS": "b.apps,a.apps",
        "MLFLOWK8S_DESKTOP_CLIENT_ID": "desk.apps",
    }
    settings = Settings(path=Path(".env"), values=values)
    assert programmatic_client_ids(settings) == ["a.apps", "b.apps", "desk.apps"]
    # The project's IAP settings are the CLI's, not the platform root's.
    assert "iap_programmatic_client_ids" not in platform_vars(settings)


def test_desktop_client_file_relative_to_the_lab_joins_the_programmatic_clients(
    tmp_path: Path,
) -> None:
    (tmp_path / "desktop.json").write_text(
        json.dumps({"installed": {"client_id": "file.apps", "client_secret": "s3cret"}})
    )
    (tmp_path / "iap.json").write_text(
        json.dumps({"web": {"client_id": "iap.apps", "client_secret": "s3cret"}})
    )
    values = {
        **SETTINGS.values,
        "MLFLOWK8S_DESKTOP_CLIENT_FILE": "desktop.json",
        "IAP_OAUTH_CLIENT_SECRET_FILE": "iap.json",
    }
    settings = Settings(path=tmp_path / ".env", values=values)
    assert programmatic_client_ids(settings) == ["file.apps"]
    assert tenants_vars(settings, [])["iap_oauth_client_id"] == "iap.apps"


def test_render_writes_stable_sorted_bytes(tmp_path: Path) -> None:
    users = [User("alice", ("user:a@lab.org",))]
    first = render_lab(tmp_path, SETTINGS, users)
    assert first.platform_path.parent.stat().st_mode & 0o777 == 0o700
    before = first.platform_path.read_bytes(), first.tenants_path.read_bytes()
    mtime = first.tenants_path.stat().st_mtime_ns
    second = render_lab(tmp_path, SETTINGS, users)
    assert (second.platform_path.read_bytes(), second.tenants_path.read_bytes()) == before
    assert second.tenants_path.stat().st_mtime_ns == mtime  # unchanged file not rewritten
    assert first.platform_path == tmp_path / ".mlflowk8s/default/platform.tfvars.json"
    platform = json.loads(before[0])
    assert platform == {
        "artifact_bucket": "lab-artifacts",
        # Sized: one tenant fits one node, plus the spare; db-g1-small's connections.
        "cloudsql_max_connections": 240,
        "domain": "mlflow.lab.org",
        "environment": "default",
        "gke_max_nodes": 2,
        "gke_spot": True,
        "project_id": "demo-project",
        "region": "europe-west1",
    }
    assert before[0].decode() == dumps(platform)
    assert list(json.loads(before[1])) == sorted(json.loads(before[1]))
