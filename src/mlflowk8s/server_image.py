"""The digest of the servers' image (``server.MLFLOW_IMAGE``), for pinning it at ``init``.

A tag can be moved; a digest cannot. The OCI distribution API is asked anonymously (the
registry's 401 names the token endpoint; MLflow's image is public): a HEAD of the tag with
the index/manifest-list media types gives ``Docker-Content-Digest``, a GET of that digest
gives the index itself, whose sha256 must be the digest and which must hold a linux/amd64
image (GKE and Cloud Run nodes).
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from mlflowk8s import unreachable
from mlflowk8s.errors import OperationError, UsageError

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
TIMEOUT = 30.0
_REFERENCE = re.compile(r"(?P<registry>[^/]+)/(?P<repository>[a-z0-9._/-]+):(?P<tag>[\w.-]+)")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Image:
    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, reference: str) -> Image:
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            raise UsageError(f"{reference!r} is not an image reference like ghcr.io/owner/name:tag")
        return cls(match["registry"], match["repository"], match["tag"])

    def pinned(self, digest: str) -> str:
        """``registry/repo:tag@digest``: the digest names what runs; the tag stays as the
        record of what was resolved (the MLflow version, mlflowk8s.mlflow_versions)."""
        return f"{self.registry}/{self.repository}:{self.tag}@{digest}"


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return int(response.status), response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.headers, b""
    except OSError as exc:
        raise OperationError(unreachable.describe(exc, unreachable.host_of_url(url))) from exc


def _token(challenge: str, image: Image) -> str:
    """An anonymous pull token from the realm the registry's ``WWW-Authenticate`` names."""
    scheme, _, params = challenge.partition(" ")
    values = dict(_CHALLENGE_PARAM.findall(params))
    if scheme.lower() != "bearer" or "realm" not in values:
        raise OperationError(f"{image.registry} asks for {scheme or 'no'} authentication")
    query = {"scope": values.get("scope", f"repository:{image.repository}:pull")}
    if "service" in values:
        query["service"] = values["service"]
    status, _, body = _request(f"{values['realm']}?{urllib.parse.urlencode(query)}", "GET", {})
    try:
        data = json.loads(body)
        token = str(data.get("token") or data["access_token"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OperationError(f"{image.registry} gave no anonymous pull token ({status})") from exc
    return token


def resolve(reference: str, base_url: str | None = None) -> str:
    """``reference`` (``registry/repo:tag``) pinned by its index digest:
    ``registry/repo:tag@sha256:…`` (pulled by the digest alone).

    ``base_url`` replaces ``https://<registry>`` (a registry stand-in in tests).
    """
    image = Image.parse(reference)
    base = (base_url or f"https://{image.registry}").rstrip("/")
    headers = {"Accept": ", ".join(INDEX_TYPES)}

    def ask(method: str, ref: str) -> tuple[int, Any, bytes]:
        url = f"{base}/v2/{image.repository}/manifests/{ref}"
        status, got, body = _request(url, method, headers)
        if status == 401 and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {_token(got.get('WWW-Authenticate', ''), image)}"
            status, got, body = _request(url, method, headers)
        return status, got, body

    status, got, _ = ask("HEAD", image.tag)
    if status == 404:
        raise UsageError(f"{reference} does not exist (is MLflow {image.tag} published?)")
    digest = got.get("Docker-Content-Digest", "") if status == 200 else ""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise OperationError(f"{image.registry} gave no digest for {reference} (HTTP {status})")
    status, got, body = ask("GET", digest)
    if status != 200:
        raise OperationError(f"{image.registry} did not return {digest} (HTTP {status})")
    if f"sha256:{hashlib.sha256(body).hexdigest()}" != digest:
        raise OperationError(f"{image.registry} returned content for {digest} that does not match")
    _require_amd64(body, reference)
    return image.pinned(digest)


def _require_amd64(body: bytes, reference: str) -> None:
    try:
        index = json.loads(body)
        platforms = {(m["platform"]["os"], m["platform"]["architecture"])
                     for m in index["manifests"] if "platform" in m}  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise OperationError(f"{reference} is not a multi-platform image index") from exc
    if ("linux", "amd64") not in platforms:
        found = ", ".join(sorted(f"{o}/{a}" for o, a in platforms)) or "none"
        raise OperationError(f"{reference} has no linux/amd64 image (has: {found})")
