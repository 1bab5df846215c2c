"""The one health probe of a tenant: an unauthenticated GET of ``/<tenant>/health``, or of
the launcher's readiness route, which also reads the tenant's store.

Every target and command asks here; what an answer means (healthy, behind IAP,
unreachable) is decided here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflowk8s.targets.base import TenantStatus

# IAP answers before the server: reachable, but the server's health is not visible to us.
IAP_STATUSES = (302, 401, 403)
MAX_PARALLEL = 16


def health_status(tenant_url: str, timeout: float) -> int | None:
    """The status of the tenant's ``/health`` (the process answers); None: unreachable."""
    return _status(tenant_url.rstrip("/") + "/health", timeout)


def ready_status(tenant_url: str, timeout: float) -> int | None:
    """The status of the launcher's readiness route (its store answers); None: unreachable."""
    from mlflowk8s.server import READY_SUFFIX

    return _status(tenant_url.rstrip("/") + READY_SUFFIX, timeout)


def _status(url: str, timeout: float) -> int | None:
    """The HTTP status of an unauthenticated GET of ``url``; None: unreachable.

    Redirects are not followed: IAP's redirect to Google's sign-in is an answer.
    """
    import urllib.error
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def classify_health(status_code: int | None) -> tuple[bool | None, str | None]:
    """(healthy, note) for an unauthenticated GET of /<tenant>/health."""
    if status_code is None:
        return None, "unreachable"
    if status_code == 200:
        return True, None
    if status_code in IAP_STATUSES:
        return None, "behind IAP"
    return False, f"HTTP {status_code}"


def probe(urls: Mapping[str, str], timeout: float, ready: bool = False) -> dict[str, int | None]:
    """Each tenant's health (or, ``ready``, readiness: its store answers) status code, asked
    in parallel: name -> code (None: no answer)."""
    if not urls:
        return {}
    ask = ready_status if ready else health_status
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(urls))) as pool:
        codes = pool.map(lambda url: ask(url, timeout), urls.values())
        return dict(zip(urls, codes, strict=True))


def probe_all(tenants: list[TenantStatus], timeout: float = 5.0) -> None:
    """Fill in each tenant's health from its URL."""
    codes = probe({str(i): t.url for i, t in enumerate(tenants)}, timeout)
    for i, tenant in enumerate(tenants):
        tenant.healthy, note = classify_health(codes[str(i)])
        if note is not None:
            tenant.health_note = note
