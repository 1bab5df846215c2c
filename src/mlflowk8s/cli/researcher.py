"""Researcher commands: ``login``, ``env``, ``token``, ``doctor``.

Only Typer is imported at start-up; each command imports what it needs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import app_of as lab

if TYPE_CHECKING:
    from mlflowk8s.cli.context import App as LabContext
    from mlflowk8s.oauth_client import OAuthClient

from mlflowk8s.lab.settings import (
    DESKTOP_CLIENT_FILE,
    DESKTOP_CLIENT_ID,
    DESKTOP_CLIENT_SECRET,
    IAP_AUDIENCE,
)

# zsh and sh take the same POSIX quoting as bash.
SHELLS = ("bash", "zsh", "sh", "fish", "powershell")


def _desktop_client(
    lc: LabContext, client_file: Path | None, client_id: str | None, client_secret: str | None
) -> OAuthClient:
    from mlflowk8s.errors import UsageError
    from mlflowk8s.oauth_client import ClientRole, OAuthClient, read_oauth_client

    if client_file is not None:
        return read_oauth_client(client_file, ClientRole.DESKTOP)
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise UsageError("--client-id and --client-secret go together")
        return OAuthClient(client_id, client_secret)
    settings = lc.settings()
    path = settings.file_path(DESKTOP_CLIENT_FILE)
    if path:
        return read_oauth_client(path, ClientRole.DESKTOP)
    if settings.get(DESKTOP_CLIENT_ID) and settings.get(DESKTOP_CLIENT_SECRET):
        return OAuthClient(
            str(settings.get(DESKTOP_CLIENT_ID)), str(settings.get(DESKTOP_CLIENT_SECRET))
        )
    raise UsageError(
        "no desktop OAuth client: pass --client-file (the JSON your admin shares) or "
        f"--client-id/--client-secret, or set {DESKTOP_CLIENT_ID} and {DESKTOP_CLIENT_SECRET} "
        "in the lab's .env"
    )


def login(
    ctx: typer.Context,
    client_file: Annotated[
        Path | None,
        typer.Option(
            "--client-file",
            help="The lab's desktop OAuth client JSON (downloaded from the console).",
            dir_okay=False,
        ),
    ] = None,
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", envvar=DESKTOP_CLIENT_ID, help="Desktop OAuth client id."),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option(
            "--client-secret",
            envvar=DESKTOP_CLIENT_SECRET,
            help="Desktop OAuth client secret (prefer --client-file: command lines show in ps).",
            show_default=False,
        ),
    ] = None,
    no_browser: Annotated[
        bool,
        typer.Option("--no-browser", help="Print the sign-in address instead of opening it."),
    ] = False,
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 for Google's redirect (0: any).")
    ] = 0,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the sign-in.")
    ] = 300.0,
) -> None:
    """Sign in with your Google account once; MLflow then sends IAP tokens for you
    (with MLFLOW_TRACKING_AUTH=mlflowk8s, which `mlflowk8s env NAME` sets).

    The refresh token is stored in ~/.config/mlflowk8s/credentials.json (mode 0600).
    On a remote machine, forward the redirect port first:
    ssh -L 8085:127.0.0.1:8085 HOST, then mlflowk8s login --no-browser --port 8085.
    """
    from mlflowk8s.auth.login_flow import run_login
    from mlflowk8s.auth.stored_login import save_login

    lc = lab(ctx)
    client = _desktop_client(lc, client_file, client_id, client_secret)

    def announce(url: str) -> None:
        verb = "Open this address" if no_browser else "Your browser opens; if not, open"
        sys.stderr.write(f"{verb} to sign in:\n\n    {url}\n\n")
        sys.stderr.flush()

    stored = run_login(client, announce=announce, open_browser=not no_browser, port=port,
                       timeout=timeout)  # fmt: skip
    path = save_login(stored)
    lc.say(f"Signed in as {stored.email or 'unknown account'}; login stored in {path}.")


def _audience(lc: LabContext) -> str | None:
    """The IAP audience the lab uses: .env, else the one its target knows."""
    from mlflowk8s.errors import ConfigFileError

    settings = lc.settings()
    if settings.get(IAP_AUDIENCE):
        return settings.get(IAP_AUDIENCE)
    found = lc.lab_if_any()
    if found is None:
        return None
    try:
        return found.target().iap_audience()
    except ConfigFileError:
        return None  # the admin's client file is not on a researcher's machine


def _quote(shell: str, value: str) -> str:
    """Quote for ``shell``; bash, zsh and sh share POSIX quoting."""
    if shell == "powershell":
        return "'" + value.replace("'", "''") + "'"
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    import shlex

    return shlex.quote(value)


def _export(shell: str, key: str, value: str) -> str:
    if shell == "fish":
        return f"set -gx {key} {_quote(shell, value)}"
    if shell == "powershell":
        return f"$env:{key} = {_quote(shell, value)}"
    return f"export {key}={_quote(shell, value)}"


def env(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The tenant (user or project) to log to.")],
    shell: Annotated[
        str, typer.Option("--shell", help="bash, zsh, sh, fish or powershell.")
    ] = "bash",
    domain: Annotated[
        str | None,
        typer.Option("--domain", help="The lab's domain, when you have no lab folder."),
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option("--audience", help="The IAP audience, when you have no lab folder."),
    ] = None,
) -> None:
    """Print the environment for logging to tenant NAME: eval "$(mlflowk8s env NAME)".

    On Google Cloud it sets MLFLOW_TRACKING_URI, MLFLOW_TRACKING_AUTH=mlflowk8s (MLflow then
    asks mlflowk8s for every request, and only the lab's hosts get your token), the lab's
    domain (on Cloud Run MLFLOWK8S_TOKEN_HOSTS, the tenant's exact host) and the IAP
    audience.

    It also sends large files straight to storage: MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true,
    MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE and MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE (16 MiB
    each) make MLflow upload every file from 16 MiB in 16 MiB parts, to URLs your tenant's
    server signs for its own folder. Cloud Run refuses request bodies over 32 MiB, and
    MLflow's default threshold (500 MiB) would leave files of 32-500 MiB failing there; on
    GKE it keeps large uploads out of the server's memory.

    A local lab needs no token: only the URI is set.
    """
    from mlflowk8s.auth.hosts import lab_exports
    from mlflowk8s.errors import UsageError
    from mlflowk8s.lab.users import validate_name
    from mlflowk8s.names import HOST_RE
    from mlflowk8s.server import public_url
    from mlflowk8s.targets.base import Verifiable

    lc = lab(ctx)
    if shell not in SHELLS:
        raise UsageError(f"--shell {shell!r} is not one of: {', '.join(SHELLS)}")
    validate_name(name)
    found = lc.lab_if_any()
    if found is not None and found.has_users_file():
        active = {user.name for user in found.users().active_users()}
        if name not in active:
            raise UsageError(f"no active user {name!r} in this lab (see `mlflowk8s users`)")
    target = found.target() if found is not None and domain is None else None
    lines: list[str] = []
    if target is not None and target.public_host() is None and not isinstance(target, Verifiable):
        exports = {"MLFLOW_TRACKING_URI": target.tenant_url(name)}
    else:
        if target is not None and target.public_host() is None:
            # A host per tenant (Cloud Run): that exact host gets tokens, no other.
            exports = lab_exports(target.tenant_url(name), None)
        else:
            domain = domain or (target.public_host() if target is not None else None)
            if not domain:
                raise UsageError(
                    "no lab domain: run in the lab folder (or --lab-dir DIR), or pass --domain "
                    f"(none in {lc.settings().path})"
                )
            if not HOST_RE.fullmatch(domain):
                raise UsageError(f"--domain {domain!r} is not a lower-case host name")
            exports = lab_exports(public_url(domain, name), domain)
        audience = audience or _audience(lc)
        if audience:
            exports[IAP_AUDIENCE] = audience
        else:
            lines.append(
                f"# {IAP_AUDIENCE} is not in the lab's .env: people signed in with "
                "`mlflowk8s login` do not need it; jobs with a service account do"
            )
    exports["MLFLOW_DISABLE_TELEMETRY"] = "true"
    lines.extend(_export(shell, key, value) for key, value in exports.items())
    sys.stdout.write("\n".join(lines) + "\n")


def token(
    ctx: typer.Context,
    audience: Annotated[
        str | None,
        typer.Option(
            "--audience",
            envvar=IAP_AUDIENCE,
            help="IAP audience (OAuth client id) for service accounts; default from .env.",
        ),
    ] = None,
) -> None:
    """Print an IAP ID token for curl and scripts.

    Example: curl -H "Proxy-Authorization: Bearer $(mlflowk8s token)" https://DOMAIN/NAME/health
    """
    from mlflowk8s.auth.sources import find_source

    lc = lab(ctx)
    source = find_source(audience or _audience(lc))
    sys.stdout.write(source.fetch().value + "\n")


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check this machine's setup (Terraform, credentials, settings, reachability)."""
    from mlflowk8s.doctor import run_checks

    lc = lab(ctx)
    checks = run_checks(lc.lab_dir, lc.lab_if_any(), lambda: _audience(lc))
    failed = any(check["status"] == "fail" for check in checks)
    if as_json:
        lc.print_json({"ok": not failed, "checks": checks})
    else:
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for check in checks:
            line = f"{marks[check['status']]} {check['name']}: {check['detail']}"
            if check.get("fix"):
                line += f"\n     fix: {check['fix']}"
            lc.say(line)
        lc.say("Everything looks fine." if not failed else "Fix the FAIL lines above.")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Researcher commands are registered here."""
    app.command("login")(login)
    app.command("env")(env)
    app.command("token")(token)
    app.command("doctor")(doctor)
