"""``mlflowk8s doctor``: check this machine's setup and say what to fix.

Each check is a plain dict (name, status ok|warn|fail, detail, fix) so the CLI can print
it as text or JSON. Checks never raise: a failure is a result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlflowk8s import auth
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
    names = {ep.name for ep in entry_points(group="mlflow.request_header_provider")}
    if "mlflowk8s" not in names:
        return _check(
            "mlflow plugin", "fail", "the mlflowk8s request-header plugin is not registered",
            "reinstall: pip install --force-reinstall mlflowk8s",
        )  # fmt: skip
    return _check("mlflow plugin", "ok", "MLflow will send IAP tokens through mlflowk8s")


def _tracking(env: Mapping[str, str]) -> tuple[Check, auth.PluginConfig | None]:
    uri = env.get("MLFLOW_TRACKING_URI")
    fix = 'eval "$(mlflowk8s env NAME)" (NAME: your tenant)'
    if not uri:
        return _check("tracking URI", "warn", "MLFLOW_TRACKING_URI is not set", fix), None
    try:
        config = auth.plugin_config(uri, env)
    except MlflowK8sError as exc:
        return _check("tracking URI", "fail", str(exc), f"unset {auth.ENV_HEADER}"), None
    if not uri.startswith(("http://", "https://")):
        return _check("tracking URI", "warn", f"{uri} is not a tracking server", fix), None
    if not auth.sends_tokens_safely(uri):
        return _check(
            "tracking URI", "fail", f"{uri}: a token would cross the network in clear",
            "use https:// (http:// only to 127.0.0.1, e.g. through an ssh tunnel)",
        ), config  # fmt: skip
    if not config.active:
        return _check(
            "tracking URI", "warn",
            f"{uri}: mlflowk8s adds no IAP token for this host",
            f"set MLFLOW_DOMAIN to its host or {auth.ENV_AUDIENCE}: {fix}",
        ), config  # fmt: skip
    return _check("tracking URI", "ok", f"{uri} (token in {config.header})"), config


def _credentials(audience: str | None) -> tuple[Check, auth.IDToken | None]:
    import time

    try:
        source = auth.find_source(audience)
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


def _reach_tenant(uri: str, config: auth.PluginConfig, token: auth.IDToken | None) -> Check:
    import requests

    url = uri.rstrip("/") + "/health"
    headers = {config.header: f"Bearer {token.value}"} if token and config.active else {}
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
    fixes = {
        401: (
            "IAP did not accept the token",
            "run `mlflowk8s login` again; jobs: check " + auth.ENV_AUDIENCE,
        ),
        403: (
            f"IAP: {who} may not use this tenant",
            f"ask the lab admin: mlflowk8s grant NAME {kind}:{who}",
        ),
        404: ("no tenant at this address", "check the name in MLFLOW_TRACKING_URI"),
    }
    detail, fix = fixes.get(code, (f"HTTP {code}", "admins: `mlflowk8s status`"))
    return _check("reachability", "fail", f"{url}: {detail} (HTTP {code})", fix)


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
    tracking_check, config = _tracking(env)
    checks.append(tracking_check)
    uri = env.get("MLFLOW_TRACKING_URI", "")
    host = target.public_host() if target is not None else None
    # A lab whose tenants nobody signs in to (loopback servers) needs no Google login,
    # unless the researcher points MLflow at a server elsewhere.
    if target is not None and host is None and not uri:
        return checks
    audience = env.get(auth.ENV_AUDIENCE)
    if not audience:
        try:
            audience = lab_audience()
        except MlflowK8sError:
            audience = None
    credentials_check, token = _credentials(audience)
    checks.append(credentials_check)
    domain = env.get(auth.ENV_DOMAIN) or host
    if config is not None and uri.startswith(("http://", "https://")):
        checks.append(_reach_tenant(uri, config, token))
    elif domain:
        checks.append(_reach_domain(domain))
    return checks
