"""The cloudrun fixture roots keep infra/cloudrun's variables, outputs and per-tenant keys,
and what the CLI renders is what those roots declare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlflowk8s.lab.settings import Settings
from mlflowk8s.lab.users import User
from mlflowk8s.targets.cloudrun.render import platform_vars, tenants_vars
from mlflowk8s.targets.cloudrun.roots import PLATFORM_OUTPUTS_TFVARS, ROOTS
from tests.conftest import REPO
from tests.terraform.test_fixture_contract import blocks

INFRA = REPO / "infra" / "cloudrun"
FIXTURES = REPO / "tests" / "fixtures" / "terraform" / "cloudrun"
_RESOURCE_RE = re.compile(
    r'^resource\s+"([^"]+)"\s+"([^"]+)"\s*\{\s*\n\s*for_each\s*=\s*(\S+)', re.MULTILINE
)


def for_each_of(root: Path) -> dict[str, str]:
    """Per-tenant resources by address: what they iterate (var.users, local.active, ...)."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(root.glob("*.tf")))
    return {f"{kind}.{name}": over for kind, name, over in _RESOURCE_RE.findall(text)}


@pytest.mark.parametrize("root", ROOTS)
def test_fixture_variables_match_infra(root: str) -> None:
    fixture = {n for n in blocks(FIXTURES / root, "variable") if not n.startswith("fixture_")}
    assert fixture == blocks(INFRA / root, "variable")


@pytest.mark.parametrize("root", ROOTS)
def test_fixture_outputs_match_infra(root: str) -> None:
    assert blocks(FIXTURES / root, "output") == blocks(INFRA / root, "output")


@pytest.mark.parametrize("base", [INFRA, FIXTURES], ids=["infra", "fixtures"])
def test_every_platform_output_is_a_tenants_variable(base: Path) -> None:
    assert PLATFORM_OUTPUTS_TFVARS == "cloudrun-platform-outputs.tfvars.json"
    assert blocks(base / "platform", "output") <= blocks(base / "tenants", "variable")


def test_fixture_tenants_iterate_as_infra_does() -> None:
    # Retiring keeps what iterates var.users and removes what iterates the active ones; the
    # fixture must split them the same way (its resources are terraform_data, same count).
    def kinds(root: Path) -> list[str]:
        kept = ("var.users", "local.active", "local.access")
        return sorted(v for v in for_each_of(root).values() if v in kept)

    assert kinds(FIXTURES / "tenants") == kinds(INFRA / "tenants")


def test_render_matches_the_roots_variables() -> None:
    settings = Settings(
        path=Path(".env"),
        values={"GCP_PROJECT": "lab-project-1", "GCP_REGION": "europe-west1",
                "TF_GCS_BUCKET": "lab-tfstate", "MLFLOW_GCS_BUCKET": "lab-artifacts",
                "CLOUDSQL_TIER": "db-f1-micro", "CLOUDSQL_MAX_CONNECTIONS": "50",
                "MLFLOW_IMAGE": "ghcr.io/mlflow/mlflow@sha256:" + "a" * 64},
    )  # fmt: skip
    outputs = {"project_number": "42", "region": "europe-west1", "artifact_bucket": "lab-artifacts"}
    users = [User(name="alice", members=("user:alice@lab.org",))]
    for base in (INFRA, FIXTURES):
        assert set(platform_vars(settings, "dev")) <= blocks(base / "platform", "variable")
        tenants = set(tenants_vars(settings, users, "dev", outputs))
        assert tenants | blocks(base / "platform", "output") <= blocks(base / "tenants", "variable")
