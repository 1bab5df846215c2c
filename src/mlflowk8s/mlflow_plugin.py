"""MLflow request-header provider: a fresh IAP token on every request to the lab.

Registered under the entry point ``mlflow.request_header_provider`` (pyproject.toml), so
installing mlflowk8s next to MLflow is all a researcher does: MLflow asks every provider
for headers on every request, which is what lets a run outlive its one-hour token
(``MLFLOW_TRACKING_TOKEN`` is read once and cannot be refreshed).

MLflow catches exceptions of providers and logs them as a warning, then sends the request
without the header (IAP answers 401): the warning carries our message, which says what
to do. We log it once more under ``mlflowk8s`` so it is not lost among retries.
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
        config = auth.plugin_config(_tracking_uri(), os.environ)
        try:
            token = auth.provider().token(config.audience)
        except MlflowK8sError as exc:
            self._report(exc)
            raise
        return {config.header: f"Bearer {token}"}

    def _report(self, exc: Exception) -> None:
        message = f"mlflowk8s: {exc}"
        if message != self._reported:
            self._reported = message
            _logger.error(message)
