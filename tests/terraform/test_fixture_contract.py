"""The fixture roots must keep infra's variable and output names, or the tests lie."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlflowk8s.targets.gcp.destroy import ARTIFACT_STORE_ADDRESS, CLUSTER_ADDRESSES, network_name
from mlflowk8s.targets.gcp.roots import PLATFORM_OUTPUTS_TFVARS
from tests.conftest import REPO

INFRA = REPO / "infra"
FIXTURES = REPO / "tests" / "fixtures" / "terraform"
_BLOCK_RE = re.compile(r'^(variable|output|module)\s+"([^"]+)"', re.MULTILINE)


def blocks(root: Path, kind: str) -> set[str]:
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(root.glob("*.tf")))
    return {name for found, name in _BLOCK_RE.findall(text) if found == kind}


def infra_root(name: str) -> Path:
    root = INFRA / name
    if not list(root.glob("*.tf")):
        pytest.skip(f"infra/{name} has not landed")
    return root


@pytest.mark.parametrize("root", ["platform", "tenants"])
def test_fixture_variables_match_infra(root: str) -> None:
    fixture = {name for name in blocks(FIXTURES / root, "variable")
               if not name.startswith("fixture_")}  # fmt: skip
    assert fixture == blocks(infra_root(root), "variable")


@pytest.mark.parametrize("root", ["platform", "tenants"])
def test_fixture_outputs_match_infra(root: str) -> None:
    assert blocks(FIXTURES / root, "output") == blocks(infra_root(root), "output")


@pytest.mark.parametrize("base", [INFRA, FIXTURES], ids=["infra", "fixtures"])
def test_every_platform_output_is_a_tenants_variable(base: Path) -> None:
    # The runner passes all platform outputs to the tenants root as PLATFORM_OUTPUTS_TFVARS.
    assert PLATFORM_OUTPUTS_TFVARS == "platform-outputs.tfvars.json"
    platform, tenants = infra_root("platform"), infra_root("tenants")
    if base is FIXTURES:
        platform, tenants = FIXTURES / "platform", FIXTURES / "tenants"
    assert blocks(platform, "output") <= blocks(tenants, "variable")


def test_addresses_the_runner_targets_exist_in_infra() -> None:
    # destroy removes the cluster by -target; --user and purge target module.tenant["NAME"].
    for address in CLUSTER_ADDRESSES:
        assert address.removeprefix("module.") in blocks(infra_root("platform"), "module")
    assert "tenant" in blocks(infra_root("tenants"), "module")
    # --delete-data empties the bucket only where the platform state holds it.
    for base in (INFRA, FIXTURES):
        assert ARTIFACT_STORE_ADDRESS.removeprefix("module.") in blocks(base / "platform", "module")


def test_the_vpc_name_destroy_unpeers_is_the_one_infra_gives_it() -> None:
    text = (infra_root("platform") / "main.tf").read_text(encoding="utf-8")
    assert 'prefix = "mlflow-${var.environment}"' in text
    network = re.search(r'resource "google_compute_network" "this" \{(.*?)\n\}', text, re.S)
    assert network is not None and re.search(r"\n\s*name\s*=\s*local\.prefix\n", network[1])
    assert network_name("dev") == "mlflow-dev"


def test_render_matches_the_roots_variables() -> None:
    from mlflowk8s.lab.settings import Settings
    from mlflowk8s.targets.gcp.render import platform_vars, tenants_vars

    settings = Settings(
        path=Path(".env"),
        values={"GCP_PROJECT": "lab-project-1", "GCP_REGION": "europe-west1",
                "MLFLOW_DOMAIN": "mlflow.lab.org", "TF_GCS_BUCKET": "lab-tfstate",
                "MLFLOW_GCS_BUCKET": "lab-artifacts", "GKE_SPOT": "true"},
    )  # fmt: skip
    for base in (INFRA, FIXTURES):
        assert set(platform_vars(settings)) <= blocks(base / "platform", "variable")
        tenants = set(tenants_vars(settings, [])) | blocks(base / "platform", "output")
        assert tenants | {"iap_oauth_client_secret"} <= blocks(base / "tenants", "variable")
