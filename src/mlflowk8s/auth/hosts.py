"""Which requests get the researcher's token: the lab's servers and nothing else.

The decision is made per request, on the URL the HTTP library will connect to, parsed
the way it parses it (``urllib3.util.parse_url``: ``http://evil\\@lab/`` connects to
``evil``, whatever ``urllib.parse`` says). A request gets a token only when

* its URL has no user info, backslash, whitespace or control character;
* its (host, port) is one the lab names, exactly: ``MLFLOW_DOMAIN`` (the gcp target's one
  host), ``MLFLOWK8S_TOKEN_HOSTS`` (exact hosts, e.g. a Cloud Run tenant's
  ``alice-123.europe-west1.run.app``: never a suffix, since ``run.app`` is shared by every
  Cloud Run service in the world), or the loopback host:port of a tunnel (an ssh
  ``-L`` forward, a local proxy) set as an http tracking URI;
* it is https, or http to a loopback address with no proxy in the way (through a proxy
  the token would cross the network in clear).

The IAP audience alone names no host: it says which token, not where it may go.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlflowk8s.auth.sources import ENV_AUDIENCE
from mlflowk8s.errors import UsageError

ENV_DOMAIN = "MLFLOW_DOMAIN"
ENV_TOKEN_HOSTS = "MLFLOWK8S_TOKEN_HOSTS"
ENV_HEADER = "MLFLOWK8S_IAP_HEADER"
ENV_TRACKING_AUTH = "MLFLOW_TRACKING_AUTH"
ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
# MLFLOW_TRACKING_AUTH=mlflowk8s selects our request auth provider.
AUTH_NAME = "mlflowk8s"
ENV_PROXY_MULTIPART_UPLOAD = "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD"
ENV_MULTIPART_MINIMUM = "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE"
ENV_MULTIPART_CHUNK = "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"
MIB = 1024 * 1024
# Cloud Run refuses HTTP/1 request bodies over 32 MiB, and a proxied upload costs the server
# memory: from 16 MiB a file goes straight to storage in 16 MiB parts whose URLs the tenant's
# server signs (10,000 parts: files up to 156 GiB; MLflow's defaults are 500 MiB and 10 MiB).
MULTIPART_EXPORTS = {
    ENV_PROXY_MULTIPART_UPLOAD: "true",
    ENV_MULTIPART_MINIMUM: str(16 * MIB),
    ENV_MULTIPART_CHUNK: str(16 * MIB),
}

HEADERS = ("Proxy-Authorization", "Authorization")
DEFAULT_HEADER = "Proxy-Authorization"
DEFAULT_PORTS = {"https": 443, "http": 80}

_ENTRY_RE = re.compile(
    r"(?P<host>[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:(?P<port>[0-9]{1,5}))?"
)
# Anything a URL parser might read differently from the next one, or a header could carry.
_UNSAFE_RE = re.compile(r"[\\\s\x00-\x1f\x7f]")

Origin = tuple[str, str, int]  # scheme, host (lower-case, IPv6 without brackets), port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def carries_token_safely(url: str) -> bool:
    """https, or http to this machine (a tunnel): a token is a key, never sent in clear."""
    where = origin(url)
    return where is not None and (
        where[0] == "https" or (where[0] == "http" and is_loopback(where[1]))
    )


def origin(url: str) -> Origin | None:
    """Where a request to ``url`` connects, as the HTTP library sees it; None when the URL
    is not plain http(s) or could be read two ways (user info, backslash, whitespace)."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    if _UNSAFE_RE.search(url):
        return None
    try:
        parsed = parse_url(url)
    except LocationParseError:
        return None
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or parsed.auth is not None or not parsed.host:
        return None
    try:
        if "@" in urlsplit(url).netloc:  # user info by either parser's reading
            return None
    except ValueError:
        return None
    host = parsed.host.lower().strip("[]")
    return scheme, host, parsed.port or DEFAULT_PORTS[scheme]


def _named_hosts(environ: Mapping[str, str]) -> frozenset[tuple[str, int]]:
    """(host, port) pairs from MLFLOW_DOMAIN and MLFLOWK8S_TOKEN_HOSTS: exact, no wildcards."""
    named: set[tuple[str, int]] = set()
    for key in (ENV_DOMAIN, ENV_TOKEN_HOSTS):
        for entry in re.split(r"[,\s]+", environ.get(key, "").strip().lower()):
            if not entry:
                continue
            match = _ENTRY_RE.fullmatch(entry)
            port = int(match["port"]) if match and match["port"] else 443
            if not match or not 0 < port < 65536:
                raise UsageError(
                    f"{key}: {entry!r} is not a host or host:port (exact names only, no "
                    "wildcards or suffixes: each tenant's host is listed by itself)"
                )
            named.add((match["host"].strip("[]"), port))
    return frozenset(named)


