"""Why a request got no answer, in a few words: DNS, refused, unreachable, timed out, TLS.

Each HTTP stack the tool uses wraps the socket's error in its own (requests in urllib3 in
google-auth's ``TransportError`` in google-api-core's ``RetryError``; urllib in
``URLError``), so the class at the top says nothing an admin can act on. This module walks
the chain once, for every caller, and names the cause and the host the same way everywhere.
"""

from __future__ import annotations

import errno
import socket
import ssl
import urllib.parse
from collections.abc import Iterator

DNS = "DNS resolution failed (is this machine online? is the host name right?)"
REFUSED = "connection refused"
NO_ROUTE = "network unreachable"
TIMED_OUT = "timed out"
TLS = "TLS handshake failed"
RESET = "connection reset"

# Errors a retry cannot cure soon: a name that does not resolve, a port nobody listens on.
_PERMANENT = (DNS, REFUSED, NO_ROUTE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, exceptions among its args,
    and the attributes urllib3 (``reason``) and google-api-core (``cause``) keep them in."""
    pending = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, *current.args]
        linked += [getattr(current, name, None) for name in ("reason", "cause")]
        pending += [item for item in linked if isinstance(item, BaseException)]


def _timeouts() -> tuple[type[BaseException], ...]:
    """socket.timeout is TimeoutError; urllib3's and requests' timeouts subclass neither."""
    import requests
    import urllib3.exceptions

    return (TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout)


def _no_route(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)


def cause(exc: BaseException) -> str | None:
    """What went wrong on the network beneath ``exc``, or None if nothing did."""
    chain = list(_chain(exc))
    kinds: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = (
        # urllib3 raises its NameResolutionError from the socket's gaierror.
        (DNS, (socket.gaierror,)),
        (REFUSED, (ConnectionRefusedError,)),
        (NO_ROUTE, ()),
        (TIMED_OUT, _timeouts()),
        (TLS, (ssl.SSLError,)),
        (RESET, (ConnectionResetError,)),
    )
    for name, types in kinds:
        for item in chain:
            if isinstance(item, types) or (name == NO_ROUTE and _no_route(item)):
                return name
    return None


def host(exc: BaseException) -> str | None:
    """The host the failed request was for, when the exceptions remember it."""
    for item in _chain(exc):
        for owner in (getattr(item, "pool", None), getattr(item, "conn", None)):
            name = getattr(owner, "host", None)
            if isinstance(name, str) and name:
                port = getattr(owner, "port", None)
                return f"{name}:{port}" if port not in (None, 80, 443) else name
        request = getattr(item, "request", None)
        url = getattr(request, "url", None) or getattr(request, "full_url", None)
        if isinstance(url, str) and urllib.parse.urlsplit(url).hostname:
            return host_of_url(url)
    return None


def is_permanent(exc: BaseException) -> bool:
    """No use retrying within seconds: DNS failure, refused connection, no route."""
    return cause(exc) in _PERMANENT


def describe(exc: BaseException, fallback_host: str | None = None) -> str:
    """``cannot reach HOST: CAUSE`` in one line (the exception's class when no cause is known)."""
    where = host(exc) or fallback_host or "Google"
    found = cause(exc)
    if found is None:
        last = next((e for e in _chain(exc) if isinstance(e, OSError)), exc)
        found = type(last).__name__
    return f"cannot reach {where}: {found}"


def host_of_url(url: str) -> str:
    """The host of ``url``, with its port unless the scheme's own (the URL when it has none)."""
    parts = urllib.parse.urlsplit(url if "//" in url else f"//{url}")
    if not parts.hostname:
        return url
    return f"{parts.hostname}:{parts.port}" if parts.port not in (None, 80, 443) else parts.hostname
