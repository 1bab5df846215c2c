"""The researchers' desktop OAuth client of a Google lab, read as `login` reads it."""

from __future__ import annotations

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
