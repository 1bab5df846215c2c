"""The one caller of Google's OAuth token endpoint (refresh and code exchange).

Errors say what to do next and never carry the request's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mlflowk8s.errors import CredentialsError, OperationError

HTTP_TIMEOUT_SECONDS = 30.0
# The answers that mean the stored login (or the client) is no good any more.
LOGIN_AGAIN_ERRORS = ("invalid_grant", "invalid_client", "unauthorized_client")


def post_token_endpoint(token_uri: str, data: Mapping[str, str]) -> dict[str, Any]:
    """POST a form to the token endpoint; its JSON answer, or an error naming the host."""
    import requests

    host = urlsplit(token_uri).netloc or token_uri
    try:
        response = requests.post(token_uri, data=dict(data), timeout=HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise OperationError(f"cannot reach the token endpoint {host}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200:
        error = str(body.get("error") or f"HTTP {response.status_code}")
        detail = body.get("error_description")
        message = f"token endpoint {host} refused: {error}" + (f" ({detail})" if detail else "")
        if error in LOGIN_AGAIN_ERRORS:
            raise CredentialsError(f"{message}: run `mlflowk8s login` again")
        raise OperationError(message)
    return body
