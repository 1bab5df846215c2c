"""Admin calls to Google's REST APIs (Service Usage, Resource Manager, Certificate Manager,
IAP, Compute) with ADC.

Endpoints can be pointed elsewhere by environment variable; the tests point them at
local stand-ins, as ``STORAGE_EMULATOR_HOST`` does for Cloud Storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflowk8s.errors import CredentialsError, OperationError

HTTP_TIMEOUT_SECONDS = 10.0
SERVICE_USAGE = ("MLFLOWK8S_SERVICE_USAGE_ENDPOINT", "https://serviceusage.googleapis.com")
RESOURCE_MANAGER = (
    "MLFLOWK8S_RESOURCE_MANAGER_ENDPOINT",
    "https://cloudresourcemanager.googleapis.com",
)
CERTIFICATE_MANAGER = (
    "MLFLOWK8S_CERTIFICATE_MANAGER_ENDPOINT",
    "https://certificatemanager.googleapis.com",
)
IAP = ("MLFLOWK8S_IAP_ENDPOINT", "https://iap.googleapis.com")
COMPUTE = ("MLFLOWK8S_COMPUTE_ENDPOINT", "https://compute.googleapis.com")


def endpoint(api: tuple[str, str], env: Mapping[str, str]) -> str:
    variable, default = api
    return env.get(variable) or default


ADC_HELP = (
    "no Google credentials found: run `gcloud auth application-default login` "
    "(or set GOOGLE_APPLICATION_CREDENTIALS to a credentials file)"
)


def admin_credentials(scope: str = "cloud-platform") -> Any:
    """Application Default Credentials for ``https://www.googleapis.com/auth/<scope>``."""
    import google.auth
    import google.auth.exceptions

    try:
        credentials, _ = google.auth.default(scopes=[f"https://www.googleapis.com/auth/{scope}"])
    except google.auth.exceptions.GoogleAuthError as exc:
        raise CredentialsError(ADC_HELP) from exc
    return credentials


def admin_session() -> Any:
    """An authorized HTTP session from Application Default Credentials."""
    from google.auth.transport.requests import AuthorizedSession

    return AuthorizedSession(admin_credentials())  # type: ignore[no-untyped-call]


def get_json(session: Any, url: str) -> tuple[int, Any]:
    """GET ``url``: (HTTP status, parsed body or {}); network and token errors raise."""
    return request_json(session, "GET", url)


def request_json(
    session: Any, method: str, url: str, body: Any = None, params: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    """``method`` ``url`` with a JSON ``body``: (HTTP status, parsed body or {})."""
    import google.auth.exceptions
    import requests

    try:
        response = session.request(
            method, url, json=body, params=params, timeout=HTTP_TIMEOUT_SECONDS
        )
    except (requests.RequestException, google.auth.exceptions.GoogleAuthError) as exc:
        host = "/".join(url.split("/")[:3])
        raise OperationError(f"{host}: {exc.__class__.__name__}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    return int(response.status_code), body


def certificate_state(project: str, certificate_map: str, env: Mapping[str, str]) -> str:
    """The state of the certificate serving the lab's domain, as Certificate Manager says.

    It stays PROVISIONING until DNS points at the Gateway and the DNS authorization record
    exists; the authorization attempt says which of the two is missing.
    """
    base = endpoint(CERTIFICATE_MANAGER, env) + "/v1"
    session = admin_session()
    where = f"projects/{project}/locations/global"
    code, body = get_json(session, f"{base}/{where}/certificateMaps/{certificate_map}"
                                   "/certificateMapEntries")  # fmt: skip
    if code != 200:
        raise OperationError(f"Certificate Manager answered HTTP {code}")
    names = [name for entry in body.get("certificateMapEntries", [])
             for name in entry.get("certificates", [])]  # fmt: skip
    if not names:
        return "no certificate in the map yet"
    code, certificate = get_json(session, f"{base}/{names[0]}")
    if code != 200:
        raise OperationError(f"Certificate Manager answered HTTP {code}")
    managed = certificate.get("managed") or {}
    state = str(managed.get("state") or "UNKNOWN")
    details = [
        f"{attempt.get('domain')}: {attempt.get('state')}"
        + (f" {attempt['failureReason']}" if attempt.get("failureReason") else "")
        for attempt in managed.get("authorizationAttemptInfo", [])
        if attempt.get("state") != "AUTHORIZED"
    ]
    issue = managed.get("provisioningIssue") or {}
    if issue.get("reason"):
        details.append(f"{issue['reason']}: {issue.get('details', '')}".rstrip(": "))
    return f"{state} ({'; '.join(details)})" if details else state


def error_message(body: Any) -> str:
    """The message of a Google API error body (``{"error": {"message": ...}}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error.get("status") or error.get("code") or "")
    return ""


def project_number(project: str, env: Mapping[str, str]) -> str:
    """The project's number (IAP settings and run.app URLs name projects by number)."""
    url = f"{endpoint(RESOURCE_MANAGER, env)}/v3/projects/{project}"
    code, body = get_json(admin_session(), url)
    name = str(body.get("name", "")) if code == 200 else ""
    if not name.startswith("projects/"):
        raise OperationError(
            f"Cloud Resource Manager answered HTTP {code} for project {project}"
            + (f": {error_message(body)}" if error_message(body) else "")
        )
    return name.removeprefix("projects/")
