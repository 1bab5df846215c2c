"""The offline provider stand-ins belong to the project: built from tests/support, or a failure."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import provider_mirror


def test_no_test_entry_point_reaches_outside_the_clone() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "tests", "Makefile", ".ci", ".pre-commit-config.yaml"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert tracked
    sibling = "../" + "shared"  # spelled apart so that this file does not name it
    outside = [name for name in tracked if sibling in (REPO / name).read_text(errors="replace")]
    assert outside == [], f"these files name {sibling}: the tests must run from a lone clone"


def test_the_built_mirror_serves_every_provider_the_infra_uses(tfmirror: Path) -> None:
    served = {
        path.relative_to(tfmirror / "mirror" / "registry.terraform.io").parts[:2]
        for path in (tfmirror / "mirror").glob("registry.terraform.io/*/*/*/*/terraform-provider-*")
    }
    assert {("hashicorp", "google"), ("hashicorp", "kubernetes")} <= served
    assert str(tfmirror / "mirror") in (tfmirror / "terraformrc").read_text()


def test_the_cache_folder_follows_the_tools_sources() -> None:
    assert provider_mirror.default_dir().name == f"tfmirror-{provider_mirror.tool_hash()}"
    assert not provider_mirror.default_dir().is_relative_to(REPO)


def test_a_build_without_pypi_fails_saying_what_it_needs(tmp_path: Path) -> None:
    # A package index that refuses connections stands in for a machine without PyPI.
    env = {
        **os.environ,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        "PIP_FIND_LINKS": "",
        "PIP_NO_INDEX": "",
    }
    with pytest.raises(provider_mirror.MirrorUnavailable) as raised:
        provider_mirror.build(tmp_path / "mirror", timeout=600, env=env)
    message = str(raised.value)
    assert f"building the provider mirror into {tmp_path / 'mirror'} failed" in message
    assert "access to PyPI" in message
    assert not (tmp_path / "mirror" / "terraformrc").exists()
