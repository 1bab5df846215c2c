"""Local stand-ins for Google's parts, so the real MLflow server and client run end to end.

* :class:`GoogleStandIn`: an OAuth token endpoint issuing RS256-signed ID tokens with a
  lifetime of seconds (for refresh tokens, service-account JWT assertions, and the
  installed-app code exchange of ``mlflowk8s login``), a consent page that redirects at
  once, and its JWKS.
* :class:`IAPStandIn`: a reverse proxy on 127.0.0.1 doing what IAP does for us: verify
  the bearer token (signature against the JWKS, audience, issuer, expiry) in
  ``Proxy-Authorization`` or ``Authorization``, 401 otherwise, 403 for someone not granted
  the tenant, and forward ``/<user>/...`` to that user's server. It counts what it saw.
* :func:`start_tenant`: the tenant's real tracking server, started with exactly the
  command :func:`mlflowk8s.server.launcher_command` returns for a ``LocalTarget``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import http.server
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mlflowk8s.server import LocalTarget, health_path, launcher_command
from tests.support.fakegcs import free_port

ISSUER = "https://accounts.google.com"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # aud of SA assertions
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailers", "transfer-encoding", "upgrade", "content-length",
}  # fmt: skip


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _reply(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


@dataclass
class Issued:
    email: str
    audience: str
    grant: str
    issued_at: float


class GoogleStandIn:
    """Token endpoint, consent page and JWKS of a pretend Google."""

    def __init__(self, lifetime: int) -> None:
        self.lifetime = lifetime
        self._key = _new_rsa_key()
        self.kid = secrets.token_hex(8)
        self._lock = threading.Lock()
        self.clients: dict[str, str] = {}  # desktop client id -> secret
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # token -> (client id, email)
        self.service_accounts: dict[str, Any] = {}  # email -> public key
        self._codes: dict[str, dict[str, str]] = {}
        self.consent_email: str | None = None  # who "signs in" on the consent page
        self.issued: list[Issued] = []
        self.access_tokens: dict[str, str] = {}  # access token -> service account
        self._server = _serve(self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    @property
    def auth_uri(self) -> str:
        return f"{self.url}/authorize"

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/certs"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- test setup ------------------------------------------------------------------

    def add_desktop_client(self, client_id: str) -> str:
        secret = f"GOCSPX-{secrets.token_urlsafe(18)}"
        self.clients[client_id] = secret
        return secret

    def client_file(self, client_id: str) -> dict[str, Any]:
        """The JSON the console lets the admin download for a desktop client."""
        return {
            "installed": {
                "client_id": client_id,
                "client_secret": self.clients[client_id],
                "auth_uri": self.auth_uri,
                "token_uri": self.token_uri,
                "redirect_uris": ["http://localhost"],
            }
        }

    def service_account_key(self, email: str) -> dict[str, Any]:
        """A service-account key file, as IAM would create it, pointing at this endpoint."""
        key = _new_rsa_key()
        self.service_accounts[email] = key.public_key()
        return {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": _pem(key),
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": self.auth_uri,
            "token_uri": self.token_uri,
        }

    def issued_to(self, email: str) -> list[Issued]:
        with self._lock:
            return [item for item in self.issued if item.email == email]

    # -- tokens ----------------------------------------------------------------------

    def id_token(self, email: str, audience: str, grant: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": audience,
            "azp": audience,
            "sub": hashlib.sha256(email.encode()).hexdigest()[:21],
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + self.lifetime,
        }
        with self._lock:
            self.issued.append(Issued(email, audience, grant, time.time()))
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            client_id = form.get("client_id", "")
            if self.clients.get(client_id) != form.get("client_secret"):
                return 401, {"error": "invalid_client"}
            entry = self.refresh_tokens.get(form.get("refresh_token", ""))
            if entry is None or entry[0] != client_id:
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            return 200, {
                "access_token": secrets.token_urlsafe(24),
                "expires_in": self.lifetime,
                "token_type": "Bearer",
                "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                "id_token": self.id_token(entry[1], client_id, grant),
            }
        if grant == JWT_BEARER:
            assertion = form.get("assertion", "")
            try:
                issuer = jwt.decode(assertion, options={"verify_signature": False})["iss"]
                claims = jwt.decode(
                    assertion,
                    self.service_accounts[issuer],
                    algorithms=["RS256"],
                    audience=GOOGLE_TOKEN_AUDIENCE,
                )
            except (KeyError, jwt.PyJWTError) as exc:
                return 400, {"error": "invalid_grant", "error_description": str(exc)}
            target = claims.get("target_audience")
            if not target:  # an OAuth access token (for Google APIs), not an ID token
                access = secrets.token_urlsafe(24)
                self.access_tokens[access] = issuer
                return 200, {"access_token": access, "expires_in": 3600, "token_type": "Bearer"}
            return 200, {"id_token": self.id_token(issuer, target, grant)}
        if grant == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None:
                return 400, {"error": "invalid_grant"}
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            client_id = form.get("client_id", "")
            if (
                client_id != code["client_id"]
                or self.clients.get(client_id) != form.get("client_secret")
                or form.get("redirect_uri") != code["redirect_uri"]
                or challenge != code["challenge"]
            ):
                return 400, {"error": "invalid_grant", "error_description": "mismatch"}
            refresh = f"1//{secrets.token_urlsafe(32)}"
            self.refresh_tokens[refresh] = (client_id, code["email"])
            return 200, {
                "access_token": secrets.token_urlsafe(24),
                "expires_in": self.lifetime,
                "refresh_token": refresh,
                "id_token": self.id_token(code["email"], client_id, grant),
            }
        return 400, {"error": "unsupported_grant_type"}

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """The consent screen: ``consent_email`` signs in and agrees at once."""
        if query.get("client_id") not in self.clients or self.consent_email is None:
            return 400, {}
        if query.get("code_challenge_method") != "S256" or "openid" not in query.get("scope", ""):
            return 400, {}
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "client_id": query["client_id"],
            "redirect_uri": query["redirect_uri"],
            "challenge": query["code_challenge"],
            "email": self.consent_email,
        }
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, {"Location": location}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        google = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = _read_body(self)
                if urlsplit(self.path).path != "/token":
                    _reply(self, 404, b"{}")
                    return
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                status, payload = google._token(form)
                _reply(self, status, json.dumps(payload).encode())

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/certs":
                    _reply(self, 200, json.dumps(google.jwks()).encode())
                elif parts.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    status, headers = google._authorize(query)
                    _reply(self, status, b"", "text/plain", headers)
                else:
                    _reply(self, 404, b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _normalized(target: str) -> str:
    """``target`` as a lenient proxy reads it: percent-decoded, ``;params`` dropped from
    segments, dot segments resolved, empty segments gone, the first segment lower-cased."""
    path, mark, query = target.partition("?")
    out: list[str] = []
    for segment in unquote(path).split("/"):
        segment = segment.split(";")[0]
        if segment == "..":
            if out:
                out.pop()
        elif segment not in ("", "."):
            out.append(segment)
    if out:
        out[0] = out[0].lower()
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing + mark + query


@dataclass
class ProxyStats:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # status, path, why
    tokens: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    headers: Counter[str] = field(default_factory=Counter)  # which header carried tokens
    bytes_up: int = 0

    def count(self, status: int) -> int:
        return self.statuses[status]


class IAPStandIn:
    """A reverse proxy that admits only valid Google ID tokens of the tenant's members."""

    def __init__(
        self,
        jwks_uri: str,
        audiences: list[str],
        backends: dict[str, int],
        access: dict[str, set[str]],
    ) -> None:
        self.audiences = audiences  # the IAP client id and the allow-listed desktop clients
        self.backends = backends  # user -> port of its mlflow server
        self.access = access  # user -> emails granted
        self._jwks = jwt.PyJWKClient(jwks_uri)
        self._lock = threading.Lock()
        self.stats = ProxyStats()
        # Faults a test switches on to show that `mlflowk8s verify` notices them:
        self.require_token = True  # False: no IAP at all, every request goes through
        self.check_members = True  # False: any valid token may reach any tenant
        # True: the member check reads the raw path and Host, the routing a decoded and
        # normalized one; a prefix or Host the check does not know is not checked.
        self.normalizes_differently = False
        self._server = _serve(self._handler())

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, user: str) -> str:
        return f"http://127.0.0.1:{self.port}/{user}/"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> dict[int, int]:
        with self._lock:
            return dict(self.stats.statuses)

    def _verify(self, headers: Any) -> tuple[str | None, str, str]:
        """(email, why, header): email None means 401; header is the one that carried
        the token (IAP consumes it; the other one goes on to the server untouched)."""
        for name in ("Proxy-Authorization", "Authorization"):
            value = headers.get(name, "")
            if value.startswith("Bearer "):
                token = value[len("Bearer ") :].strip()
                break
        else:
            return None, "Invalid IAP credentials: empty token", ""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audiences,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "aud", "iss", "email"]},
            )
        except jwt.PyJWTError as exc:
            return None, f"Invalid IAP credentials: {exc}", name
        email = str(claims["email"])
        with self._lock:
            self.stats.tokens[email].add(token)
            self.stats.headers[name] += 1
        return email, "", name

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _finish(self, status: int, why: str = "") -> None:
                with proxy._lock:
                    proxy.stats.requests += 1
                    proxy.stats.statuses[status] += 1
                    if why:
                        proxy.stats.rejected.append((status, self.path, why))

            def _handle(self) -> None:
                # Verdict on arrival, as IAP does: a token that expires while a large body
                # streams in is not a reason to reject the request.
                user = urlsplit(self.path).path.split("/")[1]
                checked, guarded = user, True
                path, host = self.path, self.headers.get("Host", "")
                if proxy.normalizes_differently:
                    # http.server already turns a leading "//" into "/": read the raw line.
                    raw = self.raw_requestline.split()[1].decode("latin-1")
                    path, host = _normalized(raw), host.replace(".:", ":").rstrip(".")
                    checked = raw.split("?")[0].split("/")[1]
                    guarded = checked in proxy.backends and self.headers.get("Host") == host
                    user = path.split("/")[1]
                port = proxy.backends.get(user)
                email, why, carrier = proxy._verify(self.headers)
                status = 0
                if port is None:
                    status, why = 404, "no such tenant"
                elif email is None and proxy.require_token:
                    status = 401
                elif (
                    proxy.require_token
                    and proxy.check_members
                    and guarded
                    and email not in proxy.access.get(checked, set())
                ):
                    status, why = 403, f"{email} may not access /{checked}/"
                body = _read_body(self)
                if status or port is None:
                    self._finish(status, why)
                    _reply(self, status, why.encode(), "text/plain")
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in HOP_BY_HOP and k.lower() != carrier.lower()
                }
                if proxy.normalizes_differently:
                    headers = {k: v for k, v in headers.items() if k.lower() != "host"}
                    headers["Host"] = host
                headers["X-Goog-Authenticated-User-Email"] = f"accounts.google.com:{email}"
                headers["X-Forwarded-For"] = self.client_address[0]
                headers["X-Forwarded-Proto"] = "http"
                headers["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    connection.request(self.command, path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                finally:
                    connection.close()
                with proxy._lock:
                    proxy.stats.bytes_up += len(body)
                self._finish(response.status)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- tenants: real mlflow servers ------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without anything that could reach real Google or
    configure MLflow, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW", "GOOGLE_", "GCE_", "CLOUDSDK_", "XDG_CONFIG"))
    }
    env.update(extra)
    return env


