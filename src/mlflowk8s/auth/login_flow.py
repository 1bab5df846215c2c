"""``mlflowk8s login``: the installed-app OAuth flow with a loopback redirect and PKCE.

The browser signs in, Google redirects to a one-shot HTTP server on 127.0.0.1 with the
code, and the code becomes a refresh token of the lab's desktop client.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from mlflowk8s.auth.stored_login import StoredLogin
from mlflowk8s.auth.token_endpoint import post_token_endpoint
from mlflowk8s.auth.tokens import IDToken
from mlflowk8s.errors import CredentialsError, OperationError
from mlflowk8s.oauth_client import OAuthClient

LOGIN_SCOPES = ("openid", "email")


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    redirect_uri: str
    state: str
    code_verifier: str


def authorization_request(client: OAuthClient, redirect_uri: str) -> AuthorizationRequest:
    verifier = secrets.token_urlsafe(64)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(LOGIN_SCOPES),
            "access_type": "offline",
            "prompt": "consent",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in client.auth_uri else "?"
    return AuthorizationRequest(
        f"{client.auth_uri}{separator}{query}", redirect_uri, state, verifier
    )


def exchange_code(client: OAuthClient, request: AuthorizationRequest, code: str) -> StoredLogin:
    body = post_token_endpoint(
        client.token_uri,
        {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        },
    )
    refresh_token = body.get("refresh_token")
    if not isinstance(refresh_token, str):
        raise CredentialsError(
            "Google returned no refresh token: remove mlflowk8s from "
            "https://myaccount.google.com/permissions and run `mlflowk8s login` again"
        )
    email = None
    if isinstance(body.get("id_token"), str):
        email = IDToken.from_jwt(body["id_token"]).email
    return StoredLogin(
        client_id=client.client_id,
        client_secret=client.client_secret,
        refresh_token=refresh_token,
        token_uri=client.token_uri,
        email=email,
    )


_DONE_PAGE = (
    b"<!doctype html><title>mlflowk8s</title><p>mlflowk8s: signed in. "
    b"You can close this tab and go back to the terminal.</p>"
)


def run_login(
    client: OAuthClient,
    *,
    announce: Callable[[str], None],
    open_browser: bool = True,
    port: int = 0,
    timeout: float = 300.0,
) -> StoredLogin:
    """Run the flow: ``announce`` shows the sign-in address; returns the new login."""
    import http.server
    from urllib.parse import parse_qs

    result: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if "code" not in params and "error" not in params:
                self.send_error(404)
                return
            result.update(params)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(_DONE_PAGE)))
            self.end_headers()
            self.wfile.write(_DONE_PAGE)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise OperationError(f"cannot listen on 127.0.0.1:{port} for the sign-in: {exc}") from exc
    with server:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
        request = authorization_request(client, redirect_uri)
        announce(request.url)
        if open_browser:
            import webbrowser

            webbrowser.open(request.url)
        deadline = time.monotonic() + timeout
        while not result:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperationError(
                    f"no sign-in within {timeout:.0f} s: run `mlflowk8s login` again"
                )
            server.timeout = min(remaining, 1.0)
            server.handle_request()
    if "error" in result:
        raise CredentialsError(f"sign-in failed: {result['error']}")
    if not secrets.compare_digest(result.get("state", ""), request.state):
        raise CredentialsError("sign-in answer does not match this login (state): try again")
    return exchange_code(client, request, result["code"])
