"""Terraform roots copied into a lab's work folder and initialised against their state.

The whole infra folder is copied (the packaged one may be read-only; ``.terraform`` and the
lock file belong to the lab), so the roots' relative module paths (``../modules/...``) keep
working. Each root is initialised again only when its sources, backend or binary changed
(a stamp file records them). Which roots, which backend and which environment a root runs
in are the target's to say.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.progress import Progress
from mlflowk8s.terraform.binary import find_terraform
from mlflowk8s.terraform.results import TerraformError
from mlflowk8s.terraform.runner import Terraform
from mlflowk8s.terraform.signals import LAST_RUN_LOG, set_run_log, signal_name

INFRA_ENV = "MLFLOWK8S_INFRA_DIR"
_STAMP = ".mlflowk8s-init.json"
_SKIP_DIRS = {".terraform", "tests", "__pycache__"}


def infra_dir(roots: Sequence[str], subdir: str = "") -> Path:
    """The Terraform sources: ``MLFLOWK8S_INFRA_DIR``, the packaged infra, or the repo's.

    ``subdir``: where the roots sit inside the packaged infra (``cloudrun``); the folder
    named by ``MLFLOWK8S_INFRA_DIR`` holds the roots themselves. See :func:`roots_dir`.
    """
    configured = os.environ.get(INFRA_ENV)
    if configured:
        path = Path(configured).expanduser().resolve()
        missing = [root for root in roots if not (path / root).is_dir()]
        if missing:
            raise UsageError(f"{INFRA_ENV}={configured} has no {' or '.join(missing)} folder")
        return path
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "infra", package.parents[1] / "infra"):
        if all((candidate / subdir / root).is_dir() for root in roots):
            return candidate
    listed = ", ".join(f"infra/{Path(subdir, root)}" for root in roots)
    raise UsageError(
        f"the Terraform roots ({listed}) are missing from {package}: "
        f"reinstall mlflowk8s or set {INFRA_ENV}"
    )


def roots_dir(subdir: str = "") -> str:
    """Where the roots sit in the copied infra: ``subdir``, unless ``MLFLOWK8S_INFRA_DIR``
    names a folder that holds them directly."""
    return "" if os.environ.get(INFRA_ENV) else subdir


def _source_files(source: Path) -> dict[Path, Path]:
    files: dict[Path, Path] = {}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if set(relative.parts) & _SKIP_DIRS or not path.is_file():
            continue
        if path.name.endswith((".tfstate", ".tfstate.backup", ".tfplan")):
            continue
        files[relative] = path
    return files


def sync_infra(source: Path, dest: Path) -> str:
    """Mirror the Terraform sources into ``dest``; returns a digest of what was copied.

    ``.terraform`` folders are Terraform's own; a lock file already in ``dest`` is the lab's
    and stays (it records the providers this lab was applied with).
    """
    digest = hashlib.sha256()
    files = _source_files(source)
    for relative, path in files.items():
        data = path.read_bytes()
        digest.update(str(relative).encode() + b"\0" + data + b"\0")
        target = dest / relative
        if relative.name == ".terraform.lock.hcl" and target.exists():
            continue
        write_atomic(target, data)
    for path in sorted(dest.rglob("*.tf"), reverse=True):
        relative = path.relative_to(dest)
        if relative not in files and ".terraform" not in relative.parts:
            path.unlink()
    return digest.hexdigest()


class Workspace:
    """The roots of one environment in its work folder; :meth:`root` gives a ready runner.

    ``backend(root)`` is the root's ``-backend-config``; ``environment(root)`` what it runs
    with (e.g. a secret as ``TF_VAR_``); ``init_hint(root, backend)`` is added to an
    ``init`` failure (where the state lives, which setting names it).
    """

    def __init__(
        self,
        work: Path,
        roots: Sequence[str],
        backend: Callable[[str], dict[str, str]],
        progress: Progress,
        environment: Callable[[str], Mapping[str, str]] | None = None,
        init_hint: Callable[[str, Mapping[str, str]], str] | None = None,
        unlock_command: str = "mlflowk8s unlock {lock_id}",
        subdir: str = "",
    ) -> None:
        self.work = work
        self.roots = tuple(roots)
        self.subdir = subdir
        self.backend = backend
        self.progress = progress
        self.environment = environment
        self.init_hint = init_hint
        self.unlock_command = unlock_command
        self._binary: Path | None = None
        self._digest: str | None = None
        self._runners: dict[str, Terraform] = {}
        # After SIGHUP the outcome is written here: the terminal is gone.
        set_run_log(work / LAST_RUN_LOG)

    @property
    def infra(self) -> Path:
        return self.work / "infra"

    def root_dir(self, name: str) -> Path:
        """Where root ``name`` runs: in the copied infra, under the target's subfolder."""
        return self.infra / roots_dir(self.subdir) / name

    def root(self, name: str) -> Terraform:
        """The root's runner, its sources synced and initialised (again when they changed)."""
        if name in self._runners:
            return self._runners[name]
        backend = self.backend(name)
        if self._binary is None:
            self._binary, _ = find_terraform(cache=self.work / "terraform-version.json")
        if self._digest is None:
            self._digest = sync_infra(infra_dir(self.roots, self.subdir), self.infra)
        env = dict(os.environ)
        if self.environment is not None:
            env.update(self.environment(name))
        tf = Terraform(
            self._binary,
            self.root_dir(name),
            name,
            env=env,
            unlock_command=self.unlock_command,
            on_interrupt=self._interrupted,
        )
        stamp_path = self.root_dir(name) / _STAMP
        stamp = dumps({"backend": backend, "sources": self._digest,
                       "terraform": str(self._binary)})  # fmt: skip
        current = stamp_path.read_text(encoding="utf-8") if stamp_path.exists() else ""
        if current != stamp or not (self.root_dir(name) / ".terraform").is_dir():
            self.progress.step(f"initialising {name}")
            try:
                tf.init(backend)
            except TerraformError as exc:
                hint = self.init_hint(name, backend) if self.init_hint else ""
                raise OperationError(f"{exc} ({hint})" if hint else str(exc)) from exc
            write_atomic(stamp_path, stamp)
        self._runners[name] = tf
        return tf

    def outputs(self, name: str, save_as: Path | None = None) -> dict[str, object]:
        """The root's outputs ({} before it exists); also written to ``save_as`` as tfvars."""
        outputs = self.root(name).outputs()
        if outputs and save_as is not None:
            write_atomic(save_as, dumps(outputs))
        return outputs

    def _interrupted(self, count: int, signum: int) -> None:
        name = signal_name(signum)
        if count == 1:
            self.progress.note(
                f"{name}: stopping terraform cleanly, it saves the state and releases its "
                "lock (a second signal tells it to exit at once)"
            )
        elif count == 2:
            self.progress.note(
                f"{name} again: terraform was told to exit at once. It may leave the state "
                "lock held and the state unsaved: the next command says so; release a lock "
                f"with `{self.unlock_command.format(lock_id='LOCK_ID')}` and push an "
                "errored.tfstate as that command shows"
            )


def inputs_digest(*documents: object) -> str:
    """A digest of rendered inputs: a plan is applied only from the inputs it was made of."""
    return hashlib.sha256("".join(dumps(d) for d in documents).encode()).hexdigest()
