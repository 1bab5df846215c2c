"""Offline Terraform tooling for the infra/ tests.

The google/kubernetes providers cannot be downloaded here, so tests/support/tfmirror builds
schema-only stand-ins served from a filesystem mirror (tests/support/provider_mirror.py).
Every Terraform run works on a temporary copy of infra/ without lock files (the stand-ins
never match a real lock file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import provider_mirror

INFRA = REPO / "infra"
ROOTS = ("platform", "tenants")
MODULES = ("gke", "cloudsql", "artifact-store", "workload-identity", "iap-ingress", "tenant")


@dataclass(frozen=True)
class Result:
    code: int
    out: str

    def check(self, what: str) -> Result:
        assert self.code == 0, f"{what} failed (exit {self.code}):\n{self.out[-6000:]}"
        return self


@dataclass(frozen=True)
class Terraform:
    """terraform with the mirror's CLI config, on a private copy of infra/."""

    binary: str
    env: dict[str, str]
    infra: Path

    def __call__(self, workdir: str, *args: str, timeout: float = 600) -> Result:
        proc = subprocess.run(
            [self.binary, f"-chdir={self.infra / workdir}", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout + proc.stderr)

    def init(self, workdir: str) -> Result:
        return self(workdir, "init", "-backend=false", "-input=false", "-no-color").check(
            f"terraform init in infra/{workdir}"
        )


def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.fail("terraform is not on PATH: install Terraform 1.11 (the infra tests need it)")
    return binary


def clean_env(home: Path) -> dict[str, str]:
    """The caller's environment minus anything that would steer Terraform elsewhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TF_", "GOOGLE_", "CLOUDSDK_", "KUBE"))
    }
    env.update(
        {
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "HOME": str(home),
        }
    )
    return env


def copy_infra(dest: Path) -> Path:
    """infra/ without .terraform folders and lock files."""
    shutil.copytree(INFRA, dest, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
    return dest


@pytest.fixture(scope="session")
def tfmirror() -> Path:
    """Build (or reuse) the schema-only provider mirror; fail, saying why, when it cannot."""
    try:
        return provider_mirror.build()
    except provider_mirror.MirrorUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def terraform(tfmirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    base = tmp_path_factory.mktemp("infra")
    env = clean_env(base / "home")
    env["TF_CLI_CONFIG_FILE"] = str(tfmirror / "terraformrc")
    return Terraform(terraform_binary(), env, copy_infra(base / "infra"))
