"""Google-signed ID tokens for Identity-Aware Proxy: who the researcher or the job is.

IAP must see a person or a job's own service account (DESIGN.md, "Researchers' identity"),
so tokens come from, in this order:

1. ``GOOGLE_APPLICATION_CREDENTIALS``: a service-account key (or an
   ``impersonated_service_account`` file from gcloud) minting ID tokens for the IAP
   audience. Explicit configuration wins, and a broken file is an error, not a fall-through.
2. The stored ``mlflowk8s login``: a refresh token of the lab's desktop OAuth client; the
   token endpoint returns an ID token whose audience is that client id, which IAP accepts
   because the client is allow-listed in the IAP settings.
3. The metadata server (GKE with Workload Identity, GCE, Cloud Run): ID tokens for the IAP
   audience, as the workload's service account.

Tokens live one hour in production and seconds in the tests; :class:`CachedToken` hands
out the current one and refreshes it before it expires, one refresh at a time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from mlflowk8s.errors import CredentialsError, OperationError, UsageError

ENV_AUDIENCE = "MLFLOWK8S_IAP_AUDIENCE"
ENV_HEADER = "MLFLOWK8S_IAP_HEADER"
ENV_CREDENTIALS_FILE = "MLFLOWK8S_CREDENTIALS_FILE"
ENV_DOMAIN = "MLFLOW_DOMAIN"
ENV_GOOGLE_CREDENTIALS = "GOOGLE_APPLICATION_CREDENTIALS"

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
LOGIN_SCOPES = ("openid", "email")

HEADERS = ("Proxy-Authorization", "Authorization")
DEFAULT_HEADER = "Proxy-Authorization"

# Refresh this long before expiry: five minutes for Google's one-hour tokens (MLflow retries
# a failed request with the same headers for about four minutes by default), a quarter
# of the lifetime for short ones (the tests' tokens live seconds).
MAX_REFRESH_MARGIN_SECONDS = 300.0
REFRESH_MARGIN_FRACTION = 0.25
# After "no credentials", look again only this much later (not on every MLflow request).
NO_CREDENTIALS_RETRY_SECONDS = 10.0
HTTP_TIMEOUT_SECONDS = 30.0

NO_CREDENTIALS_HELP = (
    "no Google credentials for IAP: run `mlflowk8s login` (people), or set "
    f"{ENV_GOOGLE_CREDENTIALS} to a service-account key file (jobs off Google Cloud); "
    "jobs on GKE/GCE use their service account through the metadata server"
)


# --- where the login is stored ---------------------------------------------------------


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
class DesktopClient:
    """The lab's desktop ("installed app") OAuth client. Its secret is not confidential
    (Google says so for desktop clients), but we still never print it."""

    client_id: str
    client_secret: str
    auth_uri: str = GOOGLE_AUTH_URI
    token_uri: str = GOOGLE_TOKEN_URI

    def __repr__(self) -> str:
        return f"DesktopClient(client_id={self.client_id!r}, token_uri={self.token_uri!r})"


def load_client_file(path: Path) -> DesktopClient:
    """Read a client JSON downloaded from the console (``{"installed": {...}}``)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable OAuth client JSON ({exc})") from exc
    section = info.get("installed") if isinstance(info, dict) else None
    if not isinstance(section, dict):
        kind = ", ".join(info) if isinstance(info, dict) else type(info).__name__
        raise UsageError(
            f"{path}: not a desktop OAuth client (found {kind}); create a client of type "
            "'Desktop app' and download its JSON"
        )
    try:
        return DesktopClient(
            client_id=str(section["client_id"]),
            client_secret=str(section["client_secret"]),
            auth_uri=str(section.get("auth_uri") or GOOGLE_AUTH_URI),
            token_uri=str(section.get("token_uri") or GOOGLE_TOKEN_URI),
        )
    except KeyError as exc:
        raise UsageError(f"{path}: the client JSON has no {exc.args[0]}") from exc


@dataclass(frozen=True)
class StoredLogin:
    """What ``mlflowk8s login`` keeps (mode 0600): enough to mint ID tokens for a year."""

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


# --- ID tokens -------------------------------------------------------------------------


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (IAP verifies; we only read expiry and email)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise CredentialsError("the token endpoint returned something that is not a JWT") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        raise CredentialsError("the token endpoint returned a JWT without an expiry")
    return claims


@dataclass(frozen=True)
class IDToken:
    value: str
    expiry: float  # epoch seconds
    issued_at: float
    audience: str | None
    email: str | None

    @classmethod
    def from_jwt(cls, value: str) -> IDToken:
        claims = decode_claims(value)
        expiry = float(claims["exp"])
        aud = claims.get("aud")
        return cls(
            value=value,
            expiry=expiry,
            issued_at=float(claims.get("iat", expiry - 3600)),
            audience=aud if isinstance(aud, str) else None,
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        )

    @property
    def lifetime(self) -> float:
        return max(self.expiry - self.issued_at, 0.0)

    def __repr__(self) -> str:
        return f"IDToken(email={self.email!r}, audience={self.audience!r}, expiry={self.expiry})"


