""".env settings: parsing, validation, in-place rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflowk8s.errors import ConfigFileError, UsageError
from mlflowk8s.lab.settings import load_settings, render_env, save_settings, validate_setting
from mlflowk8s.targets.gcp.settings import optional_platform_vars


def test_rewrite_keeps_comments_order_and_unknown_keys() -> None:
    text = "# lab settings\nGCP_PROJECT=old-project\nMY_OWN=keep me\n\nGCP_REGION=europe-west1\n"
    out = render_env(text, {"GCP_PROJECT": "new-project", "MLFLOW_DOMAIN": "mlflow.lab.org"})
    assert out == (
        "# lab settings\nGCP_PROJECT=new-project\nMY_OWN=keep me\n\nGCP_REGION=europe-west1\n"
        "MLFLOW_DOMAIN=mlflow.lab.org\n"
    )


def test_values_with_spaces_are_quoted_and_read_back(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    settings = load_settings(tmp_path)
    save_settings(settings, {"IAP_OAUTH_CLIENT_SECRET_FILE": '/home/a b/client "x".json'})
    reread = load_settings(tmp_path).get("IAP_OAUTH_CLIENT_SECRET_FILE")
    assert reread == '/home/a b/client "x".json'
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600


def test_malformed_line_is_reported_with_its_number(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GCP_PROJECT=demo-project\nthis is not a setting\n")
    with pytest.raises(ConfigFileError, match=r"\.env:2: not a KEY=value line"):
        load_settings(tmp_path)


def test_invalid_known_value_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GCP_PROJECT=demo-project\nGCP_REGION=Mars\n")
    with pytest.raises(ConfigFileError, match=r"\.env:2: GCP_REGION='Mars'"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("key", "value"),
    [("GCP_PROJECT", "Demo"), ("GCP_PROJECT", "abc"), ("MLFLOW_DOMAIN", "not a host"),
     ("TF_GCS_BUCKET", "B"), ("MLFLOWK8S_TARGET", "aws"), ("GKE_SPOT", "perhaps"),
     ("GKE_MIN_NODES", "two")],
)  # fmt: skip
def test_bad_values_are_rejected(key: str, value: str) -> None:
    with pytest.raises(UsageError, match=key):
        validate_setting(key, value)


def test_optional_platform_settings_are_typed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "GKE_SPOT=yes\nGKE_MAX_NODES=3\nIAP_PROGRAMMATIC_CLIENT_IDS=a.apps, b.apps\n"
    )
    assert optional_platform_vars(load_settings(tmp_path)) == {
        "gke_spot": True,
        "gke_max_nodes": 3,
    }


def test_require_lists_every_missing_setting(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GCP_PROJECT=demo-project\n")
    with pytest.raises(
        UsageError, match=r"missing settings in .*\.env: GCP_REGION, MLFLOW_DOMAIN \("
    ):
        load_settings(tmp_path).require("GCP_PROJECT", "GCP_REGION", "MLFLOW_DOMAIN")


def test_env_example_is_valid_with_every_optional_key_set(tmp_path: Path) -> None:
    import re

    from tests.conftest import REPO

    example = (REPO / ".env.example").read_text()
    uncommented = re.sub(r"(?m)^# ([A-Z][A-Z0-9_]*=)", r"\1", example)
    (tmp_path / ".env").write_text(uncommented)
    settings = load_settings(tmp_path)
    assert settings.get("MLFLOWK8S_DESKTOP_CLIENT_FILE") == "client_secret_desktop.json"
    assert settings.get("MLFLOWK8S_LOCAL_BASE_PORT") == "5100"
    assert optional_platform_vars(settings)["gke_spot"] is False
