"""`status --json` has one schema on every target (name, url, state, healthy, mlflow_version,
...): each target's lab, one active and one retired tenant, through one check.

gcp and cloudrun run real Terraform on the fixture roots with state in fake-gcs-server (the
Google APIs are stand-ins); local runs real supervisord and the real launcher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from mlflowk8s import server
from tests.cloudrun.conftest import cr_lab
from tests.conftest import Cli
from tests.local.conftest import LocalLab, local_lab
from tests.support import status_schema
from tests.terraform.conftest import google_apis, tf_lab

pytestmark = pytest.mark.slow
__all__ = ["cr_lab", "google_apis", "local_lab", "tf_lab"]  # fixtures of the targets' tests

OFFICIAL = f"{server.MLFLOW_IMAGE}@sha256:" + "4" * 64


@pytest.fixture(params=["gcp", "cloudrun", "local"])
def lab_cli(request: pytest.FixtureRequest) -> Iterator[Cli]:
    if request.param == "local":
        lab: LocalLab = request.getfixturevalue("local_lab")
        yield lab.cli
        return
    found = request.getfixturevalue("tf_lab" if request.param == "gcp" else "cr_lab")
    # The image as `init` pins it: the official tag, kept before the digest.
    env = found.path / ".env"
    lines = [ln for ln in env.read_text().splitlines() if not ln.startswith("MLFLOW_IMAGE=")]
    env.write_text("\n".join([*lines, f"MLFLOW_IMAGE={OFFICIAL}"]) + "\n")
    yield found.cli


def test_every_targets_status_json_has_the_one_schema(lab_cli: Cli) -> None:
    for name in ("alice", "bob"):
        assert lab_cli("add-user", name, "--member", f"{name}@lab.org").code == 0
    assert lab_cli("remove-user", "bob").code == 0
    applied = lab_cli("apply", "--yes")
    assert applied.code == 0, applied.stderr
    result = lab_cli("status", "--json")
    assert result.code == 0, result.stderr
    tenants = status_schema.check(json.loads(result.stdout))
    assert sorted(tenants) == ["alice", "bob"]
    # Every target knows what alice's server runs: the local one asks it, the Google ones
    # read the deployed image; bob is retired and runs nothing.
    assert tenants["alice"]["mlflow_version"] == server.MLFLOW_VERSION
    assert tenants["bob"]["mlflow_version"] is None
