"""`mlflowk8s cost` for every target: the month's estimate, the prices and their date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflowk8s import prices
from tests.conftest import Cli

CLOUDRUN = (
    "MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT=lab-project-1\nGCP_REGION=europe-west1\n"
    "TF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-art\n"
)
GCP = (
    "MLFLOWK8S_TARGET=gcp\nGCP_PROJECT=lab-project-1\nGCP_REGION=europe-west1\n"
    "MLFLOW_DOMAIN=mlflow.lab.org\nTF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-art\n"
)


def estimate(cli: Cli, lab_dir: Path, env: str, *args: str) -> dict[str, object]:
    (lab_dir / ".env").write_text(env)
    if not (lab_dir / "users.yaml").exists():
        (lab_dir / "users.yaml").write_text("users: {}\n")
    result = cli("cost", "--json", *args)
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def lines(data: dict[str, object]) -> dict[str, float]:
    return {line["item"]: line["monthly_usd"] for line in data["lines"]}  # type: ignore[attr-defined,index]


@pytest.mark.parametrize(
    ("users", "tier", "run", "total"),
    [(5, "db-f1-micro", 0.0, 10.04), (30, "db-g1-small", 2.91, 31.43),
     (100, "db-custom-1-3840", 21.12, 76.78)],
)  # fmt: skip
def test_cloudrun_estimates_follow_the_readme_model(
    cli: Cli, lab_dir: Path, users: int, tier: str, run: float, total: float
) -> None:
    data = estimate(cli, lab_dir, CLOUDRUN + f"CLOUDSQL_TIER={tier}\n", "--users", str(users))
    found = lines(data)
    assert found["Cloud Run"] == run
    assert found["Cloud Storage artifacts"] == round(users * 0.02, 2)
    assert found["Artifact Registry image cache"] == 0.15
    assert data["total_usd"] == total
    assert data["per_user_usd"] == round(total / users, 2)
    assert data["prices_as_of"] == prices.PRICES_AS_OF
    assert data["prices"]["Cloud Run CPU"] == "$0.000024/vCPU-s"  # type: ignore[index]


def test_cloudrun_counts_the_labs_active_users_and_suggests_a_tier(cli: Cli, lab_dir: Path) -> None:
    (lab_dir / "users.yaml").write_text(
        "users:\n  alice:\n    members: [user:a@lab.org]\n"
        "  bob:\n    members: [user:b@lab.org]\n    retired: true\n"
    )
    data = estimate(cli, lab_dir, CLOUDRUN)
    assert data["users"] == 1
    assert "db-f1-micro fits better than db-g1-small" in " ".join(data["assumptions"])  # type: ignore[arg-type]


def test_the_table_shows_items_total_prices_and_their_date(cli: Cli, lab_dir: Path) -> None:
    (lab_dir / ".env").write_text(CLOUDRUN)
    (lab_dir / "users.yaml").write_text("users: {}\n")
    result = cli("cost", "--users", "30")
    assert result.code == 0, result.stderr
    assert "cloudrun: 30 active users" in result.stdout
    assert "Cloud SQL tier" in result.stdout and "db-g1-small, 730 h" in result.stdout
    assert f"Prices assumed ({prices.PRICES_AS_OF}):" in result.stdout
    assert "Cloud SQL db-g1-small: $0.035/h" in result.stdout


def test_gcp_grows_a_node_every_nine_users(cli: Cli, lab_dir: Path) -> None:
    data = estimate(cli, lab_dir, GCP, "--users", "30")
    found = lines(data)
    assert found["e2-standard-2 nodes"] == round(4 * 730 * 0.067, 2)
    assert found["global forwarding rule"] == 18.25
    assert 255 < data["total_usd"] < 262  # type: ignore[operator]  # infra/README.md: ≈ $258


def test_gcp_spot_nodes_cost_less(cli: Cli, lab_dir: Path) -> None:
    on_demand = estimate(cli, lab_dir, GCP, "--users", "30")["total_usd"]
    spot = estimate(cli, lab_dir, GCP + "GKE_SPOT=true\n", "--users", "30")
    assert "e2-standard-2 nodes (Spot)" in lines(spot)
    assert spot["total_usd"] < on_demand  # type: ignore[operator]


def test_local_costs_nothing_beyond_the_machine(cli: Cli, lab_dir: Path) -> None:
    data = estimate(cli, lab_dir, "MLFLOWK8S_TARGET=local\n", "--users", "12")
    assert data["total_usd"] == 0
    assert data["users"] == 12
    assert lines(data) == {"this machine": 0.0}
