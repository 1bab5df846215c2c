"""`mlflowk8s verify`: sign-in and isolation of a live lab, checked from the outside.

Every check is an HTTP request a stranger or the admin could send, and what IAP and the
load balancer must answer. Requests are written byte for byte with ``http.client``
(``requests`` and ``urllib`` resolve ``..`` and re-quote paths, which would hide exactly
the tricks checked here). The admin's ID token proves what IAP lets a *member* do, so
the checks that need a tenant the admin belongs to, or one they do not, only run when
such a tenant exists; the report says which did not run and what membership would let
them.

Two shapes of lab are handled: tenants as path prefixes on one domain (the GKE target:
``https://DOMAIN/alice/``) and one host per tenant (Cloud Run: ``https://alice-….run.app/``).
Plain data in, plain data out: the CLI gathers the tenants, identity and certificate.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from mlflowk8s.auth.hosts import carries_token_safely
from mlflowk8s.errors import MlflowK8sError

# A read-only call every tenant answers with a small JSON body (its default experiment).
API_CALL = "api/2.0/mlflow/experiments/search?max_results=1"
SIGN_IN_HOST = "accounts.google.com"
REDIRECTS = (301, 302, 303, 307, 308)
MAX_BODY_BYTES = 64 * 1024
CERTIFICATE_ACTIVE = "ACTIVE"
WORKERS = 8
TOKEN_HEADERS = ("Authorization", "Proxy-Authorization")

REFUSED = "refused (no 2xx)"


@dataclass(frozen=True)
class Tenant:
    name: str
    url: str  # https://DOMAIN/alice/ or https://alice-123.europe-west1.run.app/
    members: tuple[str, ...]  # IAM members: user:…, group:…, serviceAccount:…, domain:…


@dataclass(frozen=True)
class Result:
    check: str
    tenant: str  # "-" for the lab as a whole
    expected: str
    got: str
    ok: bool | None  # None: the check could not run (``got`` says why)


@dataclass
class Report:
    admin: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.ok is not False for result in self.results)

    @property
    def failed(self) -> list[Result]:
        return [result for result in self.results if result.ok is False]

    @property
    def not_run(self) -> list[Result]:
        return [result for result in self.results if result.ok is None]

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "admin": self.admin,
            "results": [asdict(result) for result in self.results],
            "notes": self.notes,
        }


# --- membership ------------------------------------------------------------------------


def membership(tenant: Tenant, email: str) -> bool | None:
    """Whether IAP lets ``email`` in: None when only a group could include them (group
    membership is not visible from here)."""
    email = email.lower()
    kinds = [member.split(":", 1) for member in tenant.members if ":" in member]
    for kind, value in kinds:
        value = value.lower()
        if (kind == "user" and value == email) or (
            kind == "domain" and email.endswith("@" + value)
        ):
            return True
    if any(kind == "group" for kind, _ in kinds):
        return None
    return False


# --- raw HTTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request as sent: connect to ``url``'s host, write ``target`` as the request
    line's path (verbatim) and ``host`` as the Host header."""

    url: str  # where to connect (scheme, host, port)
    target: str
    host: str
    token_header: str | None = None  # which header carries the admin's token; None: none


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (``error`` says what happened)
    location: str = ""
    json_body: bool = False
    error: str = ""

    def show(self) -> str:
        if self.status is None:
            return f"no answer: {self.error}"
        if self.status in REDIRECTS:
            return f"HTTP {self.status} to {urlsplit(self.location).hostname or self.location!r}"
        return f"HTTP {self.status}"


