"""What Terraform commands report: planned changes, diagnostics, state locks, and the errors.

Plain data, parsed from ``-json`` events and Terraform's lock diagnostic; nothing here runs
Terraform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s.errors import OperationError, UsageError

_LOCK_FIELD_RE = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*)$", re.M)


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def text(self) -> str:
        where = f" ({self.address})" if self.address else ""
        detail = f": {self.detail.strip()}" if self.detail.strip() else ""
        return printable(f"{self.summary}{where}{detail}")


@dataclass(frozen=True)
class PlannedChange:
    address: str
    action: str  # create | update | delete | replace | read | noop | move | remove | import


@dataclass
class RunResult:
    """What one Terraform command reported: exit code, planned changes, diagnostics."""

    code: int
    changes: list[PlannedChange] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    stderr: str = ""
    stdout_text: str = ""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    who: str = ""
    created: str = ""
    operation: str = ""


class TerraformNotFound(UsageError):
    """No usable terraform binary."""


class TerraformError(OperationError):
    """A Terraform command failed; the message is Terraform's own diagnostic."""

    def __init__(self, root: str, command: str, result: RunResult) -> None:
        self.root = root
        self.command = command
        self.result = result
        errors = result.errors
        if errors:
            # Same diagnostic from several instances: once is enough.
            body = "; ".join(dict.fromkeys(d.text() for d in errors))
        else:
            body = _last_lines(result.stderr) or f"exit code {result.code}"
        super().__init__(f"terraform {command} ({root}) failed: {body}")

    @property
    def transient(self) -> bool:
        from mlflowk8s.terraform.retry import is_transient

        return is_transient(self.result)


class StateNotSaved(OperationError):
    """Terraform could not save a root's state and wrote it to ``errored.tfstate``.

    The backend holds an older state: any later run would plan from it (and create again
    what exists), so everything stops until the file is pushed.
    """

    def __init__(self, root: str, chdir: Path, errored: Path, unlock_command: str) -> None:
        self.root = root
        self.errored = errored
        super().__init__(
            f"terraform could not save the {root} state to the state bucket and wrote it "
            f"to {errored}; nothing more runs until it is pushed. Once the bucket is "
            f"reachable: `terraform -chdir={chdir} state push {errored}` (if that names a "
            f"held lock, release it with `{unlock_command}` first), then delete the file"
        )


class StateLocked(OperationError):
    """Another run (or a crashed one) holds the state lock of a root."""

    def __init__(self, root: str, lock: LockInfo, unlock_command: str) -> None:
        self.root = root
        self.lock = lock
        who = printable(lock.who) or "an unknown user"
        since = f" since {_short_time(lock.created)}" if lock.created else ""
        operation = f" ({printable(lock.operation)})" if lock.operation else ""
        super().__init__(
            f"the {root} state is locked by {who}{since}{operation}, lock ID "
            f"{printable(lock.lock_id)}. "
            f"If no other run is active (a crashed or killed one), release it with "
            f"`{unlock_command}`"
        )


def _short_time(created: str) -> str:
    """'2026-11-28 15:24:02.330778967 +0000 UTC' -> '2026-11-28 15:24:02 UTC'."""
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)?\s*(?:\+0000 )?(\S+)?", created)
    if not match:
        return printable(created)
    zone = match.group(2) or ""
    return printable(f"{match.group(1)} {zone}".strip())


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text from the state bucket or Terraform, safe for a terminal: control characters
    (ANSI escapes, carriage returns ...) shown escaped, as ``\\x1b``. Newlines and tabs stay.

    Anyone who can write the state bucket writes the lock's ``Who``, for example.
    """
    return _CONTROL_RE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _last_lines(text: str, count: int = 5) -> str:
    text = _ANSI_RE.sub("", text)
    lines = [
        line.strip(" │╷╵")
        for line in text.splitlines()
        if line.strip(" │╷╵") and "CLI configuration" not in line
    ]
    return printable(" ".join(lines[-count:]))


def lock_info(result: RunResult) -> LockInfo | None:
    """The holder of the state lock, from Terraform's 'Error acquiring the state lock'."""
    for diagnostic in result.errors:
        if "state lock" not in diagnostic.summary.lower():
            continue
        fields = {key: value.strip() for key, value in _LOCK_FIELD_RE.findall(diagnostic.detail)}
        if fields.get("ID"):
            return LockInfo(
                lock_id=fields["ID"],
                who=fields.get("Who", ""),
                created=fields.get("Created", ""),
                operation=fields.get("Operation", ""),
            )
    return None


_ADDRESS_TYPE_RE = re.compile(
    r'^(?:module\.[^.\[]+(?:\["[^"]*"\]|\[\d+\])?\.)*'  # module path, keys may hold dots
    r"(?:data\.)?([^.\[]+)\."
)


def resource_type(address: str) -> str:
    """'module.tenant["a.b"].kubernetes_namespace_v1.this' -> 'kubernetes_namespace_v1'."""
    match = _ADDRESS_TYPE_RE.match(address)
    return match.group(1) if match else ""


def module_key(address: str, module: str) -> str | None:
    """'module.tenant["alice"].x' -> 'alice' for module 'tenant'; None outside that module."""
    prefix = f'module.{module}["'
    if address.startswith(prefix):
        return address[len(prefix) :].split('"', 1)[0]
    return None
