"""MLflow versions: the installed client (real installs on real paths), an image reference's
version, the deployed image's, and the skew rule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlflowk8s import mlflow_versions as mv
from mlflowk8s import server
from tests.support.client_install import SKEWED_VERSION

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def test_the_client_of_this_python_is_the_full_package_at_the_servers_version() -> None:
    # mlflow and mlflow-skinny are both installed here, into the same folder: mlflow wins.
    assert mv.installed_client() == mv.Client("mlflow", server.MLFLOW_VERSION)


def test_a_client_first_on_the_path_is_the_one_python_imports(skewed_client: Path) -> None:
    # The full package's metadata is still on the path, but not its files: it does not count.
    found = mv.installed_client([str(skewed_client), *sys.path])
    assert found == mv.Client("mlflow-skinny", SKEWED_VERSION)
    assert mv.installed_client([str(skewed_client)]) == found


def test_no_client_on_the_path_is_none(tmp_path: Path) -> None:
    assert mv.installed_client([str(tmp_path)]) is None
    # A folder named mlflow that no distribution installed is no client either.
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "__init__.py").write_text("")
    assert mv.installed_client([str(tmp_path)]) is None


@pytest.mark.parametrize(
    ("client", "server_version", "skewed"),
    [("3.17.2", "3.17.0", False), ("3.16.0", "3.17.2", True), ("2.17.2", "3.17.2", True),
     ("3.17.2rc0", "3.17.2", False)],
)  # fmt: skip
def test_a_minor_apart_is_skewed(client: str, server_version: str, skewed: bool) -> None:
    assert mv.skewed(client, server_version) is skewed


def test_the_pip_command_aligns_the_minor() -> None:
    assert mv.align_command("mlflow-skinny", "3.17.2") == "pip install 'mlflow-skinny==3.17.*'"
    assert mv.align_command("mlflow", "3.18.0") == "pip install 'mlflow==3.18.*'"


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        (f"ghcr.io/mlflow/mlflow:v3.17.2-full@{DIGEST}", "3.17.2"),
        (f"ghcr.io/mlflow/mlflow:v3.16.1@{DIGEST}", "3.16.1"),
        # No tag, another repository, a tag of another scheme, no digest: not known.
        (f"ghcr.io/mlflow/mlflow@{DIGEST}", None),
        (f"ghcr.io/mylab/mlflow:v3.17.2-full@{DIGEST}", None),
        (f"europe-docker.pkg.dev/lab/mlflow/server:v3.17.2@{DIGEST}", None),
        (f"ghcr.io/mlflow/mlflow:latest@{DIGEST}", None),
        ("ghcr.io/mlflow/mlflow:v3.17.2-full", None),
        ("", None),
        (None, None),
    ],
)
def test_only_the_official_images_version_tag_names_a_version(
    reference: str | None, version: str | None
) -> None:
    assert mv.of_image(reference) == version


def test_a_deployed_image_has_the_pins_version_only_with_the_pins_digest() -> None:
    pinned = f"ghcr.io/mlflow/mlflow:v3.17.2-full@{DIGEST}"
    # Pods and Cloud Run pull the digest through the Artifact Registry mirror, tag dropped.
    mirrored = f"europe-west1-docker.pkg.dev/p/ghcr/mlflow/mlflow@{DIGEST}"
    assert mv.deployed(mirrored, pinned) == "3.17.2"
    assert mv.deployed(pinned, pinned) == "3.17.2"
    # Deployed before MLFLOW_IMAGE changed: another digest, so not known.
    assert mv.deployed(f"europe-west1-docker.pkg.dev/p/ghcr/mlflow/mlflow@{OTHER}", pinned) is None
    assert mv.deployed(mirrored, f"ghcr.io/mlflow/mlflow@{DIGEST}") is None  # pin without tag
    assert mv.deployed(None, pinned) is None  # retired: nothing deployed
    assert mv.deployed(mirrored, None) is None
