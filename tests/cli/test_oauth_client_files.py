"""An OAuth client file that is missing, a folder or unreadable is said so (with its path
and how to get one); only a file that is no client JSON is called that. The real CLI,
offline: reading a client file asks no Google API."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli
from tests.support.unreachable_google import GCP_ENV, google_lab

INIT = ["init", "--no-input", "--project", "demo-project", "--region", "europe-west1",
        "--domain", "mlflow.lab.org"]  # fmt: skip
IAP_HOW = (
    "create the IAP client of type 'Web application' in the console (Google Auth Platform → "
    "Clients; README, step 2) and download its JSON there, or fix the path"
)
DESKTOP_HOW = (
    "create a client of type 'Desktop app' in the console (Google Auth Platform → Clients) "
    "and download its JSON there"
)


def test_init_with_a_missing_iap_client_file_says_it_does_not_exist(
    cli: Cli, tmp_path: Path
) -> None:
    missing = tmp_path / "client_secret_web.json"
    result = cli(*INIT, "--oauth-client-secret", str(missing))
    assert result.code == 2
    assert result.stderr == f"error: {missing}: does not exist: {IAP_HOW}\n"
    assert list(cli.lab.iterdir()) == []


def test_a_missing_desktop_client_file_in_env_says_it_does_not_exist(cli: Cli) -> None:
    google_lab(cli, GCP_ENV + "MLFLOWK8S_DESKTOP_CLIENT_FILE=desktop.json\n")
    result = cli("render")
    assert result.code == 2
    # Named as .env names it: relative to the lab folder, where the command ran.
    assert result.stderr == f"error: desktop.json: does not exist: {DESKTOP_HOW}\n"


def test_a_folder_named_as_the_iap_client_says_so(cli: Cli, tmp_path: Path) -> None:
    google_lab(cli, GCP_ENV + f"IAP_OAUTH_CLIENT_SECRET_FILE={tmp_path}\n")
    result = cli("render")
    assert result.code == 2
    assert result.stderr == f"error: {tmp_path}: is a folder, not a client JSON: {IAP_HOW}\n"


def test_an_unreadable_client_path_says_it_cannot_be_read(cli: Cli, tmp_path: Path) -> None:
    # Under a regular file: the path cannot be opened whoever runs the test (root included).
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = cli(*INIT, "--oauth-client-secret", str(not_a_folder / "client.json"))
    assert result.code == 2
    path = not_a_folder / "client.json"
    assert result.stderr == f"error: {path}: cannot be read (Not a directory)\n"


def test_a_json_that_is_no_client_keeps_its_message(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "service-account.json"
    other.write_text("[1, 2]")
    result = cli(*INIT, "--oauth-client-secret", str(other))
    assert result.code == 2
    assert result.stderr == (
        f"error: {other}: is not an OAuth client JSON downloaded from the Google Cloud console\n"
    )
