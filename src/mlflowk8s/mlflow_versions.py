"""MLflow versions, one reader each: the client installed in a Python, what a tenant's server
says at ``<tenant url>/version``, the version an image reference names, and the version a
deployed image runs; and when a client and a server are too far apart.

Only the official image's tags name a version (``ghcr.io/mlflow/mlflow:vX.Y.Z[-full]``, as
``init`` pins it, tag kept before the digest). An image without such a tag has no known
version: ``None``, never a guess.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The full package, or the client-only one (the `client` extra): both provide `mlflow`.
CLIENT_DISTRIBUTIONS = ("mlflow", "mlflow-skinny")
VERSION_TIMEOUT_SECONDS = 5.0
_SERVED = re.compile(r"\d+\.\d+(\.\d+)?[0-9A-Za-z.+-]*")
_MINOR = re.compile(r"(\d+)\.(\d+)")
_OFFICIAL = re.compile(
    r"ghcr\.io/mlflow/mlflow:v(?P<version>\d+\.\d+\.\d+)(-full)?@(?P<digest>sha256:[0-9a-f]{64})"
)
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class Client:
    """The distribution that provides the ``mlflow`` package a Python imports."""

    distribution: str
    version: str


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_client(path: Sequence[str] | None = None) -> Client | None:
    """The MLflow client ``import mlflow`` gets from ``path`` (default ``sys.path``), by the
    distribution that installed that very package; None when none did (not installed)."""
    import importlib.machinery
    import importlib.metadata
    from pathlib import Path

    search = list(sys.path if path is None else path)
    spec = importlib.machinery.PathFinder.find_spec("mlflow", search)
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations))).resolve()
    found: dict[str, str] = {}
    # Both may be on the path (mlflow requires mlflow-skinny) in other folders than the one
    # imported: the one whose files are the imported package counts, first on the path wins.
    for dist in importlib.metadata.distributions(path=search):
        name = _canonical(dist.metadata["Name"] or "")
        if (
            name in CLIENT_DISTRIBUTIONS
            and name not in found
            and Path(str(dist.locate_file("mlflow"))).resolve() == package
        ):
            found[name] = dist.version
    for name in CLIENT_DISTRIBUTIONS:
        if name in found:
            return Client(name, found[name])
    return None


def served(
    tenant_url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = VERSION_TIMEOUT_SECONDS,
) -> str | None:
    """What the tenant's server answers at ``<tenant url>/version``; None when it does not
    answer, or answers something else (IAP's sign-in redirect or refusal)."""
    import urllib.error
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    url = tenant_url.rstrip("/") + "/version"
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=timeout) as response:
            text = response.read(200).decode("utf-8", "replace").strip()
    except (OSError, ValueError):  # HTTPError (401, 302 ...) is an OSError
        return None
    return text if _SERVED.fullmatch(text) else None


def minor(version: str) -> tuple[int, int] | None:
    """(major, minor) of ``version``; None when it does not start like one."""
    match = _MINOR.match(version)
    return (int(match[1]), int(match[2])) if match else None


def skewed(client: str, server: str) -> bool:
    """A client and a server a minor version (or more) apart: MLflow's REST API and stores
    change between minors, so calls may fail or lose fields."""
    return minor(client) != minor(server)


def align_command(distribution: str, server: str) -> str:
    """The pip command that gives this Python the server's minor version of ``distribution``."""
    known = minor(server)
    spec = f"{known[0]}.{known[1]}.*" if known else server
    return f"pip install '{distribution}=={spec}'"


def of_image(reference: str | None) -> str | None:
    """The MLflow version an image reference names: only the official image's version tag
    (``ghcr.io/mlflow/mlflow:vX.Y.Z[-full]@sha256:…``); None for any other reference."""
    match = _OFFICIAL.fullmatch(reference or "")
    return match["version"] if match else None


def digest(reference: str | None) -> str | None:
    match = _DIGEST.search(reference or "")
    return match[1] if match else None


def deployed(image: str | None, pinned: str | None) -> str | None:
    """The MLflow version a deployed ``image`` runs, known from the lab's ``pinned`` image
    (MLFLOW_IMAGE) when both are the same digest (pods pull the digest through a mirror,
    tag dropped); None when they differ or the pin names no version."""
    found = digest(image)
    if found is None or found != digest(pinned):
        return None
    return of_image(pinned)
