"""The bucket settings are written by `init`, and what reads them says so: a `.env` without
them (written by hand, say) is told to run `init`, which writes the names from the project.
fake-gcs-server stands in for Cloud Storage; the image is pinned already (no registry)."""

from __future__ import annotations

from tests.conftest import Cli
from tests.support.fakegcs import FakeGcs

BY_HAND = (
    "MLFLOWK8S_TARGET=gcp\nGCP_PROJECT=hand-project\nGCP_REGION=europe-west1\n"
    "MLFLOW_DOMAIN=mlflow.lab.org\n"
    "MLFLOW_IMAGE=europe-docker.pkg.dev/lab/images/mlflow@sha256:" + "a" * 64 + "\n"
)


def test_missing_bucket_settings_name_init_which_writes_them(cli: Cli, fake_gcs: FakeGcs) -> None:
    (cli.lab / ".env").write_text(BY_HAND)
    (cli.lab / "users.yaml").write_text("users: {}\n")
    plan = cli("plan")
    assert plan.code == 2
    assert plan.stderr == (
        "error: missing settings in .env: TF_GCS_BUCKET, MLFLOW_GCS_BUCKET "
        "(run `mlflowk8s init` to set them)\n"
    )
    doctor = cli("doctor", "--json")
    assert "missing in .env: TF_GCS_BUCKET, MLFLOW_GCS_BUCKET" in doctor.stdout
    assert "run `mlflowk8s init`" in doctor.stdout
    cli.env.update(fake_gcs.env())
    init = cli("init", "--no-input")
    assert init.code == 0, init.stderr
    assert "Created state bucket gs://hand-project-tfstate (versioned, private)." in init.stdout
    assert (cli.lab / ".env").read_text() == BY_HAND + (
        "TF_GCS_BUCKET=hand-project-tfstate\nMLFLOW_GCS_BUCKET=hand-project-mlflow-artifacts\n"
    )
