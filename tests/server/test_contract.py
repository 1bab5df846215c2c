"""The launcher does what ``mlflow server``'s parent does, checked against the real one.

The real ``mlflow server`` (MLflow as pinned) runs with a tenant's flags from server.py;
a stand-in ``uvicorn`` package first on PYTHONPATH receives its ``python -m uvicorn``
child's start, records argv and environment and exits. The launcher runs for the same
tenant, exactly as server.py's command says, against the same stand-in: its in-process
``uvicorn.Server(Config(...)).run()`` records the settings and the environment at that
point (after the stores were built) and returns. Both must agree: the same environment
(the boot id, a fresh uuid per start, compared by shape) and the same uvicorn settings.
An MLflow upgrade that changes what the server sets fails here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlflowk8s import launcher, server
from tests.server.support import server_env

pytestmark = pytest.mark.slow

# `python -m uvicorn ARGS` (mlflow server's child) records its argv and environment.
STANDIN_MAIN = """\
import json, os, sys
with open(os.environ["UVICORN_STANDIN_RECORD"], "w") as out:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, out)
"""
# `uvicorn.Server(uvicorn.Config(app, **settings)).run()` (the launcher) records the settings.
STANDIN_INIT = """\
import json, os


class Config:
    def __init__(self, app, **settings):
        self.app, self.settings = app, settings


class Server:
    def __init__(self, config):
        self.config = config

    def run(self):
        with open(os.environ["UVICORN_STANDIN_RECORD"], "w") as out:
            json.dump({"settings": self.config.settings, "app": callable(self.config.app),
                       "env": dict(os.environ)}, out)
"""
BOOT_ID = "<boot id>"


def _record(tmp: Path, name: str, argv: list[str], env: dict[str, str]) -> Any:
    """Run ``argv`` with the stand-in uvicorn first on PYTHONPATH; what it recorded."""
    standin = tmp / "standin" / "uvicorn"
    if not standin.is_dir():
        standin.mkdir(parents=True)
        (standin / "__init__.py").write_text(STANDIN_INIT)
        (standin / "__main__.py").write_text(STANDIN_MAIN)
    record = tmp / f"{name}.json"
    env = {**env, "PYTHONPATH": str(standin.parent), "UVICORN_STANDIN_RECORD": str(record)}
    proc = subprocess.run(argv, env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert record.is_file(), f"{name} reached no uvicorn start: {proc.stderr[-3000:]}"
    return json.loads(record.read_text())


def _set_by(recorded: Any, env: dict[str, str]) -> dict[str, str]:
    """The variables a program added or changed, compared with the environment it was given."""
    ignored = {"PYTHONPATH", "UVICORN_STANDIN_RECORD"}
    seen: dict[str, str] = recorded["env"]
    assert set(env) - ignored <= set(seen), "variables were removed"
    return {k: v for k, v in seen.items() if k not in ignored and env.get(k) != v}


def _normalized(env: dict[str, str]) -> dict[str, str]:
    assert re.fullmatch(r"[0-9a-f]{32}", env[launcher.ENV_BOOT_ID]), env[launcher.ENV_BOOT_ID]
    return {**env, launcher.ENV_BOOT_ID: BOOT_ID}


def _uvicorn_params(argv: list[str]) -> tuple[dict[str, Any], set[str]]:
    """uvicorn's own CLI parses the child's argv: its parameters and those given explicitly."""
    import importlib

    import click

    command: click.Command = importlib.import_module("uvicorn.main").main
    ctx = command.make_context("uvicorn", list(argv))
    commandline = click.core.ParameterSource.COMMANDLINE
    given = {name for name in ctx.params if ctx.get_parameter_source(name) == commandline}
    return ctx.params, given


TARGETS = {
    "local": lambda tmp: server.LocalTarget(port=5123, data_dir=tmp / "data"),
    "pod": lambda tmp: server.PodTarget("mlflow.lab.org", "lab-artifacts"),
    "cloudrun": lambda tmp: server.CloudRunTarget("alice-123.europe-west1.run.app", "lab-art"),
}


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_launcher_sets_what_mlflow_server_sets(tmp_path: Path, kind: str) -> None:
    target = TARGETS[kind](tmp_path)
    (tmp_path / "data").mkdir()
    # Pods and Cloud Run read the store from the environment (Terraform sets it).
    store = {"MLFLOW_BACKEND_STORE_URI": f"sqlite:///{tmp_path / 'pod.db'}"}
    command = server.server_command("alice", target)
    env = server_env(**command.env, **({} if kind == "local" else store))

    mlflow = _record(tmp_path, "mlflow", [str(Path(sys.executable).parent / "mlflow"),
                                           *command.args], env)  # fmt: skip
    launch_cmd = server.launcher_command("alice", target)
    assert launch_cmd.env == command.env
    # Pods run `python -c <source>`: here with this interpreter, the same source.
    argv = [sys.executable, *launch_cmd.argv[1:]]
    ours = _record(tmp_path, "launcher", argv, env)

    assert _normalized(_set_by(ours, env)) == _normalized(_set_by(mlflow, env))
    assert ours["app"] is True
    params, given = _uvicorn_params(mlflow["argv"])
    assert params["app"] == "mlflow.server.fastapi_app:app"
    settings: dict[str, Any] = ours["settings"]
    # Every uvicorn setting mlflow server passes, the launcher passes with the same value,
    # and what it passes beyond them is uvicorn's default there.
    for name in given - {"app"}:
        assert settings.get(name) == params[name], name
    for name, value in settings.items():
        assert value == params[name], name


def test_the_contract_covers_every_target_form(tmp_path: Path) -> None:
    """The three forms differ where they should: prefix, proxy trust, keep-alive."""
    forms = {kind: server.tenant_server("alice", make(tmp_path)) for kind, make in TARGETS.items()}
    assert {k: f.static_prefix for k, f in forms.items()} == {
        "local": "/alice", "pod": "/alice", "cloudrun": None}  # fmt: skip
    assert {k: f.forwarded_allow_ips for k, f in forms.items()} == {
        "local": None, "pod": "*", "cloudrun": "*"}  # fmt: skip
    assert {k: f.timeout_keep_alive for k, f in forms.items()} == {
        "local": None, "pod": server.POD_KEEP_ALIVE, "cloudrun": None}  # fmt: skip
