"""A thin Terraform runner: subprocess, ``-json`` events, typed results and errors, signals.

Not python-terraform (DESIGN.md says why). Every command runs with ``-input=false`` in its
own process group, so the terminal's Ctrl-C reaches only us: the first one is forwarded
to Terraform once (it stops cleanly and releases the state lock, then we raise
:class:`~mlflowk8s.errors.Interrupted`), a second one kills it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from mlflowk8s.errors import Interrupted, OperationError, UsageError
from mlflowk8s.fileio import write_atomic

TERRAFORM_ENV = "MLFLOWK8S_TERRAFORM"
# infra/ uses validations that refer to other variables, new in Terraform 1.9.
MIN_VERSION = (1, 9, 0)

# Curated transient failures: worth the same request again after a pause. Everything else
# fails at once. Google API errors come as "googleapi: Error NNN: message, reason".
TRANSIENT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        # An API enabled in this very run is still propagating.
        r"SERVICE_DISABLED",
        r"has not been used in project \S+ before or it is disabled",
        # Another operation on the same resource (GKE, Cloud SQL, service networking).
        r"operation .{0,80}already in progress",
        r"incompatible operation",
        r"\bError 409: .{0,200}(?:being modified|concurrent|try again)",
        # Rate limits and server-side errors of Google APIs.
        r"\bError (?:429|500|502|503|504)\b",
        r"\b(?:backendError|rateLimitExceeded|userRateLimitExceeded|internalError)\b",
        # The network between us and the API.
        r"connection reset by peer",
        r"TLS handshake timeout",
        r"\bi/o timeout\b",
        r"unexpected EOF",
        r"http2: server sent GOAWAY",
    )
)

_LOCK_FIELD_RE = re.compile(r"^\s*(ID|Path|Operation|Who|Version|Created|Info):[ \t]*(.*)$", re.M)


# --- results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def text(self) -> str:
        where = f" ({self.address})" if self.address else ""
        detail = f": {self.detail.strip()}" if self.detail.strip() else ""
        return f"{self.summary}{where}{detail}"


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

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


@dataclass(frozen=True)
class LockInfo:
    lock_id: str
    who: str = ""
    created: str = ""
    operation: str = ""


# --- errors -------------------------------------------------------------------------


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
        return is_transient(self.result)


class StateLocked(OperationError):
    """Another run (or a crashed one) holds the state lock of a root."""

    def __init__(self, root: str, lock: LockInfo, unlock_command: str) -> None:
        self.root = root
        self.lock = lock
        who = lock.who or "an unknown user"
        since = f" since {_short_time(lock.created)}" if lock.created else ""
        operation = f" ({lock.operation})" if lock.operation else ""
        super().__init__(
            f"the {root} state is locked by {who}{since}{operation}, lock ID {lock.lock_id}. "
            f"If no other run is active (a crashed or killed one), release it with "
            f"`{unlock_command}`"
        )


def _short_time(created: str) -> str:
    """'2026-11-28 15:24:02.330778967 +0000 UTC' -> '2026-11-28 15:24:02 UTC'."""
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)?\s*(?:\+0000 )?(\S+)?", created)
    if not match:
        return created
    zone = match.group(2) or ""
    return f"{match.group(1)} {zone}".strip()


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _last_lines(text: str, count: int = 5) -> str:
    text = _ANSI_RE.sub("", text)
    lines = [
        line.strip(" │╷╵")
        for line in text.splitlines()
        if line.strip(" │╷╵") and "CLI configuration" not in line
    ]
    return " ".join(lines[-count:])


def is_transient(result: RunResult) -> bool:
    """Whether every error of a failed run matches a curated transient pattern."""
    errors = result.errors
    if not errors:
        return False
    return all(
        any(pattern.search(f"{d.summary}\n{d.detail}") for pattern in TRANSIENT_PATTERNS)
        for d in errors
    )


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


# --- finding terraform ----------------------------------------------------------------


_ADDRESS_TYPE_RE = re.compile(
    r'^(?:module\.[^.\[]+(?:\["[^"]*"\]|\[\d+\])?\.)*'  # module path, keys may hold dots
    r"(?:data\.)?([^.\[]+)\."
)


def resource_type(address: str) -> str:
    """'module.tenant["a.b"].kubernetes_namespace_v1.this' -> 'kubernetes_namespace_v1'."""
    match = _ADDRESS_TYPE_RE.match(address)
    return match.group(1) if match else ""


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
            capture_output=True, text=True, timeout=60, env=_base_env(environ),
        )  # fmt: skip
        version_text = str(json.loads(proc.stdout)["terraform_version"])
        parse_version(version_text)
    except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as exc:
        raise TerraformNotFound(f"{path} does not answer `terraform version -json`") from exc
    return version_text


def _base_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    return env


# --- running ------------------------------------------------------------------------

EventHandler = Callable[[dict[str, Any]], None]


class _SignalForwarder:
    """While Terraform runs: the first SIGINT is forwarded once, a second one kills it.

    One per process: Terraform runs started from worker threads (parallel plans) register
    here too, while the main thread holds :func:`forwarding_signals`.
    """

    def __init__(self) -> None:
        self.processes: set[subprocess.Popen[str]] = set()
        self.interrupts = 0
        self._depth = 0
        self._previous: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.interrupts += 1
        for process in list(self.processes):
            if process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                if self.interrupts == 1:
                    process.send_signal(signal.SIGINT)
                else:
                    os.killpg(process.pid, signal.SIGKILL)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_SignalForwarder]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        if self._depth == 0:
            self.interrupts = 0
            self._previous = signal.signal(signal.SIGINT, self._handle)
        self._depth += 1
        try:
            yield self
        finally:
            self._depth -= 1
            if self._depth == 0:
                signal.signal(signal.SIGINT, self._previous)


_FORWARDER = _SignalForwarder()


def forwarding_signals() -> contextlib.AbstractContextManager[_SignalForwarder]:
    """Hold in the main thread while Terraform runs in worker threads."""
    return _FORWARDER.installed()


class Terraform:
    """One Terraform root in a work folder (``cwd``), with the environment to run it in."""

    def __init__(
        self,
        binary: Path,
        cwd: Path,
        root_name: str,
        env: Mapping[str, str] | None = None,
        unlock_command: str = "mlflowk8s unlock {lock_id}",
        on_interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.binary = binary
        self.cwd = cwd
        self.root_name = root_name
        self.env = _base_env(os.environ if env is None else env)
        self.unlock_command = unlock_command
        self.on_interrupt = on_interrupt

    # -- commands ------------------------------------------------------------------
    def init(self, backend_config: Mapping[str, str]) -> RunResult:
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        args += [f"-backend-config={key}={value}" for key, value in backend_config.items()]
        return self._checked("init", self.run(args))

    def plan(
        self,
        out: Path,
        var_files: Sequence[Path] = (),
        variables: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        on_event: EventHandler | None = None,
    ) -> RunResult:
        args = ["plan", "-input=false", "-json", f"-out={out}"]
        args += ["-destroy"] if destroy else []
        args += self._inputs(var_files, variables, targets)
        result = self._checked("plan", self.run(args, on_event=on_event, json_ui=True))
        with contextlib.suppress(OSError):
            out.chmod(0o600)  # a saved plan holds every input value
        return result

    def apply(self, plan_file: Path, on_event: EventHandler | None = None) -> RunResult:
        args = ["apply", "-input=false", "-json", str(plan_file)]
        return self._checked("apply", self.run(args, on_event=on_event, json_ui=True))

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json`` as {name: value}; {} when the state has none."""
        result = self._checked("output", self.run(["output", "-json", "-no-color"]))
        try:
            raw = json.loads(result.stdout_text or "{}")
        except ValueError as exc:
            raise OperationError(f"terraform output ({self.root_name}) is not JSON") from exc
        return {name: item.get("value") for name, item in raw.items()}

    def state_list(self, *prefixes: str) -> list[str]:
        """Resource addresses in the state (only those under ``prefixes`` when given)."""
        result = self._checked("state list", self.run(["state", "list"]))
        found = [line.strip() for line in result.stdout_text.splitlines() if line.strip()]
        if not prefixes:
            return found
        return [
            a for a in found if any(a == p or a.startswith((p + ".", p + "[")) for p in prefixes)
        ]

    def state_rm(self, addresses: Sequence[str]) -> None:
        """Forget resources that no longer exist (without destroying anything)."""
        if addresses:
            self._checked("state rm", self.run(["state", "rm", *addresses]))

    def force_unlock(self, lock_id: str) -> RunResult:
        return self.run(["force-unlock", "-force", "-no-color", lock_id])

    # -- machinery -----------------------------------------------------------------
    @staticmethod
    def _inputs(
        var_files: Sequence[Path], variables: Mapping[str, str] | None, targets: Sequence[str]
    ) -> list[str]:
        args = [f"-var-file={path}" for path in var_files]
        args += [f"-var={key}={value}" for key, value in (variables or {}).items()]
        args += [f"-target={target}" for target in targets]
        return args

    def _checked(self, command: str, result: _Run) -> _Run:
        if result.code == 0:
            return result
        lock = lock_info(result)
        if lock is not None:
            raise StateLocked(
                self.root_name, lock, self.unlock_command.format(lock_id=lock.lock_id)
            )
        raise TerraformError(self.root_name, command, result)

    def run(
        self,
        args: Sequence[str],
        on_event: EventHandler | None = None,
        json_ui: bool = False,
    ) -> _Run:
        """Run ``terraform ARGS`` in the root; with ``json_ui`` parse one event per line."""
        forwarder = _FORWARDER
        with forwarder.installed():
            before = forwarder.interrupts
            if before:
                raise Interrupted(f"interrupted before terraform ({self.root_name}) started")
            try:
                process = subprocess.Popen(
                    [str(self.binary), *args],
                    cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    encoding="utf-8", errors="replace", bufsize=1,
                    start_new_session=True,  # the terminal's Ctrl-C reaches only us
                )  # fmt: skip
            except OSError as exc:
                raise OperationError(f"cannot run {self.binary}: {exc}") from exc
            forwarder.processes.add(process)
            try:
                result, stdout_lines, stderr_chunks = self._read(
                    process, forwarder, on_event, json_ui
                )
            except BaseException:
                _stop(process)
                raise
            finally:
                forwarder.processes.discard(process)
            interrupts = forwarder.interrupts
        result.stderr = "".join(stderr_chunks)
        result.stdout_text = "".join(stdout_lines)
        if interrupts:
            if interrupts > 1:
                raise Interrupted(
                    f"interrupted: terraform ({self.root_name}) was killed; its state lock "
                    "may still be held (the next run names it and how to release it)"
                )
            raise Interrupted(
                f"interrupted: terraform ({self.root_name}) stopped cleanly and saved its state"
            )
        return result

    def _read(
        self,
        process: subprocess.Popen[str],
        forwarder: _SignalForwarder,
        on_event: EventHandler | None,
        json_ui: bool,
    ) -> tuple[_Run, list[str], list[str]]:
        stderr_chunks: list[str] = []
        assert process.stderr is not None and process.stdout is not None
        stderr = process.stderr
        drain = threading.Thread(target=lambda: stderr_chunks.append(stderr.read()), daemon=True)
        drain.start()
        result = _Run(code=-1)
        stdout_lines: list[str] = []
        noted = 0
        for line in process.stdout:
            if forwarder.interrupts > noted:
                noted = forwarder.interrupts
                if self.on_interrupt is not None:
                    self.on_interrupt()
            event = _parse_event(line) if json_ui else None
            if event is None:
                stdout_lines.append(line)
                continue
            _collect(result, event)
            if on_event is not None:
                on_event(event)
        result.code = process.wait()
        drain.join(timeout=10)
        return result, stdout_lines, stderr_chunks


