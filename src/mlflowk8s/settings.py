"""The lab's settings, kept in ``.env`` (python-dotenv syntax).

The key names are the ones admins of the original setup already know. Keys the tool does
not know are kept untouched on every rewrite.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.errors import ConfigFileError, UsageError
from mlflowk8s.fileio import write_atomic

if TYPE_CHECKING:
    from dotenv.parser import Binding

ENV_FILE = ".env"

TARGET = "MLFLOWK8S_TARGET"
PROJECT = "GCP_PROJECT"
REGION = "GCP_REGION"
DOMAIN = "MLFLOW_DOMAIN"
STATE_BUCKET = "TF_GCS_BUCKET"
ARTIFACT_BUCKET = "MLFLOW_GCS_BUCKET"
OAUTH_CLIENT_SECRET_FILE = "IAP_OAUTH_CLIENT_SECRET_FILE"
MLFLOW_IMAGE = "MLFLOW_IMAGE"
# The desktop OAuth client researchers sign in with (`mlflowk8s login`); IAP must accept
# its tokens, so its id joins the programmatic clients in the platform inputs.
DESKTOP_CLIENT_ID = "MLFLOWK8S_DESKTOP_CLIENT_ID"
DESKTOP_CLIENT_SECRET = "MLFLOWK8S_DESKTOP_CLIENT_SECRET"
DESKTOP_CLIENT_FILE = "MLFLOWK8S_DESKTOP_CLIENT_FILE"
# The IAP audience jobs' service accounts request tokens for.
IAP_AUDIENCE = "MLFLOWK8S_IAP_AUDIENCE"

TARGETS = ("gcp", "local")
# Settings every GCP lab needs before anything can be rendered or created.
GCP_REQUIRED = (PROJECT, REGION, DOMAIN, STATE_BUCKET, ARTIFACT_BUCKET)

# Optional platform knobs: rendered into tfvars only when set, so Terraform's variable
# defaults stay the one place defaults live. Value: (tfvars name, kind).
OPTIONAL_PLATFORM_SETTINGS: dict[str, tuple[str, str]] = {
    "IAP_PROGRAMMATIC_CLIENT_IDS": ("iap_programmatic_client_ids", "list"),
    "DNS_MANAGED_ZONE": ("dns_managed_zone", "str"),
    "GKE_MACHINE_TYPE": ("gke_machine_type", "str"),
    "GKE_SPOT": ("gke_spot", "bool"),
    "GKE_MIN_NODES": ("gke_min_nodes", "int"),
    "GKE_MAX_NODES": ("gke_max_nodes", "int"),
    "CLOUDSQL_TIER": ("cloudsql_tier", "str"),
}

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BOOL_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def validate_setting(key: str, value: str) -> str:
    """Return ``value`` if it is valid for ``key``, else raise :class:`UsageError`."""
    checks: dict[str, tuple[re.Pattern[str], str]] = {
        PROJECT: (_PROJECT_RE, "a Google Cloud project id (6-30 chars: a-z, 0-9, -)"),
        REGION: (_REGION_RE, "a Google Cloud region such as europe-west1"),
        DOMAIN: (_DOMAIN_RE, "a lower-case host name such as mlflow.lab.org"),
        STATE_BUCKET: (_BUCKET_RE, "a bucket name (3-63 chars: a-z, 0-9, -, _, .)"),
        ARTIFACT_BUCKET: (_BUCKET_RE, "a bucket name (3-63 chars: a-z, 0-9, -, _, .)"),
    }
    if key == TARGET and value not in TARGETS:
        raise UsageError(f"{TARGET}={value!r} is not one of: {', '.join(TARGETS)}")
    if key in checks:
        pattern, what = checks[key]
        if not pattern.match(value):
            raise UsageError(f"{key}={value!r} is not {what}")
    if key in OPTIONAL_PLATFORM_SETTINGS:
        _convert(key, value)
    return value


def _convert(key: str, value: str) -> object:
    kind = OPTIONAL_PLATFORM_SETTINGS[key][1]
    if kind == "bool":
        if value.lower() not in _BOOL_WORDS:
            raise UsageError(f"{key}={value!r} is not true or false")
        return _BOOL_WORDS[value.lower()]
    if kind == "int":
        if not value.isdigit():
            raise UsageError(f"{key}={value!r} is not a whole number")
        return int(value)
    if kind == "list":
        return [item.strip() for item in value.split(",") if item.strip()]
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
        return self.get(TARGET) or "gcp"

    def optional_platform_vars(self) -> dict[str, object]:
        """The optional platform knobs the admin set, as typed tfvars."""
        return {
            name: _convert(key, self.values[key])
            for key, (name, _) in OPTIONAL_PLATFORM_SETTINGS.items()
            if self.get(key)
        }


def _line_of(binding: Binding) -> int:
    """The line of the binding's key: python-dotenv counts the blank lines before it."""
    original = binding.original
    blank = len(original.string) - len(original.string.lstrip("\r\n"))
    return int(original.line) + original.string[:blank].count("\n")


def _parse(path: Path, text: str) -> dict[str, str]:
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and not _KEY_RE.match(binding.key)):
            raise ConfigFileError(path, "not a KEY=value line", line=_line_of(binding))
        if binding.key is not None:
            if binding.value is None:
                raise ConfigFileError(path, "not a KEY=value line", line=_line_of(binding))
            if binding.key in values:
                # python-dotenv would keep the last one silently; `init` rewrites the first.
                raise ConfigFileError(path, f"{binding.key} is set twice", line=_line_of(binding))
            value = binding.value
            try:
                validate_setting(binding.key, value)
            except UsageError as exc:
                raise ConfigFileError(path, str(exc), line=_line_of(binding)) from exc
            values[binding.key] = value
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
    """Apply ``updates`` to the ``.env`` file; call under :func:`fileio.lab_lock`.

    Returns whether the file changed.
    """
    for key, value in updates.items():
        validate_setting(key, value)
    try:
        existing = settings.path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    changed = write_atomic(settings.path, render_env(existing, updates), mode=0o600)
    settings.values.update(updates)
    return changed
