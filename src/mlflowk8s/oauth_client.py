"""The one reader of OAuth client JSON files downloaded from the Google Cloud console.

A lab has two kinds of client, and each file is judged the same way wherever it is read
(``init``, ``render``/``plan``, ``login``, ``env``):

* the **IAP client** (``IAP_OAUTH_CLIENT_SECRET_FILE``): IAP's own sign-in for browsers; a
  "Web application" client, whose id is also the audience jobs request tokens for. Either
  section is accepted, as before.
* the **desktop client** (``MLFLOWK8S_DESKTOP_CLIENT_FILE``, ``login --client-file``): what
  researchers sign in with. Only an "installed" ("Desktop app") client can complete
  ``login``'s loopback flow, and IAP allow-lists this client for programmatic access, so a
  web client given here is refused everywhere, not allow-listed by one command and
  refused by the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mlflowk8s.errors import ConfigFileError

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

WEB = "web"
INSTALLED = "installed"


class ClientRole(Enum):
    """What the lab uses a client for, which decides the client types it accepts."""

    IAP = (WEB, INSTALLED)
    DESKTOP = (INSTALLED,)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.value)


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client; its secret never appears in a repr (a desktop client's secret is
    not confidential, Google says, but we still never print it)."""

    client_id: str
    client_secret: str = field(repr=False)
    kind: str = INSTALLED
    auth_uri: str = GOOGLE_AUTH_URI
    token_uri: str = GOOGLE_TOKEN_URI


NOT_A_CLIENT = "is not an OAuth client JSON downloaded from the Google Cloud console"
CONSOLE_CLIENTS = "Google Auth Platform → Clients"


def _how_to_get(role: ClientRole) -> str:
    if role is ClientRole.DESKTOP:
        return (f"create a client of type 'Desktop app' in the console ({CONSOLE_CLIENTS}) "
                "and download its JSON there")  # fmt: skip
    return (f"create the IAP client of type 'Web application' in the console ({CONSOLE_CLIENTS};"
            " README, step 2) and download its JSON there, or fix the path")  # fmt: skip


def _wrong_kind(path: Path, found: str, role: ClientRole) -> ConfigFileError:
    if role is ClientRole.DESKTOP:
        return ConfigFileError(
            path,
            f"is not a desktop OAuth client (found {found}): `mlflowk8s login` needs a client "
            "of type 'Desktop app' (its loopback sign-in), and that is the client IAP "
            "allow-lists for researchers; create one in the console and download its JSON",
        )
    return ConfigFileError(
        path, f"is not a web or desktop OAuth client (found {found or 'nothing'})"
    )


def read_oauth_client(path: Path, role: ClientRole) -> OAuthClient:
    """Read a client JSON (``{"web": {...}}`` or ``{"installed": {...}}``) for ``role``.

    Errors name the file, never its content: it holds the client secret.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileError(path, f"does not exist: {_how_to_get(role)}") from exc
    except IsADirectoryError as exc:
        raise ConfigFileError(path, f"is a folder, not a client JSON: {_how_to_get(role)}") from exc
    except PermissionError as exc:
        raise ConfigFileError(path, "cannot be read (permission denied): check its owner "
                              "and mode (chmod 600 for you)") from exc  # fmt: skip
    except OSError as exc:
        raise ConfigFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigFileError(path, NOT_A_CLIENT) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigFileError(path, NOT_A_CLIENT) from exc
    if not isinstance(data, dict):
        raise ConfigFileError(path, NOT_A_CLIENT)
    kind = next((name for name in role.kinds if isinstance(data.get(name), dict)), None)
    if kind is None:
        found = ", ".join(sorted(str(key) for key in data))
        raise _wrong_kind(path, found, role)
    section = data[kind]
    client_id = section.get("client_id")
    client_secret = section.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        raise ConfigFileError(path, f"has no client_id or client_secret in its {kind} section")
    if not client_id or not client_secret:
        raise ConfigFileError(path, "has an empty client_id or client_secret")
    return OAuthClient(
        client_id=client_id,
        client_secret=client_secret,
        kind=kind,
        auth_uri=str(section.get("auth_uri") or GOOGLE_AUTH_URI),
        token_uri=str(section.get("token_uri") or GOOGLE_TOKEN_URI),
    )
