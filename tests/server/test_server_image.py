"""Pinning the servers' image by digest, against a registry stand-in (tests/support/registry.py,
standing in for ghcr.io only)."""

from __future__ import annotations

import pytest

from mlflowk8s import server, server_image
from mlflowk8s.errors import OperationError, UsageError
from tests.support.registry import REPO, Registry, index

TAG = f"v{server.MLFLOW_VERSION}-full"


def test_resolves_the_index_digest_of_the_pinned_image(registry: Registry) -> None:
    body = index(("linux", "amd64"), ("linux", "arm64"))
    registry.tags[TAG] = body
    pinned = server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)
    # The tag stays as the record of the MLflow version; the digest names what runs.
    assert pinned == f"ghcr.io/{REPO}:v{server.MLFLOW_VERSION}-full@{registry.digest(body)}"
    methods = [(method, path.rpartition("/")[2]) for method, path, _ in registry.seen]
    assert methods == [("HEAD", TAG), ("HEAD", TAG), ("GET", registry.digest(body))]
    accept = registry.seen[-1][2]
    assert "application/vnd.oci.image.index.v1+json" in accept
    assert "application/vnd.docker.distribution.manifest.list.v2+json" in accept


def test_refuses_an_index_without_linux_amd64(registry: Registry) -> None:
    registry.tags[TAG] = index(("linux", "arm64"))
    with pytest.raises(OperationError, match=r"no linux/amd64 image \(has: linux/arm64\)"):
        server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)


def test_refuses_content_that_does_not_match_its_digest(registry: Registry) -> None:
    registry.tags[TAG] = index(("linux", "amd64"))
    registry.tamper = True
    with pytest.raises(OperationError, match="does not match"):
        server_image.resolve(server.MLFLOW_IMAGE, base_url=registry.url)


def test_a_missing_tag_and_a_bad_reference_are_usage_errors(registry: Registry) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        server_image.resolve("ghcr.io/mlflow/mlflow:v0.0.0-full", base_url=registry.url)
    with pytest.raises(UsageError, match="not an image reference"):
        server_image.resolve("mlflow", base_url=registry.url)