def _stop(process: subprocess.Popen[str], grace_seconds: float = 60.0) -> None:
    """End a terraform we stopped reading: it lives in its own session, so nothing else will.

    SIGINT first, so that it releases the state lock; killed if it does not stop in time.
    """
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class _Run(RunResult):
    stdout_text: str = ""


def _parse_event(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _collect(result: RunResult, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "planned_change":
        change = event.get("change") or {}
        address = (change.get("resource") or {}).get("addr", "")
        result.changes.append(PlannedChange(address=address, action=str(change.get("action"))))
    elif kind == "diagnostic":
        diag = event.get("diagnostic") or {}
        result.diagnostics.append(
            Diagnostic(
                severity=str(diag.get("severity", "error")),
                summary=str(diag.get("summary", "")),
                detail=str(diag.get("detail", "")),
                address=diag.get("address"),
            )
        )


class ApplyProgress:
    """Turns apply/plan events into ``progress.advance`` calls: done/total and current."""

    def __init__(self, advance: Callable[[int, int, str], None], total: int = 0) -> None:
        self.advance = advance
        self.total = total
        self.done = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        hook = event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr", "")
        if kind == "apply_start":
            self.advance(self.done, self.total, address)
        elif kind == "apply_progress":
            elapsed = hook.get("elapsed_seconds")
            shown = f"{address} ({elapsed}s)" if elapsed is not None else address
            self.advance(self.done, self.total, shown)
        elif kind in ("apply_complete", "apply_errored"):
            self.done += 1
            self.advance(self.done, max(self.total, self.done), address)
        elif kind in ("refresh_start", "refresh_complete"):
            self.advance(self.done, self.total, f"reading {address}")
        elif kind == "planned_change":
            change = event.get("change") or {}
            self.advance(0, 0, (change.get("resource") or {}).get("addr", ""))
