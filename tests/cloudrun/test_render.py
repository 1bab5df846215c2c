"""What a cloudrun lab renders for its roots: the launcher per user, its run.app host."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflowk8s.errors import UsageError
from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.server import launcher_source
from mlflowk8s.targets.cloudrun.render import legacy_hosts, service_host, tenants_vars

OUTPUTS = {"project_number": "123456789012", "region": "europe-west1", "artifact_bucket": "lab-art"}
VALUES = {"GCP_PROJECT": "lab-project-1", "GCP_REGION": "europe-west1",
          "TF_GCS_BUCKET": "lab-tfstate", "MLFLOW_GCS_BUCKET": "lab-art",
          "MLFLOW_IMAGE": "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64}  # fmt: skip


def render(users: list[User], env: str = "dev", **values: str) -> dict[str, object]:
    return tenants_vars(Settings(Path(".env"), {**VALUES, **values}), users, env, OUTPUTS)


def test_an_active_user_gets_the_launcher_with_its_host_and_folder() -> None:
    entry = render([User("alice", ("user:alice@lab.org",))])["users"]["alice"]  # type: ignore[index]
    command, args = entry["server"]["command"], entry["server"]["args"]
    assert command == ["python"]
    assert args[:2] == ["-c", launcher_source()]
    flags = args[2:]
    host = "mlflow-dev-alice-123456789012.europe-west1.run.app"
    assert flags[flags.index("--allowed-hosts") + 1].split(",")[:4] == [
        host, f"{host}:*", "mlflow-dev-alice-*.a.run.app", "mlflow-dev-alice-*.a.run.app:*"
    ]  # fmt: skip
    assert flags[flags.index("--port") + 1] == "8080"
    assert flags[flags.index("--artifacts-destination") + 1] == "gs://lab-art/alice"
    assert "--static-prefix" not in flags and "--backend-store-uri" not in flags
    assert entry["server"]["env"]["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == "2"
    assert entry["members"] == ["user:alice@lab.org"]


def test_a_retired_user_has_no_server() -> None:
    assert render([User("bob", (), retired=True)])["users"] == {  # type: ignore[comparison-overlap]
        "bob": {"members": [], "retired": True}
    }


def test_a_url_label_over_63_characters_is_refused_naming_the_fix() -> None:
    # mlflow- (7) + environment (12) + - + user (20) + - + number: 63 with 22 digits.
    assert service_host("e" * 12, "u" * 20, "1" * 22, "europe-west1").endswith(".run.app")
    with pytest.raises(UsageError, match=r"is 64 characters, .*allows 63: shorten the user"):
        service_host("e" * 12, "u" * 20, "1" * 23, "europe-west1")


def test_no_image_names_the_command_that_sets_it() -> None:
    values = {k: v for k, v in VALUES.items() if k != "MLFLOW_IMAGE"}
    with pytest.raises(UsageError, match=r"missing MLFLOW_IMAGE in .env: run `mlflowk8s init`"):
        tenants_vars(Settings(Path(".env"), values), [], "dev", OUTPUTS)


def allowed_hosts_of(user: str) -> list[str]:
    entry = render([User(user, ())])["users"][user]  # type: ignore[index]
    args: list[str] = entry["server"]["args"]
    return args[args.index("--allowed-hosts") + 1].split(",")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("mlflow-dev-alice-123456789012.europe-west1.run.app", True),
        ("mlflow-dev-alice-123456789012.europe-west1.run.app:443", True),
        # The legacy URL: <service>-<hash assigned at creation>-<region code>.a.run.app.
        ("mlflow-dev-alice-2xqbzpojga-ew.a.run.app", True),
        ("mlflow-dev-alice-2xqbzpojga-ew.a.run.app:443", True),
        ("localhost:8080", True),
        # Other services on run.app: another tenant, another lab, look-alikes.
        ("mlflow-dev-bob-2xqbzpojga-ew.a.run.app", False),
        ("mlflow-dev-bob-123456789012.europe-west1.run.app", False),
        ("mlflow-prod-alice-2xqbzpojga-ew.a.run.app", False),
        ("evil-2xqbzpojga-ew.a.run.app", False),
        ("mlflow-dev-alice.a.run.app", False),
        ("mlflow-dev-alice-2xqbzpojga-ew.a.run.app.evil.example", False),
        ("mlflow-dev-alice-123456789012.europe-west1.run.app.evil.example", False),
        ("evil.example", False),
    ],
)
def test_mlflow_accepts_the_tenants_two_run_app_hosts_only(host: str, allowed: bool) -> None:
    # MLflow's own matcher (fnmatch for entries with "*", equality otherwise), as its
    # Host-validation middleware applies MLFLOW_SERVER_ALLOWED_HOSTS.
    from mlflow.server.security_utils import is_allowed_host_header

    assert is_allowed_host_header(allowed_hosts_of("alice"), host) is allowed


def test_the_legacy_pattern_is_scoped_to_the_service_never_to_run_app() -> None:
    hosts = allowed_hosts_of("alice")
    wildcards = [h for h in hosts if "*" in h]
    assert all(
        h.startswith(("mlflow-dev-alice-", "localhost:", "127.0.0.1:")) for h in wildcards
    ), wildcards
    assert not {"*", "*.a.run.app", "*.run.app", "*.a.run.app:*"} & set(hosts)
    assert legacy_hosts("dev", "alice") == ("mlflow-dev-alice-*.a.run.app",
                                            "mlflow-dev-alice-*.a.run.app:*")  # fmt: skip
