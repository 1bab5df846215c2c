"""Where the researcher's token goes: real MLflow clients, in process, against capture servers.

The lab's server is a capture server on 127.0.0.2 reached as a tunnel (the http tracking
URI); "elsewhere" is another on 127.0.0.3. Google stands in for the token endpoint
(tests/support/iap_standin.py); the tokens are real signed JWTs of a stored login.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflowk8s import mlflow_plugin
from mlflowk8s.auth import cache, sources, stored_login, tokens
from tests.client.helpers import ALICE, DESKTOP_CLIENT, IAP_AUDIENCE
from tests.support.capture import Capture, Reply, self_signed
from tests.support.iap_standin import GoogleStandIn

pytest.importorskip("mlflow")

CLEARED = ("MLFLOW_", "MLFLOWK8S_", "GOOGLE_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
           "NO_PROXY", "NETRC", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")  # fmt: skip


@pytest.fixture(autouse=True)
def researcher(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, google: GoogleStandIn
) -> GoogleStandIn:
    """A signed-in researcher's process with nothing else configured."""
    import os

    for key in list(os.environ):
        if key.upper().startswith(CLEARED):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setattr("google.auth.compute_engine._metadata.ping", lambda *a, **k: False)
    monkeypatch.setattr(cache, "_provider", cache.TokenProvider())
    monkeypatch.setattr(mlflow_plugin, "_report", mlflow_plugin._Reporter())
    refresh = f"1//{ALICE}"
    google.refresh_tokens[refresh] = (DESKTOP_CLIENT, ALICE)
    stored_login.save_login(
        stored_login.StoredLogin(
            DESKTOP_CLIENT, google.clients[DESKTOP_CLIENT], refresh, google.token_uri, ALICE
        )
    )
    return google


@pytest.fixture
def lab() -> Iterator[Capture]:
    server = Capture("127.0.0.2")
    yield server
    server.stop()


@pytest.fixture
def other() -> Iterator[Capture]:
    server = Capture("127.0.0.3")
    yield server
    server.stop()


@pytest.fixture
def use_lab(monkeypatch: pytest.MonkeyPatch, lab: Capture) -> str:
    """What `mlflowk8s env` sets, with the lab's IAP reached through a tunnel."""
    uri = lab.url("/alice/")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "mlflowk8s")
    return uri


def _alice(token: str | None) -> bool:
    return token is not None and tokens.decode_claims(token)["email"] == ALICE


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mlflowk8s"]


def test_the_labs_server_gets_a_token_a_second_client_elsewhere_none(
    use_lab: str, lab: Capture, other: Capture
) -> None:
    from mlflow import MlflowClient

    MlflowClient().search_experiments()
    MlflowClient(tracking_uri=other.url("/")).search_experiments()
    MlflowClient().search_experiments()
    assert len(lab.seen) == 2
    assert all(_alice(token) for token in lab.tokens())
    assert lab.seen[0].headers["Proxy-Authorization"].startswith("Bearer ")
    assert len(other.seen) == 1
    assert other.tokens() == [None]
    assert "Authorization" not in other.seen[0].headers


def test_a_registry_uri_elsewhere_gets_no_token(
    use_lab: str, lab: Capture, other: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_REGISTRY_URI", other.url("/"))
    client = MlflowClient()
    client.search_registered_models()
    client.search_experiments()
    assert other.tokens() == [None]
    assert [_alice(token) for token in lab.tokens()] == [True]


def test_a_backslash_user_info_uri_connects_elsewhere_and_sends_no_token(
    lab: Capture, other: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib.parse reads the lab's host after the `@`; urllib3 connects to the host before
    the backslash. The host the connection goes to decides."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOWK8S_TOKEN_HOSTS", f"127.0.0.2:{lab.port}")
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "mlflowk8s")
    MlflowClient(
        tracking_uri=f"http://127.0.0.3:{other.port}\\@127.0.0.2:{lab.port}/alice/"
    ).search_experiments()
    assert lab.seen == []
    assert other.tokens() == [None]


def test_user_info_in_the_labs_own_uri_sends_no_token_and_says_why(
    lab: Capture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOWK8S_TOKEN_HOSTS", f"127.0.0.2:{lab.port}")
    monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "mlflowk8s")
    with caplog.at_level(logging.ERROR, logger="mlflowk8s"):
        MlflowClient(tracking_uri=f"http://someone:pw@127.0.0.2:{lab.port}/a/").search_experiments()
    assert lab.tokens() == [None]
    assert len(_errors(caplog)) == 1
    assert "no token for a URL with user info" in _errors(caplog)[0]
    assert "pw" not in _errors(caplog)[0]


def test_an_https_host_with_only_the_audience_set_gets_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    cert, key = self_signed(tmp_path, "127.0.0.3")
    https = Capture("127.0.0.3", tls=(cert, key))
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(cert))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", https.url("/alice/"))
        monkeypatch.setenv("MLFLOW_TRACKING_AUTH", "mlflowk8s")
        monkeypatch.setenv("MLFLOWK8S_IAP_AUDIENCE", IAP_AUDIENCE)
        MlflowClient().search_experiments()
        assert https.tokens() == [None]
        # The same host, named by the lab: now it gets one (so the check above could fail).
        monkeypatch.setenv("MLFLOWK8S_TOKEN_HOSTS", f"127.0.0.3:{https.port}")
        MlflowClient().search_experiments()
        assert [_alice(token) for token in https.tokens()] == [False, True]
    finally:
        https.stop()


