"""The one reader of OAuth client JSON files, and the commands that must agree on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflowk8s.errors import ConfigFileError
from mlflowk8s.google.clients import programmatic_client_ids
from mlflowk8s.lab.settings import load_settings
from mlflowk8s.oauth_client import GOOGLE_AUTH_URI, ClientRole, read_oauth_client
from tests.client.helpers import write_json
from tests.conftest import Cli

INSTALLED = {"installed": {"client_id": "id", "client_secret": "SECRET-1", "token_uri": "http://t"}}
WEB = {"web": {"client_id": "web-id", "client_secret": "SECRET-2"}}


def test_a_desktop_client_is_read_with_its_endpoints_and_a_hidden_secret(tmp_path: Path) -> None:
    client = read_oauth_client(write_json(tmp_path / "c.json", INSTALLED), ClientRole.DESKTOP)
    assert (client.client_id, client.kind, client.token_uri, client.auth_uri) == (
        "id", "installed", "http://t", GOOGLE_AUTH_URI,
    )  # fmt: skip
    assert "SECRET-1" not in repr(client)


@pytest.mark.parametrize(("content", "kind"), [(WEB, "web"), (INSTALLED, "installed")])
def test_the_iap_client_may_be_web_or_installed(
    tmp_path: Path, content: dict[str, object], kind: str
) -> None:
    client = read_oauth_client(write_json(tmp_path / "c.json", content), ClientRole.IAP)
    assert client.kind == kind


@pytest.mark.parametrize(
    ("content", "role", "message"),
    [
        (WEB, ClientRole.DESKTOP, "is not a desktop OAuth client (found web): `mlflowk8s login`"),
        ({"other": {}}, ClientRole.IAP, "is not a web or desktop OAuth client (found other)"),
        ("not json", ClientRole.IAP, "is not an OAuth client JSON downloaded from the Google"),
        ([1, 2], ClientRole.DESKTOP, "is not an OAuth client JSON downloaded from the Google"),
        ({"installed": {"client_id": "a"}}, ClientRole.DESKTOP, "has no client_id or client_s"),
        ({"web": {"client_id": "", "client_secret": "SECRET-3"}}, ClientRole.IAP, "has an empty"),
    ],
)
def test_a_wrong_client_file_names_the_file_and_never_its_secret(
    tmp_path: Path, content: object, role: ClientRole, message: str
) -> None:
    path = tmp_path / "client.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ConfigFileError) as info:
        read_oauth_client(path, role)
    assert str(info.value).startswith(f"{path}: {message}")
    assert "SECRET" not in str(info.value)


GCP_ENV = (
    "GCP_PROJECT=lab-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=lab-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)


def test_init_render_and_login_agree_that_a_web_client_is_no_desktop_client(
    cli: Cli, tmp_path: Path
) -> None:
    """Regression: `render` allow-listed a web client given as the desktop client, which
    `login` then refused. Now all three refuse it with the same line, exit 2."""
    web = write_json(tmp_path / "client_secret_web.json", WEB)
    env_file = cli.lab / ".env"
    env_file.write_text(f"{GCP_ENV}MLFLOWK8S_DESKTOP_CLIENT_FILE={web}\n")
    expected = f"error: {web}: is not a desktop OAuth client (found web): "
    results = {
        "init": cli("init", "--no-input"),
        "render": cli("render"),
        "login": cli("login", "--no-browser", "--timeout", "1"),
    }
    for command, result in results.items():
        assert (command, result.code) == (command, 2)
        assert result.stderr.startswith(expected), (command, result.stderr)
        assert len(result.stderr.splitlines()) == 1
        assert "SECRET-2" not in result.stdout + result.stderr
    assert env_file.read_text() == f"{GCP_ENV}MLFLOWK8S_DESKTOP_CLIENT_FILE={web}\n"
    assert not (cli.lab / ".mlflowk8s").exists()

    desktop = write_json(tmp_path / "client_secret_desktop.json", INSTALLED)
    env_file.write_text(f"{GCP_ENV}MLFLOWK8S_DESKTOP_CLIENT_FILE={desktop}\n")
    rendered = cli("render", "--json")
    assert rendered.code == 0, rendered.stderr
    assert "iap_programmatic_client_ids" not in json.loads(rendered.stdout)["platform"]
    # The CLI allow-lists it in the project's IAP settings at apply (not Terraform).
    assert programmatic_client_ids(load_settings(cli.lab)) == ["id"]