def send(request: Request, token: Callable[[], str], timeout: float) -> Answer:
    parts = urlsplit(request.url)
    if request.token_header and not carries_token_safely(request.url):
        # A token is a key: never over plain http to another machine.
        return Answer(None, error="token not sent over plain http")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.putrequest("GET", request.target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", request.host)
        connection.putheader("Accept", "application/json")
        if request.token_header:
            connection.putheader(request.token_header, f"Bearer {token()}")
        connection.endheaders()
        response = connection.getresponse()
        body = response.read(MAX_BODY_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=str(exc) or exc.__class__.__name__)
    finally:
        connection.close()
    try:
        json_body = isinstance(json.loads(body), dict)
    except ValueError:
        json_body = False
    return Answer(response.status, response.getheader("Location") or "", json_body)


# --- what is sent, and what must come back ----------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    tenant: str
    expected: str
    request: Request
    accept: Callable[[Answer], bool]


def _prefix(tenant: Tenant) -> str:
    return urlsplit(tenant.url).path.rstrip("/")


def _origin(tenant: Tenant) -> str:
    return urlsplit(tenant.url).netloc


def _signed_out(answer: Answer) -> bool:
    if answer.status == 401:
        return True
    return answer.status in REDIRECTS and urlsplit(answer.location).hostname == SIGN_IN_HOST


def _api_answer(answer: Answer) -> bool:
    return answer.status == 200 and answer.json_body


def _refused(answer: Answer) -> bool:
    # Nothing tells one tenant's default experiment from another's, so any 2xx at a path
    # that must be refused counts as the other tenant's data.
    return answer.status is not None and not 200 <= answer.status < 300


def _forbidden(answer: Answer) -> bool:
    return answer.status == 403


def _api(tenant: Tenant, header: str | None) -> Request:
    return Request(tenant.url, f"{_prefix(tenant)}/{API_CALL}", _origin(tenant), header)


def tricks(mine: Tenant, other: Tenant) -> list[tuple[str, Request]]:
    """Requests for ``other``'s data dressed up to pass as ``mine`` (or as no tenant at
    all), each named by what it tries."""
    header = "Proxy-Authorization"
    if _origin(mine) == _origin(other):  # path prefixes on one domain
        host, a, b = _origin(other), _prefix(mine), _prefix(other)
        dotted_host = _with_trailing_dot(host)
        paths = [
            f"{a}/..{b}/",
            f"{a}/%2e%2e{b}/",
            f"{a}/%2E%2E{b}/",
            f"/{b}/",
            f"{a}/..;{b}/",
        ]
        shown = [(path, Request(other.url, path + API_CALL, host, header)) for path in paths]
        if b.upper() != b:
            shown.append((f"{b.upper()}/", Request(other.url, f"{b.upper()}/{API_CALL}", host,
                                                   header)))  # fmt: skip
        shown.append(
            (f"Host {dotted_host}", Request(other.url, f"{b}/{API_CALL}", dotted_host, header))
        )
        return shown
    # One host per tenant: the front end routes by Host, so the tricks are in the Host.
    theirs = _origin(other)
    target = f"{_prefix(other)}/{API_CALL}"
    scheme = urlsplit(other.url).scheme
    return [
        (f"Host {theirs} sent to {_origin(mine)}", Request(mine.url, target, theirs, header)),
        (
            f"absolute {scheme}://{theirs}/ sent to {_origin(mine)}",
            Request(mine.url, f"{scheme}://{theirs}{target}", _origin(mine), header),
        ),
        (f"Host {theirs.upper()}", Request(other.url, target, theirs.upper(), header)),
        (
            f"Host {_with_trailing_dot(theirs)}",
            Request(other.url, target, _with_trailing_dot(theirs), header),
        ),
    ]


def _with_trailing_dot(netloc: str) -> str:
    host, colon, port = netloc.rpartition(":")
    if colon and port.isascii() and port.isdigit() and not host.endswith("]"):
        return f"{host}.:{port}"
    return netloc + "."


def plan_checks(
    tenants: Sequence[Tenant], admin: str, through: Sequence[Tenant] = ()
) -> tuple[list[Check], list[Result]]:
    """The checks for ``tenants``, and the results of those that cannot run.

    ``through`` are further tenants the path tricks may go through (a NAME given on the
    command line is checked, but reached through any tenant the admin belongs to).
    """
    checks: list[Check] = []
    not_run: list[Result] = []
    member_of = {t.name: membership(t, admin) for t in [*tenants, *through]}
    gateways = [t for t in [*tenants, *through] if member_of[t.name]]
    for tenant in tenants:
        checks.append(
            Check("signed out", tenant.name, f"401 or 302 to {SIGN_IN_HOST}",
                  _api(tenant, None), _signed_out)
        )  # fmt: skip
        member = member_of[tenant.name]
        if member is None:
            groups = ", ".join(m for m in tenant.members if m.startswith("group:"))
            for name in ("member", "non-member", "health", "path tricks"):
                not_run.append(
                    Result(name, tenant.name, "-", f"not run: {admin} may be in {groups}", None)
                )
            continue
        if member:
            for header in TOKEN_HEADERS:
                checks.append(
                    Check(f"member, {header}", tenant.name, "200 JSON",
                          _api(tenant, header), _api_answer)
                )  # fmt: skip
            health = Request(tenant.url, f"{_prefix(tenant)}/health", _origin(tenant),
                             "Proxy-Authorization")  # fmt: skip
            checks.append(
                Check("health through the load balancer", tenant.name, "200", health,
                      lambda answer: answer.status == 200)
            )  # fmt: skip
            continue
        for header in TOKEN_HEADERS:
            checks.append(
                Check(f"non-member, {header}", tenant.name, "403",
                      _api(tenant, header), _forbidden)
            )  # fmt: skip
        not_run.append(
            Result("health through the load balancer", tenant.name, "200",
                   f"not run: {admin} is not a member", None)
        )  # fmt: skip
        if not gateways:
            not_run.append(
                Result("path tricks", tenant.name, REFUSED,
                       f"not run: {admin} is a member of no tenant", None)
            )  # fmt: skip
            continue
        for what, request in tricks(gateways[0], tenant):
            checks.append(Check(f"trick {what}", tenant.name, REFUSED, request, _refused))
    return checks, not_run


def membership_notes(tenants: Sequence[Tenant], admin: str) -> list[str]:
    """What did not run for lack of a tenant the admin is (or is not) a member of, and
    the membership that would let it run."""
    known = {t.name: membership(t, admin) for t in tenants}
    members = [name for name, is_member in known.items() if is_member]
    strangers = [name for name, is_member in known.items() if is_member is False]
    notes: list[str] = []
    if tenants and not members:
        name = tenants[0].name
        notes.append(
            f"{admin} is a member of no tenant: the member, health and path-trick checks "
            f"could not run. To run them, grant yourself one tenant for a while: "
            f"`mlflowk8s grant {name} user:{admin}`, `mlflowk8s apply`, `mlflowk8s verify`, "
            f"then `mlflowk8s revoke {name} user:{admin}` and `mlflowk8s apply`."
        )
    if tenants and not strangers and members:
        name = members[-1]
        notes.append(
            f"{admin} is a member of every tenant: the non-member and path-trick checks "
            f"could not run. To run them, leave one tenant for a while: "
            f"`mlflowk8s revoke {name} user:{admin}`, `mlflowk8s apply`, `mlflowk8s verify`, "
            f"then `mlflowk8s grant {name} user:{admin}` and `mlflowk8s apply`."
        )
    unknown = [name for name, is_member in known.items() if is_member is None]
    if unknown:
        notes.append(
            f"membership of {admin} in {', '.join(unknown)} depends on a group: those "
            "tenants got only the signed-out check (grant user:ADMIN to check them in full)."
        )
    return notes


def certificate_result(certificate: Callable[[], str | None]) -> Result | None:
    try:
        state = certificate()
    except MlflowK8sError as exc:
        return Result("certificate", "-", CERTIFICATE_ACTIVE, f"unknown: {exc}", False)
    if state is None:  # no certificate of ours (Cloud Run serves Google's)
        return None
    return Result("certificate", "-", CERTIFICATE_ACTIVE, state, state == CERTIFICATE_ACTIVE)


def verify(
    tenants: Sequence[Tenant],
    admin: str,
    token: Callable[[], str],
    certificate: Callable[[], str | None],
    timeout: float,
    *,
    through: Sequence[Tenant] = (),
    on_result: Callable[[Result, int, int], None] | None = None,
) -> Report:
    """Run every check on ``tenants`` (active ones) as ``admin``; ``token`` returns the
    admin's current ID token, ``certificate`` the lab certificate's state (None: none)."""
    report = Report(admin=admin)
    cert = certificate_result(certificate)
    if cert is not None:
        report.results.append(cert)
    checks, not_run = plan_checks(tenants, admin, through)
    total, done = len(checks), 0

    def run(check: Check) -> Result:
        answer = send(check.request, token, timeout)
        return Result(check.name, check.tenant, check.expected, answer.show(),
                      check.accept(answer))  # fmt: skip

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for result in pool.map(run, checks):
            done += 1
            report.results.append(result)
            if on_result is not None:
                on_result(result, done, total)
    report.results.extend(not_run)
    report.notes = membership_notes([*tenants, *through], admin)
    return report