@dataclass
class Tenant:
    user: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def group_pids(self) -> list[int]:
        """Every live process in the server's process group (it is a session leader)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == self.process.pid and fields[0] != "Z":
                pids.append(int(entry.name))
        return pids

    def rss_bytes(self) -> int:
        """Resident memory summed over the server's process tree."""
        total = 0
        for pid in self.group_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def pss_bytes(self) -> int:
        """Proportional memory (shared pages counted once), close to what a pod's cgroup
        is charged; the RSS sum counts the libraries parent and worker share twice."""
        total = 0
        for pid in self.group_pids():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in rollup.splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        """Stop the whole process group (uvicorn serves from a child) and make sure of it."""
        for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.process.poll()
                if not self.group_pids():
                    break
                time.sleep(0.1)
            else:
                continue
            break
        self.process.wait(timeout=10)


def start_tenant(user: str, data_dir: Path, log_path: Path, timeout: float = 120) -> Tenant:
    """Run ``user``'s server exactly as the local target does (server.launcher_command)."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = launcher_command(user, LocalTarget(port=port, data_dir=data_dir))
    log = log_path.open("wb")
    process = subprocess.Popen(
        command.argv,
        env=clean_env(**command.env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tenant = Tenant(user, port, data_dir, process, log_path)
    health = f"http://127.0.0.1:{port}{health_path(user)}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tenant.stop()
            raise RuntimeError(f"mlflow server for {user} exited: {log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return tenant
        except OSError:
            time.sleep(0.2)
    tenant.stop()
    raise RuntimeError(f"mlflow server for {user} did not answer {health}: see {log_path}")


class MetadataStandIn:
    """The GCE/GKE metadata server's identity endpoint, for jobs' service accounts."""

    def __init__(self, google: GoogleStandIn, email: str) -> None:
        self.google = google
        self.email = email
        self._server = _serve(self._handler())

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """What google-auth reads (at import time) to find the metadata server."""
        return {"GCE_METADATA_HOST": self.host, "GCE_METADATA_IP": self.host}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        metadata = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                flavor = {"Metadata-Flavor": "Google"}
                if self.headers.get("Metadata-Flavor") != "Google":
                    _reply(self, 403, b"Missing Metadata-Flavor", "text/plain", flavor)
                    return
                base = "/computeMetadata/v1/instance/service-accounts/default"
                if parts.path == "/":
                    _reply(self, 200, b"computeMetadata/\n", "text/plain", flavor)
                elif parts.path in (base, base + "/"):
                    info = {"email": metadata.email, "aliases": ["default"], "scopes": []}
                    _reply(self, 200, json.dumps(info).encode(), "application/json", flavor)
                elif parts.path == base + "/identity" and query.get("audience"):
                    token = metadata.google.id_token(metadata.email, query["audience"], "gce")
                    _reply(self, 200, token.encode(), "text/plain", flavor)
                else:
                    _reply(self, 404, b"Not Found", "text/plain", flavor)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class _GoogleApiStandIn:
    """A Google REST API's calls that admins' commands make, behind the token endpoint's
    access tokens; subclasses answer a GET path with (HTTP status, JSON body), or any
    method through :meth:`handle`."""

    def __init__(self, google: GoogleStandIn) -> None:
        self.google = google
        self._server = _serve(self._handler())

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def handle(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        if method != "GET":
            return 405, {"error": {"code": 405, "message": f"{method} not supported"}}
        return self.answer(parts)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self, method: str) -> None:
                raw = _read_body(self)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in api.google.access_tokens:
                    _reply(self, 401, b'{"error": {"code": 401}}')
                    return
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                body = json.loads(raw) if raw else None
                status, answer = api.handle(method, parts.path.split("/"), query, body)
                _reply(self, status, json.dumps(answer).encode())

            def do_GET(self) -> None:
                self._any("GET")

            def do_POST(self) -> None:
                self._any("POST")

            def do_PATCH(self) -> None:
                self._any("PATCH")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class ServiceUsageStandIn(_GoogleApiStandIn):
    """Service Usage's ``services.get``: which APIs are on in a project."""

    def __init__(self, google: GoogleStandIn, enabled: set[str]) -> None:
        self.enabled = enabled
        super().__init__(google)

    def answer(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        # /v1/projects/P/services/API
        project, api = parts[3], parts[5]
        if "serviceusage.googleapis.com" not in self.enabled:
            return 403, {
                "error": {
                    "code": 403,
                    "message": f"Service Usage API has not been used in project {project} "
                    "before or it is disabled.",
                    "details": [{"reason": "SERVICE_DISABLED"}],
                }
            }
        state = "ENABLED" if api in self.enabled else "DISABLED"
        return 200, {"name": f"projects/{project}/services/{api}", "state": state}


class CertificateManagerStandIn(_GoogleApiStandIn):
    """Certificate Manager's map entries and certificates: the lab's one certificate,
    whose ``managed`` block (state, authorization attempts) a test sets."""

    def __init__(self, google: GoogleStandIn) -> None:
        self.managed: dict[str, Any] = {"state": "ACTIVE"}
        super().__init__(google)

    def answer(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        # /v1/projects/P/locations/global/certificateMaps/M/certificateMapEntries
        # /v1/projects/P/locations/global/certificates/C
        where = "/".join(parts[2:6])
        if len(parts) == 9 and parts[6] == "certificateMaps":
            certificate = parts[7].removesuffix("-certmap") + "-cert"
            entry = {"certificates": [f"{where}/certificates/{certificate}"]}
            return 200, {"certificateMapEntries": [entry]}
        if len(parts) == 8 and parts[6] == "certificates":
            return 200, {"name": "/".join(parts[2:]), "managed": self.managed}
        return 404, {"error": {"code": 404}}


if TYPE_CHECKING:
    from tests.support.google_admin import ComputeStandIn, IapSettingsStandIn

TERRAFORM_BOOTSTRAP_APIS = {"serviceusage.googleapis.com", "cloudresourcemanager.googleapis.com"}


@dataclass
class AdminGoogle:
    """What an admin's commands reach of Google, standing in: ``env`` points there."""

    env: dict[str, str]
    certificates: CertificateManagerStandIn
    iap: IapSettingsStandIn
    compute: ComputeStandIn

    def reset(self) -> None:
        """Forget what the last test's commands changed (the stand-ins outlive tests)."""
        self.iap.reset()
        self.compute.reset()


@contextlib.contextmanager
def admin_google(
    project: str, folder: Path, enabled: set[str] = TERRAFORM_BOOTSTRAP_APIS
) -> Iterator[AdminGoogle]:
    """An admin's Google side: a token endpoint, Service Usage with ``enabled`` on (by
    default the APIs Terraform cannot enable itself) and Certificate Manager; the
    credentials are a service-account key for that token endpoint."""
    google = GoogleStandIn(lifetime=3600)
    from tests.support.google_admin import (
        PROJECT_NUMBER,
        ComputeStandIn,
        IapSettingsStandIn,
        ResourceManagerStandIn,
    )

    usage = ServiceUsageStandIn(google, set(enabled))
    certificates = CertificateManagerStandIn(google)
    projects = ResourceManagerStandIn(google, {project: PROJECT_NUMBER})
    iap = IapSettingsStandIn(google)
    compute = ComputeStandIn(google, project)
    try:
        key = folder / "admin-key.json"
        key.write_text(
            json.dumps(google.service_account_key(f"admin@{project}.iam.gserviceaccount.com"))
        )
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(key),
            "MLFLOWK8S_SERVICE_USAGE_ENDPOINT": usage.endpoint,
            "MLFLOWK8S_CERTIFICATE_MANAGER_ENDPOINT": certificates.endpoint,
            "MLFLOWK8S_RESOURCE_MANAGER_ENDPOINT": projects.endpoint,
            "MLFLOWK8S_IAP_ENDPOINT": iap.endpoint,
            "MLFLOWK8S_COMPUTE_ENDPOINT": compute.endpoint,
        }
        yield AdminGoogle(env, certificates, iap, compute)
    finally:
        for api in (compute, iap, projects):
            api.stop()
        certificates.stop()
        usage.stop()
        google.stop()
