"""Finding the terraform binary and its version (cached by path, size and mtime)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from mlflowk8s.fileio import write_atomic
from mlflowk8s.terraform.results import TerraformNotFound

TERRAFORM_ENV = "MLFLOWK8S_TERRAFORM"
# infra/ uses validations that refer to other variables, new in Terraform 1.9.
MIN_VERSION = (1, 9, 0)


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise ValueError(text)
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def find_terraform(
    environ: Mapping[str, str] | None = None, cache: Path | None = None
) -> tuple[Path, str]:
    """The terraform binary (``MLFLOWK8S_TERRAFORM``, else PATH) and its version.

    ``cache`` (a small JSON file) remembers the version of a binary by path, size and
    modification time, which saves one ``terraform version`` per command.
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(TERRAFORM_ENV)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise TerraformNotFound(f"{TERRAFORM_ENV}={configured} is not an executable")
    else:
        found = shutil.which("terraform", path=environ.get("PATH"))
        if found is None:
            raise TerraformNotFound(
                "terraform not found on PATH: install Terraform >= "
                f"{'.'.join(map(str, MIN_VERSION))} or set {TERRAFORM_ENV}"
            )
    path = Path(found)
    stat = path.stat()
    key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    version_text = _cached_version(cache, key)
    if version_text is None:
        version_text = _ask_version(path, environ)
    version = parse_version(version_text)
    if version < MIN_VERSION:
        raise TerraformNotFound(
            f"{path} is Terraform {version_text}; mlflowk8s needs >= "
            f"{'.'.join(map(str, MIN_VERSION))}"
        )
    if cache is not None:
        with contextlib.suppress(OSError):  # only a cache: the next run asks terraform again
            write_atomic(cache, json.dumps({"key": key, "version": version_text}) + "\n")
    return path, version_text


def _cached_version(cache: Path | None, key: str) -> str | None:
    if cache is None:
        return None
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("key") == key and isinstance(data.get("version"), str):
        return str(data["version"])
    return None


def _ask_version(path: Path, environ: Mapping[str, str]) -> str:
    try:
        proc = subprocess.run(
            [str(path), "version", "-json"],
            capture_output=True, text=True, timeout=60, env=base_env(environ),
        )  # fmt: skip
        version_text = str(json.loads(proc.stdout)["terraform_version"])
        parse_version(version_text)
    except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as exc:
        raise TerraformNotFound(f"{path} does not answer `terraform version -json`") from exc
    return version_text


def base_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env
