"""The lab's settings, kept in ``.env`` (python-dotenv syntax): parse, validate, save.

Only the keys every lab shares are named here; each target declares and checks its own
(``targets/<name>/settings.py``). Keys nobody knows are kept untouched on every rewrite.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.errors import ConfigFileError, UsageError
from mlflowk8s.fileio import write_atomic
from mlflowk8s.names import ENV_KEY_RE

if TYPE_CHECKING:
    from dotenv.parser import Binding

ENV_FILE = ".env"

TARGET = "MLFLOWK8S_TARGET"
# The desktop OAuth client researchers sign in with (`mlflowk8s login`); IAP must accept
# its tokens, so its id joins the programmatic clients in the platform inputs.
DESKTOP_CLIENT_ID = "MLFLOWK8S_DESKTOP_CLIENT_ID"
DESKTOP_CLIENT_SECRET = "MLFLOWK8S_DESKTOP_CLIENT_SECRET"
DESKTOP_CLIENT_FILE = "MLFLOWK8S_DESKTOP_CLIENT_FILE"
# The IAP audience jobs' service accounts request tokens for.
IAP_AUDIENCE = "MLFLOWK8S_IAP_AUDIENCE"

_KEY_RE = ENV_KEY_RE

# A target's settings: key -> check (raises UsageError naming the key, or returns).
Checks = Mapping[str, Callable[[str], object]]


def _target_of(values: Mapping[str, str]) -> str:
    from mlflowk8s.targets import DEFAULT_TARGET

    return values.get(TARGET) or DEFAULT_TARGET


def _checks(target: str) -> Checks:
    from mlflowk8s.targets import check_name, target_class

    check_name(target, TARGET)
    return target_class(target).settings_checks


def validate_setting(key: str, value: str, target: str | None = None) -> str:
    """Return ``value`` if it is valid for ``key`` (in ``target``'s labs), else raise."""
    from mlflowk8s.targets import check_name

    if key == TARGET:
        return check_name(value, TARGET)
    check = _checks(target or _target_of({})).get(key)
    if check is not None:
        check(value)
    return value


@dataclass
class Settings:
    """Settings read from a lab's ``.env``; ``values`` keeps every key, known or not."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.values.get(key) or None

    def require(self, *keys: str) -> dict[str, str]:
        """Return the given settings, or one error naming every missing one."""
        missing = [key for key in keys if not self.get(key)]
        if missing:
            raise UsageError(
                f"missing settings in {self.path}: {', '.join(missing)} "
                "(run `mlflowk8s init` to set them)"
            )
        return {key: self.values[key] for key in keys}

    def file_path(self, key: str) -> Path | None:
        """A setting naming a file: ``~`` expanded, relative paths from the lab folder."""
        value = self.get(key)
        if not value:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.path.parent / path

    @property
    def target(self) -> str:
        """The lab's target (``MLFLOWK8S_TARGET``, else the default one)."""
        return _target_of(self.values)


def _line_of(binding: Binding) -> int:
    """The line of the binding's key: python-dotenv counts the blank lines before it."""
    original = binding.original
    blank = len(original.string) - len(original.string.lstrip("\r\n"))
    return int(original.line) + original.string[:blank].count("\n")


def _parse(path: Path, text: str) -> dict[str, str]:
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and not _KEY_RE.fullmatch(binding.key)):
            raise ConfigFileError(path, "not a KEY=value line", line=_line_of(binding))
        if binding.key is not None:
            if binding.value is None:
                raise ConfigFileError(path, "not a KEY=value line", line=_line_of(binding))
            if binding.key in values:
                # python-dotenv would keep the last one silently; `init` rewrites the first.
                raise ConfigFileError(path, f"{binding.key} is set twice", line=_line_of(binding))
            values[binding.key] = binding.value
            lines[binding.key] = _line_of(binding)
    # The target decides which keys it knows: read it first, then check the rest in order.
    try:
        checks = _checks(_target_of(values))
    except UsageError as exc:
        raise ConfigFileError(path, str(exc), line=lines.get(TARGET)) from exc
    for key, value in values.items():
        try:
            if key in checks:
                checks[key](value)
        except UsageError as exc:
            raise ConfigFileError(path, str(exc), line=lines[key]) from exc
    return values


def load_settings(lab_dir: Path) -> Settings:
    """Read ``.env`` from the lab folder; a missing file gives empty settings."""
    path = lab_dir / ENV_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, f"cannot be read ({exc.__class__.__name__})") from exc
    return Settings(path=path, values=_parse(path, text))


def _quote(value: str) -> str:
    if value and re.fullmatch(r"[A-Za-z0-9_./:@,+-]+", value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_env(existing_text: str, updates: Mapping[str, str]) -> str:
    """Return ``existing_text`` with ``updates`` applied in place (new keys appended).

    Comments, blank lines, order and keys the tool does not know survive unchanged.
    """
    from dotenv.parser import parse_stream

    pending = dict(updates)
    out: list[str] = []
    for binding in parse_stream(io.StringIO(existing_text)):
        line = binding.original.string
        if binding.key is not None and binding.key in pending:
            line = f"{binding.key}={_quote(pending.pop(binding.key))}\n"
        elif line and not line.endswith("\n"):
            line += "\n"
        out.append(line)
    out.extend(f"{key}={_quote(value)}\n" for key, value in pending.items())
    return "".join(out)


def save_settings(settings: Settings, updates: Mapping[str, str]) -> bool:
    """Apply ``updates`` to the ``.env`` file; call under the lab lock (``lab.locks``).

    Returns whether the file changed.
    """
    target = updates.get(TARGET) or settings.target
    for key, value in updates.items():
        validate_setting(key, value, target)
    try:
        existing = settings.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    changed = write_atomic(settings.path, render_env(existing, updates), mode=0o600)
    settings.values.update(updates)
    return changed
