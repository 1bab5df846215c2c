"""``mlflowk8s doctor``: check this machine's setup and say what to fix.

Each check is a plain dict (name, status ok|warn|fail, detail, fix) so the CLI can print
it as text or JSON. Checks never raise: a failure is a result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s.auth import hosts
from mlflowk8s.auth.sources import ENV_AUDIENCE
from mlflowk8s.auth.tokens import IDToken
from mlflowk8s.errors import MlflowK8sError
from mlflowk8s.targets.base import Check
from mlflowk8s.targets.base import check as _check

if TYPE_CHECKING:
    from mlflowk8s.lab import Lab
    from mlflowk8s.targets.base import Target

HTTP_TIMEOUT_SECONDS = 10.0  # reaching a tenant


def _settings(folder: Path, lab: Lab | None) -> tuple[Check, Target | None]:
    if lab is None:
        return _check(
            "settings",
            "warn",
            f"no lab in {folder.resolve()} (researchers do not need one)",
            "admins: run in the lab folder or pass --lab-dir",
        ), None
    try:
        settings = lab.settings()
        target = lab.target()
    except MlflowK8sError as exc:
        return _check(
            "settings", "fail", str(exc), "correct the file, or run `mlflowk8s init`"
        ), None
    return _check("settings", "ok", f"{settings.path} (target {target.name})"), target


def _terraform() -> Check:
    from mlflowk8s.terraform.binary import find_terraform

    try:
        path, version = find_terraform()
    except MlflowK8sError as exc:
        return _check(
            "terraform", "warn", f"{exc} (only admins need it)",
            "https://developer.hashicorp.com/terraform/install",
        )  # fmt: skip
    return _check("terraform", "ok", f"Terraform {version} ({path})")


def _plugin() -> Check:
    import importlib.util
    from importlib.metadata import entry_points

    if importlib.util.find_spec("mlflow") is None:
        return _check(
            "mlflow plugin", "warn", "MLflow is not installed in this Python",
            "pip install 'mlflowk8s[client]' where your training code runs",
        )  # fmt: skip
    names = {ep.name for ep in entry_points(group="mlflow.request_auth_provider")}
    if hosts.AUTH_NAME not in names:
        return _check(
            "mlflow plugin", "fail", "the mlflowk8s request-auth plugin is not registered",
            "reinstall: pip install --force-reinstall mlflowk8s",
        )  # fmt: skip
    return _check(
        "mlflow plugin", "ok",
        f"{hosts.ENV_TRACKING_AUTH}={hosts.AUTH_NAME} makes MLflow send IAP tokens",
    )  # fmt: skip


@dataclass(frozen=True)
class TokenPlan:
    """What MLflow will do for the tracking URI: which header, whether a token goes."""

    header: str
    sends_token: bool


def _tracking(env: Mapping[str, str]) -> tuple[Check, TokenPlan | None]:
    uri = env.get(hosts.ENV_TRACKING_URI)
    fix = 'eval "$(mlflowk8s env NAME)" (NAME: your tenant)'
    if not uri:
        return _check("tracking URI", "warn", "MLFLOW_TRACKING_URI is not set", fix), None
    try:
        policy = hosts.TokenPolicy.from_environment(env, uri)
    except MlflowK8sError as exc:
        return _check("tracking URI", "fail", str(exc), fix), None
    if not uri.startswith(("http://", "https://")):
        return _check("tracking URI", "warn", f"{uri} is not a tracking server", fix), None
    decision = policy.decide(uri)
    auth_on = env.get(hosts.ENV_TRACKING_AUTH) == hosts.AUTH_NAME
    plan = TokenPlan(policy.header, auth_on and decision.token)
    if decision.problem:
        return _check("tracking URI", "fail", f"{uri}: {decision.problem}", fix), plan
    if not auth_on and policy.is_lab_server(uri):
        return _check(
            "tracking URI", "fail",
            f"{uri} is the lab's, but {hosts.ENV_TRACKING_AUTH} is not {hosts.AUTH_NAME!r}: "
            "MLflow sends no IAP token",
            f"export {hosts.ENV_TRACKING_AUTH}={hosts.AUTH_NAME}, or {fix}",
        ), plan  # fmt: skip
    if not auth_on:
        return _check(
            "tracking URI", "ok",
            f"{uri} (no IAP token: {hosts.ENV_TRACKING_AUTH} is not {hosts.AUTH_NAME!r})",
        ), plan  # fmt: skip
    if not decision.token:
        return _check(
            "tracking URI", "warn",
            f"{uri}: not one of the lab's hosts, mlflowk8s adds no IAP token",
            f"set {hosts.ENV_DOMAIN} or {hosts.ENV_TOKEN_HOSTS} to its host: {fix}",
        ), plan  # fmt: skip
    return _check("tracking URI", "ok", f"{uri} (token in {policy.header})"), plan


def _credentials(audience: str | None) -> tuple[Check, IDToken | None]:
    import time

    from mlflowk8s.auth.sources import find_source

    try:
        source = find_source(audience)
        token = source.fetch()
    except MlflowK8sError as exc:
        return _check(
            "credentials", "fail", str(exc),
            "run `mlflowk8s login`, or set GOOGLE_APPLICATION_CREDENTIALS for a job",
        ), None  # fmt: skip
    left = max(token.expiry - time.time(), 0)
    who = token.email or "unknown identity"
    return _check(
        "credentials", "ok", f"{source.description}: token for {who}, valid {left:.0f} s"
    ), token


def _auth_headers(plan: TokenPlan, token: IDToken | None) -> dict[str, str]:
    """The header MLflow would send the tenant (none when it sends no token)."""
    return {plan.header: f"Bearer {token.value}"} if token and plan.sends_token else {}


def _reach_tenant(uri: str, plan: TokenPlan, token: IDToken | None) -> Check:
    import requests

    url = uri.rstrip("/") + "/health"
    headers = _auth_headers(plan, token)
    try:
        response = requests.get(url, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return _check(
            "reachability", "fail", f"{url}: {exc.__class__.__name__}",
            "check the address; admins: `mlflowk8s status` (DNS, certificate)",
        )  # fmt: skip
    code = response.status_code
    if code == 200:
        return _check("reachability", "ok", f"{url} answers 200")
    who = (token.email if token else None) or "you"
    kind = "serviceAccount" if who.endswith(".gserviceaccount.com") else "user"
    if headers:
        unauthorized = ("IAP did not accept the token", "run `mlflowk8s login` again; jobs: "
                        f"check {ENV_AUDIENCE}")  # fmt: skip
    elif plan.sends_token:
        unauthorized = ("IAP got no token: no credentials here", "run `mlflowk8s login`")
    else:
        unauthorized = (
            "IAP got no token",
            f"export {hosts.ENV_TRACKING_AUTH}={hosts.AUTH_NAME} (`mlflowk8s env NAME`)",
        )
    fixes = {
        401: unauthorized,
        403: (
            f"IAP: {who} may not use this tenant",
            f"ask the lab admin: mlflowk8s grant NAME {kind}:{who}",
        ),
        404: ("no tenant at this address", "check the name in MLFLOW_TRACKING_URI"),
    }
    detail, fix = fixes.get(code, (f"HTTP {code}", "admins: `mlflowk8s status`"))
    return _check("reachability", "fail", f"{url}: {detail} (HTTP {code})", fix)


def _versions(uri: str, plan: TokenPlan, token: IDToken | None) -> Check:
    """This Python's MLflow client against the tenant's server: a minor apart is a warning."""
    from mlflowk8s import mlflow_versions as mv

    server = mv.served(uri, _auth_headers(plan, token), HTTP_TIMEOUT_SECONDS)
    if server is None:
        return _check(
            "mlflow version", "warn", f"{uri.rstrip('/')}/version gave no MLflow version",
            "admins: `mlflowk8s status` shows what each tenant runs",
        )  # fmt: skip
    client = mv.installed_client()
    if client is None:
        return _check(
            "mlflow version", "warn",
            f"the tenant runs MLflow {server}; no MLflow client (mlflow or mlflow-skinny) "
            "is installed in this Python",
            mv.align_command("mlflow-skinny", server),
        )  # fmt: skip
    both = f"client {client.distribution} {client.version}, server MLflow {server}"
    if mv.skewed(client.version, server):
        return _check(
            "mlflow version", "warn",
            f"{both}: a minor version apart (calls may fail or lose fields)",
            mv.align_command(client.distribution, server),
        )  # fmt: skip
    return _check("mlflow version", "ok", both)


def _reach_domain(domain: str) -> Check:
    import requests

    url = f"https://{domain}/"
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False)
    except requests.exceptions.SSLError:
        return _check(
            "reachability", "fail", f"{url}: TLS failed (certificate not active yet?)",
            "admins: `mlflowk8s status` shows the certificate and DNS delegation",
        )  # fmt: skip
    except requests.RequestException as exc:
        return _check(
            "reachability", "fail", f"{url}: {exc.__class__.__name__}",
            "admins: point DNS at the lab's IP (`mlflowk8s status`)",
        )  # fmt: skip
    return _check("reachability", "ok", f"{url} answers (HTTP {response.status_code})")


def run_checks(
    folder: Path,
    lab: Lab | None,
    lab_audience: Callable[[], str | None],
    environ: Mapping[str, str] | None = None,
) -> list[Check]:
    """The lab's settings, its target's admin checks, then the researcher's side."""
    env = os.environ if environ is None else environ
    settings_check, target = _settings(folder, lab)
    checks = [settings_check]
    if target is not None:
        # The target may say more about the settings than that they load (missing keys).
        for found in target.admin_checks(env):
            if found["name"] == "settings":
                checks[0] = found
            else:
                checks.append(found)
    elif lab is None:
        checks.append(_terraform())  # not in a lab: perhaps an admin's machine to be
    checks.append(_plugin())
    tracking_check, plan = _tracking(env)
    checks.append(tracking_check)
    uri = env.get("MLFLOW_TRACKING_URI", "")
    host = target.public_host() if target is not None else None
    # A lab whose tenants nobody signs in to (loopback servers) needs no Google login,
    # unless MLflow would send a token to the server the researcher points it at.
    local_lab = target is not None and host is None
    if local_lab and not uri:
        return checks
    token = None
    if not local_lab or (plan is not None and plan.sends_token):
        audience = env.get(ENV_AUDIENCE)
        if not audience:
            try:
                audience = lab_audience()
            except MlflowK8sError:
                audience = None
        credentials_check, token = _credentials(audience)
        checks.append(credentials_check)
    domain = env.get(hosts.ENV_DOMAIN) or host
    if plan is not None and uri.startswith(("http://", "https://")):
        reach = _reach_tenant(uri, plan, token)
        checks.append(reach)
        if reach["status"] == "ok":  # a tenant that does not answer has no version to tell
            checks.append(_versions(uri, plan, token))
    elif domain:
        checks.append(_reach_domain(domain))
    return checks
