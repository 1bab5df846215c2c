"""Admin calls to Google's REST APIs (Service Usage, Resource Manager, Certificate Manager,
IAP, Compute) with ADC.

Endpoints can be pointed elsewhere by environment variable; the tests point them at
local stand-ins, as ``STORAGE_EMULATOR_HOST`` does for Cloud Storage.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflowk8s import unreachable
from mlflowk8s.errors import CredentialsError, MlflowK8sError, OperationError

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


ADC_FILE = "GOOGLE_APPLICATION_CREDENTIALS"
LOGIN = "gcloud auth application-default login"
ADC_HELP = f"no Google credentials found: run `{LOGIN}` (or set {ADC_FILE} to a credentials file)"
ADC_REFUSED = (
    f"Google refused the Application Default Credentials (expired or revoked): run `{LOGIN}` again"
)


def _not_found(exc: Exception) -> CredentialsError:
    """What google-auth's DefaultCredentialsError means for the admin, in one line."""
    path = os.environ.get(ADC_FILE)
    if path and not Path(path).expanduser().exists():
        return CredentialsError(f"{ADC_FILE}={path} does not exist: fix or unset it, or run "
                                f"`{LOGIN}` and unset it")  # fmt: skip
    if path:
        return CredentialsError(f"{ADC_FILE}={path} is not a usable credentials file "
                                f"({exc}): fix or unset it, or run `{LOGIN}`")  # fmt: skip
    return CredentialsError(ADC_HELP)


def admin_credentials(scope: str = "cloud-platform") -> Any:
    """Application Default Credentials for ``https://www.googleapis.com/auth/<scope>``."""
    import google.auth
    import google.auth.exceptions

    try:
        credentials, _ = google.auth.default(scopes=[f"https://www.googleapis.com/auth/{scope}"])
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise _not_found(exc) from exc
    except google.auth.exceptions.GoogleAuthError as exc:
        raise credentials_failure(exc) from exc
    return credentials


def credentials_failure(exc: Exception, host: str | None = None) -> MlflowK8sError:
    """A google-auth error while getting a token: refused credentials, or the network.

    google-auth reports a metadata server it cannot reach as a RefreshError too, so the
    network is looked for first.
    """
    import google.auth.exceptions as auth

    network = unreachable.cause(exc) is not None or isinstance(exc, auth.TransportError)
    if isinstance(exc, auth.RefreshError) and not network:
        return CredentialsError(ADC_REFUSED)
    if isinstance(exc, auth.GoogleAuthError) and not network:
        return CredentialsError(f"Google credentials: {exc}")
    return OperationError(unreachable.describe(exc, host))


def _token_host(credentials: Any) -> str | None:
    uri = getattr(credentials, "_token_uri", None) or getattr(credentials, "token_uri", None)
    return unreachable.host_of_url(uri) if isinstance(uri, str) else None


# Checked credentials by scope: one command refreshes them once, however many clients.
_checked: dict[str, Any] = {}


def check_admin_credentials(scope: str = "cloud-platform") -> Any:
    """ADC, refreshed once now (bounded by HTTP_TIMEOUT_SECONDS): missing, refused or
    unreachable credentials are said here, before Terraform or a client library spends
    minutes retrying them and blames something else (the state bucket)."""
    import google.auth.exceptions
    import requests
    from google.auth.transport.requests import Request

    if scope in _checked:
        return _checked[scope]
    credentials = admin_credentials(scope)

    class BoundedRequest(Request):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["timeout"] = kwargs.get("timeout") or HTTP_TIMEOUT_SECONDS
            return super().__call__(*args, **kwargs)  # type: ignore[no-untyped-call]

    try:
        credentials.refresh(BoundedRequest())
    except (google.auth.exceptions.GoogleAuthError, requests.RequestException) as exc:
        failure = credentials_failure(exc, _token_host(credentials))
        if isinstance(failure, CredentialsError):
            raise failure from exc
        raise OperationError(f"cannot get a token for the Google credentials: {failure}") from exc
    _checked[scope] = credentials
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
        raise credentials_failure(exc, unreachable.host_of_url(url)) from exc
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
