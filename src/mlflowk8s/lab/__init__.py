"""The lab: its folder, environment, work folders, settings, users and locks.

Nothing outside this package reads ``.env`` or ``users.yaml``: the CLI opens a :class:`Lab`
and hands it down; settings and users are read once per command and kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.errors import UsageError
from mlflowk8s.lab.locks import WORK_DIR_NAME, lab_lock, run_lock
from mlflowk8s.lab.settings import ENV_FILE
from mlflowk8s.lab.users import USERS_FILE

if TYPE_CHECKING:
    from mlflowk8s.lab.settings import Settings
    from mlflowk8s.lab.users import UsersFile
    from mlflowk8s.targets.base import Target

DEFAULT_ENV = "default"


class NotALab(UsageError):
    """A command that needs a lab ran in a folder `init` has not made one."""


def is_lab(folder: Path) -> bool:
    """A lab folder holds the files `init` writes (``.env`` or ``users.yaml``)."""
    return (folder / ENV_FILE).is_file() or (folder / USERS_FILE).is_file()


class Lab:
    """One lab folder in one environment (``--env``)."""

    def __init__(self, folder: Path, env: str = DEFAULT_ENV) -> None:
        # Kept as given: messages name paths the way the admin wrote them.
        self.folder = folder
        self.env = env
        self._settings: Settings | None = None
        self._users: UsersFile | None = None
        self._target: Target | None = None

    @classmethod
    def open(cls, folder: Path, env: str = DEFAULT_ENV) -> Lab:
        """The lab in ``folder``; one error when it is none (nothing is created)."""
        if not folder.is_dir():
            # A mistyped --lab-dir must not become a new, empty lab.
            raise NotALab(f"no lab folder {folder}: check --lab-dir, or run `mlflowk8s init` there")
        if not is_lab(folder):
            shown = "this folder" if folder == Path(".") else str(folder)
            raise NotALab(
                f"{shown} is not a lab (no {ENV_FILE} or {USERS_FILE}): run `mlflowk8s init` "
                "there, or pass --lab-dir"
            )
        return cls(folder, env)

    # -- paths -------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The folder, absolute: for tools that run elsewhere (Terraform, supervisord)."""
        return self.folder.resolve()

    def work_folder(self, name: str | None = None) -> Path:
        """``.mlflowk8s/<name>``, by default the environment's: plans, rendered inputs."""
        return self.folder / WORK_DIR_NAME / (name or self.env)

    # -- files -------------------------------------------------------------------------
    def has_users_file(self) -> bool:
        return (self.folder / USERS_FILE).is_file()

    def settings(self) -> Settings:
        if self._settings is None:
            from mlflowk8s.lab.settings import load_settings

            self._settings = load_settings(self.folder)
        return self._settings

    def users(self) -> UsersFile:
        """users.yaml, read-only (edit through :meth:`editing_users`)."""
        if self._users is None:
            from mlflowk8s.lab.users import load_users

            self._users = load_users(self.folder)
        return self._users

    def reread(self) -> None:
        """Forget what was read: the next look sees the files as they are now (apply
        compares them with what its plan was made from)."""
        self._settings = None
        self._users = None

    @contextlib.contextmanager
    def editing_users(self) -> Iterator[UsersFile]:
        """users.yaml under the lab lock; saved when the block finishes without error."""
        from mlflowk8s.lab.users import load_users

        with self.lock():
            users = load_users(self.folder, editable=True)
            yield users
            users.save()
        self._users = None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with lab_lock(self.folder):
            yield

    @contextlib.contextmanager
    def run_lock(self) -> Iterator[None]:
        with run_lock(self.folder, self.env):
            yield

    # -- target ------------------------------------------------------------------------
    def target(self) -> Target:
        """Where this lab's tenants run (``MLFLOWK8S_TARGET``), made once."""
        if self._target is None:
            from mlflowk8s.targets import target_class

            self._target = target_class(self.settings().target)(self)
        return self._target
