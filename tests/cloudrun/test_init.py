"""`init --target cloudrun` against fake-gcs-server and the registry stand-in for ghcr.io
(tests/support/registry.py), where it pins the image; a target change is refused once an
environment has state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.support.fakegcs import FakeGcs
from tests.support.registry import Registry

OPTIONS = ["--target", "cloudrun", "--project", "demo-project", "--region", "europe-west1",
           "--no-input"]  # fmt: skip


@pytest.fixture(autouse=True)
def ghcr(cli: Cli, registry: Registry) -> Registry:
    registry.publish_servers_image()
    cli.env.update(registry.env())
    return registry


def test_init_makes_a_cloudrun_lab_with_a_state_bucket_and_pins_the_image(
    cli: Cli, fake_gcs: FakeGcs, lab_dir: Path, ghcr: Registry
) -> None:
    pinned = ghcr.publish_servers_image()
    cli.env.update(fake_gcs.env())
    result = cli("init", *OPTIONS, "--state-bucket", "cr-init-tfstate")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "Created state bucket gs://cr-init-tfstate (versioned, private)."
    )
    assert (lab_dir / ".env").read_text() == (
        "MLFLOWK8S_TARGET=cloudrun\nGCP_PROJECT=demo-project\nGCP_REGION=europe-west1\n"
        "TF_GCS_BUCKET=cr-init-tfstate\nMLFLOW_GCS_BUCKET=demo-project-mlflow-artifacts\n"
        f"MLFLOW_IMAGE={pinned}\n"
    )
    assert "add-user NAME --member EMAIL" in result.stdout
    # Again: the target stays, nothing changes, the pinned image is kept (no registry asked).
    asked = len(ghcr.seen)
    again = cli("init", "--no-input")
    assert again.code == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "Nothing changed: the lab is already set up."
    assert len(ghcr.seen) == asked


def test_gcp_options_are_refused_in_one_line(cli: Cli, lab_dir: Path) -> None:
    result = cli("init", *OPTIONS, "--domain", "mlflow.lab.org")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: the cloudrun target takes no --domain: tenants answer on their own run.app "
        "URLs and IAP uses its Google-managed client"
    )
    assert not (lab_dir / ".env").exists()


def test_missing_project_is_named(cli: Cli) -> None:
    result = cli("init", "--target", "cloudrun", "--no-input")
    assert result.code == 2
    assert "missing settings: GCP_PROJECT (pass --project)" in result.stderr


def test_changing_the_target_of_an_environment_with_state_is_refused(
    cli: Cli, lab_dir: Path
) -> None:
    (lab_dir / ".env").write_text("MLFLOWK8S_TARGET=local\n")
    (lab_dir / "users.yaml").write_text("users: {}\n")
    work = lab_dir / ".mlflowk8s" / "dev"
    work.mkdir(parents=True)
    (work / "supervisord.conf").write_text("[supervisord]\n")
    before = (lab_dir / ".env").read_text()
    result = cli("init", *OPTIONS)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "error: environment dev of this lab has state of the local target: to change the "
        "target to cloudrun, `mlflowk8s destroy --delete-data` and remove .mlflowk8s/ first, "
        "or init another folder"
    ]
    assert (lab_dir / ".env").read_text() == before
