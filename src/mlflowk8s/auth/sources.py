"""Which credentials mint ID tokens here, in this order:

1. ``GOOGLE_APPLICATION_CREDENTIALS``: a service-account key (or an
   ``impersonated_service_account`` file from gcloud) minting ID tokens for the IAP
   audience. Explicit configuration wins, and a broken file is an error, not a fall-through.
2. The stored ``mlflowk8s login``: a refresh token of the lab's desktop OAuth client; the
   token endpoint returns an ID token whose audience is that client id, which IAP accepts
   because the client is allow-listed in the IAP settings.
3. The metadata server (GKE with Workload Identity, GCE, Cloud Run): ID tokens for the IAP
   audience, as the workload's service account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflowk8s.auth.stored_login import StoredLogin, credentials_path, load_login
from mlflowk8s.auth.token_endpoint import post_token_endpoint
from mlflowk8s.auth.tokens import IDToken, TokenSource
from mlflowk8s.errors import CredentialsError, OperationError, UsageError

ENV_AUDIENCE = "MLFLOWK8S_IAP_AUDIENCE"
ENV_GOOGLE_CREDENTIALS = "GOOGLE_APPLICATION_CREDENTIALS"

NO_CREDENTIALS_HELP = (
    "no Google credentials for IAP: run `mlflowk8s login` (people), or set "
    f"{ENV_GOOGLE_CREDENTIALS} to a service-account key file (jobs off Google Cloud); "
    "jobs on GKE/GCE use their service account through the metadata server"
)


class RefreshTokenSource:
    """ID tokens for a person, from the refresh token ``mlflowk8s login`` stored."""

    def __init__(self, login: StoredLogin, path: Path) -> None:
        self.login = login
        self.path = path

    @property
    def description(self) -> str:
        who = self.login.email or "unknown account"
        return f"login {who} ({self.path})"

    def fetch(self) -> IDToken:
        body = post_token_endpoint(
            self.login.token_uri,
            {
                "grant_type": "refresh_token",
                "client_id": self.login.client_id,
                "client_secret": self.login.client_secret,
                "refresh_token": self.login.refresh_token,
            },
        )
        value = body.get("id_token")
        if not isinstance(value, str):
            raise CredentialsError(
                "the token endpoint returned no ID token: the stored login lacks the 'openid' "
                "scope; run `mlflowk8s login` again"
            )
        return IDToken.from_jwt(value)


class GoogleAuthSource:
    """ID tokens from google-auth credentials (service-account key, metadata server,
    impersonation), which know how to mint a token for ``audience``."""

    def __init__(self, credentials: Any, description: str) -> None:
        self._credentials = credentials
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    def fetch(self) -> IDToken:
        import google.auth.exceptions
        from google.auth.transport.requests import Request

        try:
            self._credentials.refresh(Request())
        except google.auth.exceptions.RefreshError as exc:
            raise CredentialsError(f"{self._description}: Google refused a token: {exc}") from exc
        except google.auth.exceptions.TransportError as exc:
            raise OperationError(f"{self._description}: cannot reach Google: {exc}") from exc
        token = self._credentials.token
        if not isinstance(token, str):
            raise CredentialsError(f"{self._description}: no ID token was returned")
        return IDToken.from_jwt(token)


def _need_audience(audience: str | None, what: str) -> str:
    if not audience:
        raise UsageError(
            f"{what} needs the IAP audience (the IAP OAuth client id): set {ENV_AUDIENCE} "
            "or pass --audience (`mlflowk8s env NAME` prints it)"
        )
    return audience


def _from_key_file(path_text: str, audience: str | None) -> TokenSource:
    import google.auth.exceptions
    from google.oauth2 import id_token

    path = Path(path_text)
    if not path.is_file():
        raise CredentialsError(
            f"{ENV_GOOGLE_CREDENTIALS}={path_text} does not exist: fix or unset it "
            "(people: unset it and run `mlflowk8s login`)"
        )
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("type")
    except (OSError, ValueError, AttributeError) as exc:
        raise CredentialsError(f"{ENV_GOOGLE_CREDENTIALS}={path_text} is not a key file") from exc
    if kind not in ("service_account", "impersonated_service_account"):
        raise CredentialsError(
            f"{ENV_GOOGLE_CREDENTIALS}={path_text} holds {kind!r} credentials, which cannot "
            "mint ID tokens for IAP: use a service-account key, or unset it and run "
            "`mlflowk8s login`"
        )
    target = _need_audience(audience, "a service-account key")
    try:
        credentials = id_token.fetch_id_token_credentials(target)  # type: ignore[no-untyped-call]
    except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
        raise CredentialsError(f"{ENV_GOOGLE_CREDENTIALS}={path_text}: {exc}") from exc
    email = getattr(credentials, "service_account_email", None) or kind
    return GoogleAuthSource(credentials, f"{kind.replace('_', ' ')} {email} ({path_text})")


def _from_metadata_server(audience: str | None) -> TokenSource | None:
    import google.auth.exceptions
    from google.auth import compute_engine
    from google.auth.compute_engine import _metadata
    from google.auth.transport.requests import Request

    request = Request()
    try:
        if not _metadata.ping(request):  # type: ignore[no-untyped-call]
            return None
    except google.auth.exceptions.TransportError:
        return None
    target = _need_audience(audience, "the metadata server")
    try:
        credentials = compute_engine.IDTokenCredentials(  # type: ignore[no-untyped-call]
            request, target, use_metadata_identity_endpoint=True
        )
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CredentialsError(
            f"the metadata server has no service account for this workload ({exc}): "
            "on GKE, enable Workload Identity for the pod's Kubernetes service account"
        ) from exc
    email = getattr(credentials, "service_account_email", None) or "default service account"
    return GoogleAuthSource(credentials, f"metadata server {email}")


def find_source(audience: str | None, environ: Mapping[str, str] | None = None) -> TokenSource:
    """The credentials to use here, in the order of the module docstring."""
    env = os.environ if environ is None else environ
    key_file = env.get(ENV_GOOGLE_CREDENTIALS)
    if key_file:
        return _from_key_file(key_file, audience)
    path = credentials_path(env)
    login = load_login(path)
    if login is not None:
        return RefreshTokenSource(login, path)
    source = _from_metadata_server(audience)
    if source is not None:
        return source
    raise CredentialsError(NO_CREDENTIALS_HELP)
