"""``verify``: after a real apply, check sign-in and isolation live (``mlflowk8s.verify``).

This module only gathers what the core needs from the lab (tenants from the target's
status, the admin's `login` token, the certificate's state) and shows the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import app_of

if TYPE_CHECKING:
    from rich.console import Console

    from mlflowk8s.targets.base import Target, Verifiable
    from mlflowk8s.verify import Report, Result, Tenant

TIMEOUT_SECONDS = 10.0


def _behind_iap(target: Target) -> Verifiable:
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.base import Verifiable

    # Only a target with IAP in front of its tenants has anything to verify.
    if not isinstance(target, Verifiable):
        raise UsageError(
            f"verify checks Identity-Aware Proxy; the {target.name} target has none in front "
            "of its servers: see `mlflowk8s status`"
        )
    return target


def _tenants(target: Target, names: list[str]) -> tuple[list[Tenant], list[Tenant], str | None]:
    """(tenants to check, other active tenants, the certificate's state)."""
    from mlflowk8s.errors import OperationError, UsageError
    from mlflowk8s.verify import Tenant

    status = target.status(check_health=False)
    active = [
        Tenant(t.name, t.url, tuple(t.members)) for t in status.tenants if t.state != "retired"
    ]
    if not active:
        if status.facts.get("platform"):  # not created yet: the fact names the command
            raise OperationError(f"nothing to verify: platform {status.facts['platform']}")
        raise OperationError("nothing to verify: no active tenant is applied (add-user, apply)")
    known = {t.name for t in active}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(
            f"no applied active tenant {', '.join(map(repr, unknown))} (see `mlflowk8s status`)"
        )
    chosen = [t for t in active if t.name in names] if names else active
    others = [t for t in active if t not in chosen]
    certificate = status.facts.get("certificate")
    return chosen, others, str(certificate) if certificate is not None else None


def _admin_token(target: Verifiable) -> Callable[[], str]:
    """A callable returning the admin's current ID token from their `mlflowk8s login`
    (whose audience is the lab's desktop client id); nothing is fetched yet."""
    from mlflowk8s.auth.cache import CachedToken
    from mlflowk8s.auth.sources import RefreshTokenSource
    from mlflowk8s.auth.stored_login import credentials_path, load_login
    from mlflowk8s.errors import CredentialsError, UsageError

    path = credentials_path()
    login = load_login(path)
    if login is None:
        # IAP must see the admin as a person: a service account would prove nothing.
        raise CredentialsError("verify signs in as you: run `mlflowk8s login` first")
    expected = target.desktop_client_id()
    if expected and login.client_id != expected:
        raise UsageError(
            f"your login ({path}) is for OAuth client {login.client_id}, this lab's desktop "
            f"client is {expected}: run `mlflowk8s login` in the lab folder"
        )
    cached = CachedToken(RefreshTokenSource(login, path))
    return lambda: cached.get().value


def _email(token: Callable[[], str]) -> str:
    """Who IAP sees: the email in the token itself."""
    from mlflowk8s.auth.tokens import decode_claims
    from mlflowk8s.errors import CredentialsError

    email = decode_claims(token()).get("email")
    if not isinstance(email, str) or not email:
        raise CredentialsError("your login's ID token names no email: run `mlflowk8s login`")
    return email


def show_report(console: Console, report: Report) -> None:
    from rich.table import Table

    table = Table("", "check", "tenant", "expected", "got", box=None)
    marks = {True: "ok", False: "FAIL", None: "-"}
    for result in report.results:
        table.add_row(marks[result.ok], result.check, result.tenant, result.expected, result.got)
    console.print(table)
    for note in report.notes:
        console.print(note, soft_wrap=True, markup=False)
    failed, not_run = len(report.failed), len(report.not_run)
    ran = len(report.results) - not_run
    summary = f"{ran - failed} of {ran} checks passed as {report.admin}"
    if not_run:
        summary += f"; {not_run} could not run"
    console.print(summary + ("." if not failed else f"; {failed} FAILED."), markup=False)


def verify(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tenants to check (default: every active one).", metavar="NAME", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.", min=1)
    ] = TIMEOUT_SECONDS,
) -> None:
    """After a real apply: check sign-in and isolation live, as you (`mlflowk8s login`).

    Per tenant: a signed-out request is sent to Google's sign-in (or 401); with your token
    a tenant you are a member of answers the API and health, one you are not refuses (403),
    also when asked through yours with path tricks (/you/../them/, %2e%2e, //them/, ..;,
    upper case, a trailing dot in the host). And the certificate is ACTIVE. Exit 1 on any
    failure; the README's "First real apply" says what each one means.
    """
    from rich.console import Console

    from mlflowk8s.verify import verify as run

    app = app_of(ctx)
    target = app.lab.target()
    token = _admin_token(_behind_iap(target))
    tenants, others, certificate = _tenants(target, names or [])
    admin = _email(token)
    errors = Console(stderr=True, highlight=False)
    with errors.status("verifying", spinner="dots") as progress:

        def on_result(result: Result, done: int, total: int) -> None:
            progress.update(f"verifying: {done} of {total} requests answered")

        report = run(tenants, admin, token, lambda: certificate, timeout,
                     through=others, on_result=on_result)  # fmt: skip
    if as_json:
        app.print_json(report.as_json())
    else:
        show_report(app.console, report)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(verify)
