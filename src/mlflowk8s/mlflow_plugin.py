"""MLflow plugins: the researcher's IAP token on requests to the lab's servers, and only there.

* ``mlflow.request_auth_provider`` ``mlflowk8s``, selected by ``MLFLOW_TRACKING_AUTH=mlflowk8s``
  (``mlflowk8s env NAME`` exports it): MLflow passes its ``get_auth()`` object to
  ``requests`` for every tracking, registry and proxied-artifact call, and the object sees
  each prepared request with its URL, so it decides per request (``auth.hosts``). Requests
  to presigned storage URLs are sent by MLflow without it, and ``requests`` drops the
  header on a redirect to another host (``Proxy-Authorization`` on every redirect): those
  get nothing. Setting ``auth=`` turns off ``requests``' own ``~/.netrc`` lookup, so the
  object does that lookup itself for every request.
* ``mlflow.request_header_provider`` ``mlflowk8s``: it is told nothing about the request's
  host, so it never adds a token; it only says, once, that ``MLFLOW_TRACKING_AUTH`` is
  missing when the tracking URI is the lab's.

Without usable credentials the auth object logs one error under ``mlflowk8s`` saying what
to do (once per distinct message, not per request) and sends the request without a token,
so IAP's 401 ends the call.

A request body over 32 MiB to a Cloud Run host (``*.run.app``) is refused before it is sent
(Cloud Run would answer a bare 413 after the upload): the error names the multipart
variables that send large files straight to storage instead.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlflowk8s.auth import hosts
from mlflowk8s.errors import MlflowK8sError, UsageError

if TYPE_CHECKING:
    from requests import PreparedRequest

_logger = logging.getLogger("mlflowk8s")


class _Reporter:
    """Logs each distinct problem once per process (MLflow calls us on every request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def __call__(self, problem: object) -> None:
        message = f"mlflowk8s: {problem}"
        with self._lock:
            if message in self._seen:
                return
            self._seen.add(message)
        _logger.error(message)


_report = _Reporter()


def _reset_after_fork() -> None:
    # A forked child (DataLoader workers, multiprocessing) must not inherit a held lock.
    global _report
    _report = _Reporter()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _tracking_uri() -> str | None:
    try:
        from mlflow.tracking import get_tracking_uri
    except ImportError:  # pragma: no cover - the plugin is only loaded by MLflow
        return os.environ.get(hosts.ENV_TRACKING_URI)
    uri = get_tracking_uri()
    return uri if isinstance(uri, str) else None


def _netrc(request: PreparedRequest) -> None:
    """What ``requests`` does when no ``auth=`` is given: Basic auth from ``~/.netrc``."""
    from requests.auth import HTTPBasicAuth
    from requests.utils import get_netrc_auth

    credentials = get_netrc_auth(request.url or "")
    if credentials:
        HTTPBasicAuth(*credentials)(request)


CLOUD_RUN_SUFFIX = ".run.app"
CLOUD_RUN_REQUEST_LIMIT = 32 * hosts.MIB  # HTTP/1 request size limit of Cloud Run


class RequestTooLarge(UsageError):
    """A request Cloud Run would refuse: its body is over the 32 MiB limit."""


def body_too_large(request: PreparedRequest) -> str | None:
    """Why Cloud Run would refuse ``request`` (None: it would not)."""
    where = hosts.origin(request.url or "")
    if where is None or not where[1].endswith(CLOUD_RUN_SUFFIX):
        return None
    length = str(request.headers.get("Content-Length") or "0")
    size = int(length) if length.isdigit() else 0
    if size <= CLOUD_RUN_REQUEST_LIMIT:
        return None
    return (
        f"{request.method} of {size / hosts.MIB:.1f} MiB to {where[1]}: Cloud Run refuses "
        f"request bodies over 32 MiB; set {hosts.ENV_PROXY_MULTIPART_UPLOAD}=true and "
        f"{hosts.ENV_MULTIPART_MINIMUM}={hosts.MULTIPART_EXPORTS[hosts.ENV_MULTIPART_MINIMUM]} "
        "(below 32 MiB) so large files go straight to storage "
        '(eval "$(mlflowk8s env NAME)" sets both)'
    )


class IAPAuth:
    """A ``requests`` auth object: the IAP token on requests to the lab's hosts."""

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        from mlflowk8s.auth.cache import provider

        problem = body_too_large(request)
        if problem:
            raise RequestTooLarge(problem)
        _netrc(request)
        url = request.url or ""
        try:
            policy = hosts.TokenPolicy.from_environment(os.environ, _tracking_uri())
            decision = policy.decide(url)
            if decision.problem:
                _report(decision.problem)
            if not decision.token:
                return request
            token = provider().token(policy.audience)
        except MlflowK8sError as exc:
            _report(exc)
            return request
        request.headers[policy.header] = f"Bearer {token}"
        return request


class IAPRequestAuthProvider:
    """``MLFLOW_TRACKING_AUTH=mlflowk8s`` (MLflow's ``RequestAuthProvider`` protocol)."""

    def get_name(self) -> str:
        return hosts.AUTH_NAME

    def get_auth(self) -> IAPAuth:
        return IAPAuth()


def auth_missing(tracking_uri: str | None, environ: Mapping[str, str]) -> bool:
    """Is the tracking URI the lab's while MLflow is not told to use our auth?"""
    if not tracking_uri or environ.get(hosts.ENV_TRACKING_AUTH) == hosts.AUTH_NAME:
        return False
    return hosts.TokenPolicy.from_environment(environ, tracking_uri).is_lab_server(tracking_uri)


class IAPRequestHeaderProvider:
    """Never adds a token (it cannot see the request's host); says once what to set."""

    def in_context(self) -> bool:
        uri = _tracking_uri()
        try:
            missing = auth_missing(uri, os.environ)
        except MlflowK8sError as exc:
            _report(exc)
            return False
        if missing:
            _report(
                f"{uri} is the lab's, but {hosts.ENV_TRACKING_AUTH} is not {hosts.AUTH_NAME!r}: "
                f"no IAP token is sent; set {hosts.ENV_TRACKING_AUTH}={hosts.AUTH_NAME} "
                '(eval "$(mlflowk8s env NAME)" sets it)'
            )
        return False

    def request_headers(self) -> dict[str, str]:
        return {}