def header_name(environ: Mapping[str, str]) -> str:
    """The header the token goes in (IAP takes either)."""
    header = (environ.get(ENV_HEADER) or DEFAULT_HEADER).strip()
    matches = [name for name in HEADERS if name.lower() == header.lower()]
    if not matches:
        raise UsageError(f"{ENV_HEADER}={header!r} is not one of: {', '.join(HEADERS)}")
    return matches[0]


@dataclass(frozen=True)
class Decision:
    """Whether a request gets the token; ``problem`` says why not when the researcher
    should hear about it (the lab's own host refused), else None."""

    token: bool
    problem: str | None = None


ProxyLookup = Callable[[str], Mapping[str, str]]


def _environment_proxies(url: str) -> Mapping[str, str]:
    import requests.utils

    return requests.utils.get_environ_proxies(url)


@dataclass(frozen=True)
class TokenPolicy:
    """The lab's hosts, read from the environment and the tracking URI."""

    named: frozenset[tuple[str, int]]
    tunnel: tuple[str, int] | None  # an http tracking URI's loopback host and port
    header: str
    audience: str | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], tracking_uri: str | None) -> TokenPolicy:
        tunnel = None
        where = origin(tracking_uri or "")
        # Only an http tunnel: an https server on this machine is named like any other.
        if where is not None and where[0] == "http" and is_loopback(where[1]):
            tunnel = (where[1], where[2])
        return cls(
            named=_named_hosts(environ),
            tunnel=tunnel,
            header=header_name(environ),
            audience=environ.get(ENV_AUDIENCE) or None,
        )

    def _allowed(self, where: Origin) -> bool:
        return (where[1], where[2]) in self.named or (where[1], where[2]) == self.tunnel

    def is_lab_server(self, url: str) -> bool:
        """Is ``url`` the lab's tracking server: a host the lab names, or a tunnel on this
        machine while an IAP audience is set (a local lab's servers need no token)?"""
        where = origin(url)
        if where is None:
            return False
        if (where[1], where[2]) in self.named:
            return True
        return (where[1], where[2]) == self.tunnel and self.audience is not None

    def decide(self, url: str, proxies: ProxyLookup = _environment_proxies) -> Decision:
        where = origin(url)
        if where is None:
            if url.partition(":")[0].lower() in DEFAULT_PORTS:
                return Decision(
                    False,
                    f"no token for a URL with user info, a backslash or whitespace "
                    f"({_shown(url)}): HTTP libraries read such URLs differently",
                )
            return Decision(False)
        scheme, host, port = where
        if scheme == "http" and not is_loopback(host):
            if any(name == host for name, _ in self.named):
                return Decision(
                    False,
                    f"http://{host}:{port} is plain http: a token would cross the network in "
                    "clear; use https://",
                )
            return Decision(False)
        if not self._allowed(where):
            return Decision(False)
        if scheme == "https":
            return Decision(True)
        proxy = _proxy_for(url, proxies(url))
        if proxy:
            return Decision(
                False,
                f"a proxy ({_shown(proxy)}) is in the way of {scheme}://{host}:{port}: no "
                f"token sent in clear; set NO_PROXY={host}",
            )
        return Decision(True)


def _proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    import requests.utils

    return requests.utils.select_proxy(url, dict(proxies))


def _shown(url: str) -> str:
    """A URL for a message: no user info, no query (it may carry a signature)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "a malformed URL"
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}".encode("unicode_escape").decode("ascii")


def lab_exports(tenant_url: str, domain: str | None) -> dict[str, str]:
    """What ``mlflowk8s env`` exports so the tenant's host gets tokens (the lab's domain,
    or a tenant's own host such as Cloud Run's) and large files go straight to storage."""
    where = origin(tenant_url)
    exports = {ENV_TRACKING_URI: tenant_url, ENV_TRACKING_AUTH: AUTH_NAME}
    if domain and where is not None and where[1] == domain.lower():
        exports[ENV_DOMAIN] = domain
    elif where is not None:
        port = "" if where[2] == DEFAULT_PORTS[where[0]] else f":{where[2]}"
        exports[ENV_TOKEN_HOSTS] = f"{where[1]}{port}"
    return {**exports, **MULTIPART_EXPORTS}
