"""MLflow request-header provider: a fresh IAP token on every request to the lab.

Registered under the entry point ``mlflow.request_header_provider`` (pyproject.toml), so
installing mlflowk8s next to MLflow is all a researcher does: MLflow asks every provider
for headers on every request, which is what lets a run outlive its one-hour token
(``MLFLOW_TRACKING_TOKEN`` is read once and cannot be refreshed).

Without usable credentials we log one error under ``mlflowk8s`` saying what to do (once
per distinct message, not per request) and send the request without a token, so IAP's 401
ends the call; raising would only make MLflow log a vaguer warning on every request and
send the same unauthenticated request anyway.
"""

from __future__ import annotations

import logging
import os

from mlflowk8s import auth
from mlflowk8s.errors import MlflowK8sError

_logger = logging.getLogger("mlflowk8s")


def _tracking_uri() -> str | None:
    try:
        from mlflow.tracking import get_tracking_uri
    except ImportError:  # pragma: no cover - the plugin is only loaded by MLflow
        return os.environ.get("MLFLOW_TRACKING_URI")
    uri = get_tracking_uri()
    return uri if isinstance(uri, str) else None


class IAPRequestHeaderProvider:
    """Adds ``Proxy-Authorization: Bearer <ID token>`` (or ``Authorization`` when
    ``MLFLOWK8S_IAP_HEADER=Authorization``) to requests to the lab's tracking server."""

    def __init__(self) -> None:
        self._reported: str | None = None

    def in_context(self) -> bool:
        try:
            return auth.plugin_config(_tracking_uri(), os.environ).active
        except MlflowK8sError as exc:
            self._report(exc)
            return False

    def request_headers(self) -> dict[str, str]:
        try:
            config = auth.plugin_config(_tracking_uri(), os.environ)
            token = auth.provider().token(config.audience)
        except MlflowK8sError as exc:
            self._report(exc)
            return {}
        return {config.header: f"Bearer {token}"}

    def _report(self, exc: Exception) -> None:
        message = f"mlflowk8s: {exc}"
        if message != self._reported:
            self._reported = message
            _logger.error(message)
