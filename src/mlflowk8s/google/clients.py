"""The OAuth clients of a Google lab: the researchers' desktop client, read as
`login` reads it, and the clients IAP must accept programmatic tokens of."""

from __future__ import annotations

from mlflowk8s.google.settings import IAP_PROGRAMMATIC_CLIENT_IDS, client_ids
from mlflowk8s.lab.settings import DESKTOP_CLIENT_FILE, DESKTOP_CLIENT_ID, Settings
from mlflowk8s.oauth_client import ClientRole, read_oauth_client


def desktop_client_id(settings: Settings) -> str | None:
    """The researchers' desktop OAuth client id: IAP must allow-list it for their tokens.

    Read as `login` reads it: a web client here is refused, not allow-listed.
    """
    path = settings.file_path(DESKTOP_CLIENT_FILE)
    if path:
        return read_oauth_client(path, ClientRole.DESKTOP).client_id
    return settings.get(DESKTOP_CLIENT_ID)


def programmatic_client_ids(settings: Settings) -> list[str]:
    """The OAuth clients IAP must accept tokens of: the desktop client and any listed."""
    listed = client_ids(settings.get(IAP_PROGRAMMATIC_CLIENT_IDS) or "")
    desktop_client = desktop_client_id(settings)
    return sorted({*listed, *([desktop_client] if desktop_client else [])})