@pytest.mark.parametrize("header", ["Proxy-Authorization", "Authorization"])
def test_a_redirect_elsewhere_gets_no_token(
    use_lab: str, lab: Capture, other: Capture, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOWK8S_IAP_HEADER", header)

    def redirect(method: str, path: str) -> Reply | None:
        return (307, {"Location": other.url(path)}, b"") if "experiments" in path else None

    lab.routes.append(redirect)
    MlflowClient().search_experiments()
    assert [_alice(token) for token in lab.tokens()] == [True]
    assert header in lab.seen[0].headers
    assert len(other.seen) == 1
    assert other.tokens() == [None]


def test_a_proxy_in_the_way_of_http_gets_no_token(
    use_lab: str,
    lab: Capture,
    other: Capture,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("HTTP_PROXY", other.url("/"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the Google stand-in, reached directly
    with caplog.at_level(logging.ERROR, logger="mlflowk8s"):
        MlflowClient().search_experiments()
        MlflowClient().search_experiments()
    assert [seen.path.startswith(lab.url("/alice/")) for seen in other.seen] == [True, True]
    assert other.tokens() == [None, None]
    assert lab.seen == []
    assert _errors(caplog) == [
        f"mlflowk8s: a proxy (http://127.0.0.3:{other.port}/) is in the way of "
        f"http://127.0.0.2:{lab.port}: no token sent in clear; set NO_PROXY=127.0.0.2"
    ]
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,127.0.0.2")
    MlflowClient().search_experiments()
    assert [_alice(token) for token in lab.tokens()] == [True]


def test_presigned_upload_urls_get_no_token_create_complete_and_abort_do(
    use_lab: str, lab: Capture, other: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    presigned = other.url("/bucket/alice/weights.bin?partNumber=1&X-Goog-Signature=abc")

    def multipart(method: str, path: str) -> Reply | None:
        if "/mpu/create/" in path:
            body = {"upload_id": "u1", "credentials": [{"url": presigned, "part_number": 1}]}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return None

    lab.routes.append(multipart)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w" * 4096)
    repo = HttpArtifactRepository(lab.url("/alice/api/2.0/mlflow-artifacts/artifacts/1/r1"))
    repo.log_artifact(str(weights))
    other.routes.append(lambda method, path: (500, {}, b"storage down"))
    with pytest.raises(MlflowException):
        repo.log_artifact(str(weights))

    calls = [seen.path.split("/mpu/")[1].split("/")[0] for seen in lab.seen]
    assert calls == ["create", "complete", "create", "abort"]
    assert all(_alice(token) for token in lab.tokens())
    assert [seen.method for seen in other.seen] == ["PUT", "PUT"]
    assert other.tokens() == [None, None]


def test_without_mlflow_tracking_auth_the_lab_gets_no_token_and_one_error_names_it(
    lab: Capture, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOWK8S_TOKEN_HOSTS", f"127.0.0.2:{lab.port}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab.url("/alice/"))
    with caplog.at_level(logging.ERROR, logger="mlflowk8s"):
        MlflowClient().search_experiments()
        MlflowClient().search_experiments()
    assert lab.tokens() == [None, None]
    assert _errors(caplog) == [
        f"mlflowk8s: {lab.url('/alice/')} is the lab's, but MLFLOW_TRACKING_AUTH is not "
        "'mlflowk8s': no IAP token is sent; set MLFLOW_TRACKING_AUTH=mlflowk8s "
        '(eval "$(mlflowk8s env NAME)" sets it)'
    ]


def test_netrc_still_applies_to_other_hosts(
    use_lab: str, lab: Capture, other: Capture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`auth=` turns off requests' own ~/.netrc lookup; the plugin does it instead."""
    from mlflow import MlflowClient

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.3 login someone password pw\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    MlflowClient(tracking_uri=other.url("/")).search_experiments()
    basic = "Basic " + base64.b64encode(b"someone:pw").decode()
    assert other.seen[0].headers.get("Authorization") == basic
    assert other.tokens() == [None]


def test_without_credentials_one_error_and_no_token(
    use_lab: str,
    lab: Capture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nobody"))
    with caplog.at_level(logging.ERROR, logger="mlflowk8s"):
        MlflowClient().search_experiments()
        MlflowClient().search_experiments()
    assert lab.tokens() == [None, None]
    assert _errors(caplog) == [f"mlflowk8s: {sources.NO_CREDENTIALS_HELP}"]


def test_mlflow_finds_both_plugins_through_their_entry_points() -> None:
    from mlflow.tracking.request_auth.registry import _request_auth_provider_registry
    from mlflow.tracking.request_header.registry import _request_header_provider_registry

    ours = [p for p in _request_auth_provider_registry if p.get_name() == "mlflowk8s"]
    assert [type(p) for p in ours] == [mlflow_plugin.IAPRequestAuthProvider]
    assert any(
        isinstance(p, mlflow_plugin.IAPRequestHeaderProvider)
        for p in _request_header_provider_registry
    )
    assert mlflow_plugin.IAPRequestHeaderProvider().request_headers() == {}
