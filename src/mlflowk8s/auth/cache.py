"""The current token, process-wide: one per audience, refreshed before it expires.

MLflow asks for authentication on every request (``get_auth()`` runs per request), so the
token lives here, outside any per-request object, and is minted once per lifetime.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from mlflowk8s.auth import sources
from mlflowk8s.auth.tokens import IDToken, TokenSource
from mlflowk8s.errors import CredentialsError, OperationError, UsageError

# Refresh this long before expiry: five minutes for Google's one-hour tokens (MLflow retries
# a failed request with the same headers for about four minutes by default), a quarter
# of the lifetime for short ones (the tests' tokens live seconds).
MAX_REFRESH_MARGIN_SECONDS = 300.0
REFRESH_MARGIN_FRACTION = 0.25
# After "no credentials", look again only this much later (not on every MLflow request).
NO_CREDENTIALS_RETRY_SECONDS = 10.0


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
    """Tokens per audience (one source lookup per audience; "no credentials" is remembered
    for a few seconds)."""

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
                source = sources.find_source(audience)
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
    """The process's tokens."""
    return _provider
