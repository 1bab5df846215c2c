"""The offline stand-ins for the google/kubernetes providers, built from tests/support/tfmirror.

The real providers cannot be downloaded in tests, so tfmirror builds schema-only providers
(with the wheels it needs from PyPI) into a cache outside the clone: once per machine and
per version of the tool (the folder name carries a hash of its sources), a no-op after that.
When the build fails, the caller fails the tests with the reason: nothing is skipped.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parent / "tfmirror"
BUILDER = TOOL / "build"
DIR_ENV = "MLFLOWK8S_TFMIRROR_DIR"
NEEDS = (
    "it needs Python 3.11+ with the venv module and access to PyPI "
    "(pip settings such as PIP_INDEX_URL apply)"
)


def base_python() -> str:
    """The interpreter behind this virtualenv: the same for every clone on the machine.

    The build records the interpreter of its own venv and rebuilds it when that changes;
    each clone's .venv python would make clones rebuild it under each other's feet.
    """
    return str(getattr(sys, "_base_executable", "") or sys.executable)


class MirrorUnavailable(Exception):
    """The stand-in providers could not be built; the message says why."""


def tool_hash() -> str:
    """Hash of the tool's sources and interpreter: a changed tool builds into a new folder."""
    digest = hashlib.sha256(base_python().encode() + b"\0")
    for path in sorted([BUILDER, TOOL / "requirements.txt", *TOOL.glob("tfmirror/*.py")]):
        digest.update(path.relative_to(TOOL).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlflowk8s" / f"tfmirror-{tool_hash()}"


def build(
    outdir: Path | None = None, timeout: float = 900, env: dict[str, str] | None = None
) -> Path:
    """Build (or reuse) the mirror; return its folder, which holds ``terraformrc``."""
    outdir = outdir or Path(os.environ.get(DIR_ENV) or default_dir())
    if not BUILDER.is_file():
        raise MirrorUnavailable(f"the provider mirror builder {BUILDER} is missing")
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [base_python(), str(BUILDER), str(outdir), "--python", base_python()],
            capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MirrorUnavailable(f"cannot build the provider mirror into {outdir}: {exc}") from exc
    if proc.returncode != 0 or not (outdir / "terraformrc").is_file():
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise MirrorUnavailable(
            f"building the provider mirror into {outdir} failed (exit {proc.returncode}); "
            f"{NEEDS} (set ${DIR_ENV} to build elsewhere):\n{tail}"
        )
    return outdir


if __name__ == "__main__":  # `python -m tests.support.provider_mirror`: build, print the folder
    try:
        print(build())
    except MirrorUnavailable as exc:
        sys.exit(str(exc))
