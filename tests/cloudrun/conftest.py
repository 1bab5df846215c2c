"""A cloudrun lab: real Terraform on the cloudrun fixture roots, the real ``gcs`` backend
on fake-gcs-server, the real CLI; Google's admin APIs are the stand-ins of
tests/support/iap_standin.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli
from tests.support.fakegcs import FakeGcs
from tests.support.iap_standin import AdminGoogle
from tests.terraform.conftest import PROJECT, TfLab, google_apis

__all__ = ["google_apis"]

FIXTURE_ROOTS = REPO / "tests" / "fixtures" / "terraform" / "cloudrun"
REGION = "europe-west1"
PROJECT_NUMBER = "123456789012"  # the fixture platform's default
IMAGE = "ghcr.io/mlflow/mlflow:v3.17.2-full@sha256:" + "1" * 64


def run_app_host(user: str, env: str = "default") -> str:
    return f"mlflow-{env}-{user}-{PROJECT_NUMBER}.{REGION}.run.app"


@pytest.fixture
def cr_lab(
    cli: Cli, fake_gcs: FakeGcs, google_apis: AdminGoogle, tmp_path: Path
) -> Iterator[TfLab]:
    bucket = f"crs-{uuid.uuid4().hex[:10]}"
    cli.env.update(fake_gcs.env())
    cli.env.update(google_apis.env)
    cli.env.update({"MLFLOWK8S_INFRA_DIR": str(FIXTURE_ROOTS), "MLFLOWK8S_RETRY_DELAY": "0"})
    google_apis.reset()
    # Pinned already: init keeps it and asks no registry.
    (cli.lab / ".env").write_text(f"MLFLOW_IMAGE={IMAGE}\n", encoding="utf-8")
    result = cli(
        "init", "--no-input", "--target", "cloudrun", "--project", PROJECT, "--region", REGION,
        "--state-bucket", bucket,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    yield TfLab(cli=cli, gcs=fake_gcs, bucket=bucket, counter=tmp_path / "counter",
                google=google_apis)  # fmt: skip
