"""Where ``mlflowk8s login`` keeps its refresh token (mode 0600, written atomically)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from mlflowk8s.errors import CredentialsError
from mlflowk8s.oauth_client import GOOGLE_TOKEN_URI

ENV_CREDENTIALS_FILE = "MLFLOWK8S_CREDENTIALS_FILE"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's mlflowk8s config folder (XDG: ``~/.config/mlflowk8s``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mlflowk8s"


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``mlflowk8s login`` stores its refresh token."""
    env = os.environ if environ is None else environ
    override = env.get(ENV_CREDENTIALS_FILE)
    return Path(override) if override else config_dir(env) / "credentials.json"


@dataclass(frozen=True)
class StoredLogin:
    """What ``mlflowk8s login`` keeps: enough to mint ID tokens for a year."""

    client_id: str
    client_secret: str
    refresh_token: str
    token_uri: str = GOOGLE_TOKEN_URI
    email: str | None = None

    def __repr__(self) -> str:
        return f"StoredLogin(email={self.email!r}, client_id={self.client_id!r})"

    def to_json(self) -> str:
        return json.dumps({"type": "mlflowk8s_login", **asdict(self)}, indent=2) + "\n"


def save_login(login: StoredLogin, path: Path | None = None) -> Path:
    """Store the login atomically, readable by the user only."""
    from mlflowk8s.fileio import write_atomic

    target = path or credentials_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(target, login.to_json(), mode=0o600)
    return target


def load_login(path: Path | None = None) -> StoredLogin | None:
    """The stored login, or None when there is none."""
    source = path or credentials_path()
    try:
        info = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CredentialsError(
            f"{source}: stored login cannot be read ({exc.__class__.__name__}): "
            "run `mlflowk8s login` again"
        ) from exc
    try:
        return StoredLogin(
            client_id=str(info["client_id"]),
            client_secret=str(info["client_secret"]),
            refresh_token=str(info["refresh_token"]),
            token_uri=str(info.get("token_uri") or GOOGLE_TOKEN_URI),
            email=info.get("email"),
        )
    except (KeyError, TypeError) as exc:
        raise CredentialsError(
            f"{source}: stored login is incomplete: run `mlflowk8s login` again"
        ) from exc
