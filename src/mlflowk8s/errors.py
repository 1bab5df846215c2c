"""One error hierarchy for the whole tool.

Core modules raise these; only ``mlflowk8s.cli`` turns them into a one-line message and an
exit code, so every command fails the same way.
"""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class MlflowK8sError(Exception):
    """Base of every error the tool reports to the admin."""

    exit_code = EXIT_FAILED


class UsageError(MlflowK8sError):
    """Bad input: a wrong name, option, or setting. Nothing was changed."""

    exit_code = EXIT_USAGE


class ConfigFileError(UsageError):
    """A lab file (.env, users.yaml) cannot be read or parsed."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class ConfirmationRequired(UsageError):
    """A destructive or costly command needs --yes when nobody can answer a prompt."""


class OperationError(MlflowK8sError):
    """An operation against the outside world (cloud, Terraform, processes) failed."""


class CredentialsError(OperationError):
    """No usable Google credentials."""


class Interrupted(MlflowK8sError):
    """The admin pressed Ctrl-C."""

    exit_code = EXIT_INTERRUPTED
