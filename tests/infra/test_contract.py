"""The CLI's rendered tfvars (`mlflowk8s render`) are accepted by both roots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.infra.conftest import INFRA, Terraform

ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
    "MLFLOW_IMAGE=ghcr.io/mlflow/mlflow@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
    "GKE_SPOT=true\nGKE_MAX_NODES=3\nIAP_PROGRAMMATIC_CLIENT_IDS=111-desktop.apps\n"
)
USERS = """\
users:
  alice:
    members: [user:alice@lab.org]
  bob:
    members: [user:bob@lab.org, group:ml@lab.org]
    retired: true
  data-team:
    members: [group:data-team@lab.org]
"""
_OUTPUT_RE = re.compile(r'^output\s+"([^"]+)"', re.MULTILINE)

# What `terraform output -json` of the platform gives, shaped as the runner writes it.
PLATFORM_OUTPUTS = {
    "cluster_name": "mlflow-default",
    "cluster_location": "europe-west1-b",
    "cluster_endpoint": "198.51.100.1",
    "cluster_ca_certificate": "Q0E=",
    "sql_instance_connection_name": "demo-project:europe-west1:mlflow-default-ab12",
    "sql_instance_name": "mlflow-default-ab12",
    "artifact_bucket": "lab-artifacts",
    "gateway_ip_address": "203.0.113.10",
    "gateway_ip_name": "mlflow-default-gateway",
    "certificate_map_name": "mlflow-default-certmap",
    "image_registry": "europe-west1-docker.pkg.dev/demo-project/mlflow-default-ghcr",
    "dns_name_servers": [],
    "certificate_dns_authorization": {
        "name": "_acme-challenge.mlflow.lab.org.",
        "type": "CNAME",
        "data": "0123abcd.1.authorize.certificatemanager.goog.",
    },
}


def rendered(cli: Cli, lab: Path) -> dict[str, dict[str, object]]:
    secret_file = lab / "client_secret.json"
    secret_file.write_text(
        json.dumps({"web": {"client_id": "123-web.apps", "client_secret": "s3cr3t"}})
    )
    (lab / ".env").write_text(ENV + f"IAP_OAUTH_CLIENT_SECRET_FILE={secret_file}\n")
    (lab / "users.yaml").write_text(USERS)
    result = cli("render", "--json")
    assert result.code == 0, result.stderr
    data: dict[str, dict[str, object]] = json.loads(result.stdout)
    return data


def test_platform_outputs_sample_matches_the_platform_outputs() -> None:
    text = (INFRA / "platform" / "outputs.tf").read_text()
    assert set(_OUTPUT_RE.findall(text)) == set(PLATFORM_OUTPUTS)


def _default(root: str, variable: str) -> str:
    text = (INFRA / root / "variables.tf").read_text()
    match = re.search(rf'variable "{variable}" {{.*?\n  default\s+= ("?)([^"\n]+)\1\n', text, re.S)
    assert match, f"{root}: no default for {variable}"
    return match[2]


def test_the_sizing_knows_the_platforms_defaults() -> None:
    # The capacity check sizes what Terraform creates when the admin sets nothing.
    from mlflowk8s.targets.gcp import capacity

    assert _default("platform", "gke_machine_type") == capacity.DEFAULT_MACHINE_TYPE
    assert _default("platform", "cloudsql_tier") == capacity.DEFAULT_CLOUDSQL_TIER
    connections = capacity.tier_connections(capacity.DEFAULT_CLOUDSQL_TIER)
    assert _default("platform", "cloudsql_max_connections") == str(connections)


@pytest.mark.parametrize("root", ["modules/tenant", "tenants"])
def test_the_pod_defaults_are_the_sizing(root: str) -> None:
    # Defaults for checkov and the root or module on its own; the CLI always renders these.
    from mlflowk8s import sizing

    text = (INFRA / root / "variables.tf").read_text()
    for variable, container in (("server_resources", sizing.SERVER),
                                ("proxy_resources", sizing.PROXY)):  # fmt: skip
        want = container.kubernetes()
        block = text[text.index(f'variable "{variable}"') :]
        block = block[: block.index("\n}\n")]
        for kind in ("requests", "limits"):
            cpu, memory = want[kind]["cpu"], want[kind]["memory"]
            assert f'{kind} = {{ cpu = "{cpu}", memory = "{memory}" }}' in " ".join(
                block.split()
            ), (variable, kind)
    assert _default(root, "tmp_size_limit") == f"{sizing.TMP_SIZE_MIB}Mi"


def test_rendered_tfvars_are_accepted_by_both_roots(
    cli: Cli, lab_dir: Path, terraform: Terraform, tmp_path: Path
) -> None:
    data = rendered(cli, lab_dir)
    assert "s3cr3t" not in json.dumps(data)
    # The facts the tenant module checks (its preconditions fail the run below otherwise).
    users = data["tenants"]["users"]
    assert isinstance(users, dict)
    assert {name: u["static_prefix"] for name, u in users.items()} == {
        name: f"/{name}" for name in ("alice", "bob", "data-team")
    }
    assert users["alice"]["artifacts_destination"] == "gs://lab-artifacts/alice"
    assert users["alice"]["ready_path"] == "/alice/ready"
    assert users["alice"]["server_command"][:2] == ["python", "-c"]
    files = {
        "platform": data["platform"],
        "tenants": data["tenants"],
        "platform-outputs": PLATFORM_OUTPUTS,
    }
    for name, content in files.items():
        (tmp_path / f"{name}.tfvars.json").write_text(json.dumps(content))

    terraform.init("platform")
    terraform(
        "platform",
        "test",
        "-no-color",
        "-test-directory=contract",
        f"-var-file={tmp_path / 'platform.tfvars.json'}",
    ).check("platform root with the rendered platform.tfvars.json")

    terraform.init("tenants")
    with_secret = Terraform(
        terraform.binary,
        {**terraform.env, "TF_VAR_iap_oauth_client_secret": "s3cr3t"},
        terraform.infra,
    )
    result = with_secret(
        "tenants",
        "test",
        "-no-color",
        "-test-directory=contract",
        f"-var-file={tmp_path / 'tenants.tfvars.json'}",
        f"-var-file={tmp_path / 'platform-outputs.tfvars.json'}",
    ).check("tenants root with the rendered tenants.tfvars.json and platform outputs")
    assert "1 passed, 0 failed" in result.out