class TokenSource(Protocol):
    """Something that mints a fresh ID token on each call."""

    @property
    def description(self) -> str: ...

    def fetch(self) -> IDToken: ...


def _post_token_endpoint(token_uri: str, data: Mapping[str, str]) -> dict[str, Any]:
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
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise CredentialsError(f"{message}: run `mlflowk8s login` again")
        raise OperationError(message)
    return body


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
        body = _post_token_endpoint(
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


def refresh_margin(lifetime: float) -> float:
    return min(MAX_REFRESH_MARGIN_SECONDS, lifetime * REFRESH_MARGIN_FRACTION)


class CachedToken:
    """The current token of one source; refreshed before it expires, thread-safe.

    When a refresh fails while the current token is still valid, the current token is
    handed out and the refresh is tried again on the next call: a blip at the token
    endpoint must not fail a training run.
    """

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self._clock = clock
        self._lock = threading.Lock()
        self._token: IDToken | None = None
        self._refresh_at = 0.0
        self.refreshes = 0

    def get(self) -> IDToken:
        with self._lock:
            now = self._clock()
            if self._token is not None and now < self._refresh_at:
                return self._token
            try:
                token = self.source.fetch()
            except OperationError:
                if self._token is not None and now < self._token.expiry - 1.0:
                    return self._token
                raise
            self._token = token
            self._refresh_at = token.expiry - refresh_margin(token.lifetime)
            self.refreshes += 1
            return token


class TokenProvider:
    """Process-wide tokens per audience, for the MLflow plugin (one source lookup per
    audience; "no credentials" is remembered for a few seconds)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._caches: dict[str | None, CachedToken] = {}
        self._failures: dict[str | None, tuple[float, CredentialsError | UsageError]] = {}

    def cache(self, audience: str | None) -> CachedToken:
        with self._lock:
            cached = self._caches.get(audience)
            if cached is not None:
                return cached
            failure = self._failures.get(audience)
            if failure is not None and self._clock() < failure[0]:
                raise failure[1]
            try:
                source = find_source(audience)
            except (CredentialsError, UsageError) as exc:
                self._failures[audience] = (self._clock() + NO_CREDENTIALS_RETRY_SECONDS, exc)
                raise
            cached = self._caches[audience] = CachedToken(source, self._clock)
            return cached

    def token(self, audience: str | None) -> str:
        cached = self.cache(audience)
        try:
            return cached.get().value
        except CredentialsError:
            # Revoked or replaced (a new `mlflowk8s login` meanwhile): look again next time.
            with self._lock:
                if self._caches.get(audience) is cached:
                    del self._caches[audience]
            raise


_provider = TokenProvider()


def _reset_after_fork() -> None:
    # A forked child (multiprocessing, DataLoader workers) must not inherit a held lock.
    global _provider
    _provider = TokenProvider()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def provider() -> TokenProvider:
    return _provider


# --- which requests get a token --------------------------------------------------------


@dataclass(frozen=True)
class PluginConfig:
    active: bool
    audience: str | None
    header: str


def plugin_config(tracking_uri: str | None, environ: Mapping[str, str]) -> PluginConfig:
    """Whether requests to ``tracking_uri`` need an IAP token, for which audience, in
    which header.

    Active when the URI's host is ``MLFLOW_DOMAIN``, or when ``MLFLOWK8S_IAP_AUDIENCE`` is
    set and ``MLFLOW_DOMAIN`` does not name another host (so a lab token never goes to a
    different server). Only https URIs, or http to this machine: a token never crosses a
    network in clear; ``file:``, ``sqlite:``, ``databricks`` are never touched.
    """
    audience = environ.get(ENV_AUDIENCE) or None
    domain = (environ.get(ENV_DOMAIN) or "").strip().lower() or None
    header = (environ.get(ENV_HEADER) or DEFAULT_HEADER).strip()
    matches = [name for name in HEADERS if name.lower() == header.lower()]
    if not matches:
        raise UsageError(f"{ENV_HEADER}={header!r} is not one of: {', '.join(HEADERS)}")
    parts = urlsplit(tracking_uri or "")
    host = (parts.hostname or "").lower()
    active = False
    if host and sends_tokens_safely(tracking_uri or ""):
        active = host == domain if domain else audience is not None
    return PluginConfig(active=active, audience=audience, header=matches[0])


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def sends_tokens_safely(url: str) -> bool:
    """https, or http to this machine (an ssh tunnel, a local proxy): a token is a key."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS)


# --- mlflowk8s login: the installed-app flow with a loopback redirect --------------------


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    redirect_uri: str
    state: str
    code_verifier: str


def authorization_request(client: DesktopClient, redirect_uri: str) -> AuthorizationRequest:
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


def exchange_code(client: DesktopClient, request: AuthorizationRequest, code: str) -> StoredLogin:
    body = _post_token_endpoint(
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
    client: DesktopClient,
    *,
    announce: Callable[[str], None],
    open_browser: bool = True,
    port: int = 0,
    timeout: float = 300.0,
) -> StoredLogin:
    """The installed-app flow: the browser signs in, Google redirects to a one-shot HTTP
    server on 127.0.0.1 with the code, and the code (with PKCE) becomes a refresh token."""
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
