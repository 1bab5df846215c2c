"""The host-scoping policy on its own: which URL gets the researcher's token."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from mlflowk8s.auth.hosts import TokenPolicy, lab_exports, origin
from mlflowk8s.errors import UsageError

LAB = {"MLFLOW_DOMAIN": "mlflow.lab.org"}
RUN = "alice-123456.europe-west1.run.app"
CLOUD_RUN = {"MLFLOWK8S_TOKEN_HOSTS": RUN}
AUDIENCE = {"MLFLOWK8S_IAP_AUDIENCE": "1234-iap.apps.googleusercontent.com"}


def no_proxy(url: str) -> Mapping[str, str]:
    return {}


def _sends(env: Mapping[str, str], tracking_uri: str | None, url: str) -> bool:
    return TokenPolicy.from_environment(env, tracking_uri).decide(url, no_proxy).token


@pytest.mark.parametrize(
    ("env", "url", "sends"),
    [
        (LAB, "https://mlflow.lab.org/alice/api/2.0/mlflow/runs/get", True),
        (LAB, "https://MLflow.Lab.org:443/alice/", True),
        (LAB, "https://mlflow.lab.org:8443/alice/", False),
        (LAB, "https://mlflow.lab.org.evil.example/alice/", False),
        (LAB, "https://evil.example/mlflow.lab.org/", False),
        (LAB, "http://mlflow.lab.org/alice/", False),
        (LAB, "http://evil\\@mlflow.lab.org/alice/", False),
        (LAB, "https://evil\\@mlflow.lab.org/alice/", False),
        (LAB, "https://user:pw@mlflow.lab.org/alice/", False),
        (LAB, "https://mlflow.lab.org\t/alice/", False),
        (LAB, "https://mlflow.lab.org%0d%0a/alice/", False),
        ({"MLFLOW_DOMAIN": "mlflow.lab.org:8443"}, "https://mlflow.lab.org:8443/a/", True),
        # Cloud Run: the lab's tenant host exactly, never another service on run.app.
        (CLOUD_RUN, f"https://{RUN}/", True),
        (CLOUD_RUN, "https://bob-123456.europe-west1.run.app/", False),
        (CLOUD_RUN, "https://evil-999.europe-west1.run.app/", False),
        (CLOUD_RUN, "https://run.app/", False),
        ({"MLFLOWK8S_TOKEN_HOSTS": f"{RUN}, b.lab.org"}, "https://b.lab.org/", True),
        # The audience says which token, not where it may go.
        (AUDIENCE, "https://anything.example/alice/", False),
        ({}, "https://mlflow.lab.org/alice/", False),
        (LAB, "file:///tmp/mlruns", False),
        (LAB, "databricks", False),
    ],
)
def test_only_the_labs_hosts_get_a_token(env: dict[str, str], url: str, sends: bool) -> None:
    assert _sends(env, "https://mlflow.lab.org/alice/", url) is sends


@pytest.mark.parametrize(
    ("tracking_uri", "url", "sends"),
    [
        ("http://127.0.0.1:8080/alice/", "http://127.0.0.1:8080/alice/api/x", True),
        ("http://localhost:8080/alice/", "http://localhost:8080/alice/api/x", True),
        ("http://[::1]:8080/alice/", "http://[::1]:8080/alice/api/x", True),
        ("http://127.0.0.1:8080/alice/", "http://127.0.0.1:8081/alice/", False),
        ("http://127.0.0.1:8080/alice/", "http://127.0.0.2:8080/alice/", False),
        # An https server on this machine is named like any other host.
        ("https://127.0.0.1:8443/alice/", "https://127.0.0.1:8443/alice/", False),
        # Plain http elsewhere is never a tunnel.
        ("http://10.0.0.7:5000/alice/", "http://10.0.0.7:5000/alice/", False),
        (None, "http://127.0.0.1:8080/alice/", False),
    ],
)
def test_a_tunnel_set_as_the_tracking_uri_gets_tokens_on_that_port_only(
    tracking_uri: str | None, url: str, sends: bool
) -> None:
    assert _sends(AUDIENCE, tracking_uri, url) is sends


def test_plain_http_to_the_labs_host_and_a_proxy_before_a_tunnel_say_why() -> None:
    policy = TokenPolicy.from_environment(LAB, "http://127.0.0.1:8080/a/")
    plain = policy.decide("http://mlflow.lab.org/alice/", no_proxy)
    assert plain.problem == (
        "http://mlflow.lab.org:80 is plain http: a token would cross the network in clear; "
        "use https://"
    )
    proxied = policy.decide("http://127.0.0.1:8080/a/", lambda url: {"http": "http://p:3128"})
    assert (proxied.token, proxied.problem) == (
        False,
        "a proxy (http://p:3128) is in the way of http://127.0.0.1:8080: no token sent in "
        "clear; set NO_PROXY=127.0.0.1",
    )
    https = policy.decide("https://mlflow.lab.org/a/", lambda url: {"https": "http://p:3128"})
    assert https.token  # through a proxy, https is a tunnel to the lab (CONNECT)
    assert policy.decide("https://elsewhere.example/a/", no_proxy).problem is None


@pytest.mark.parametrize("entry", ["*.run.app", ".run.app", "https://a.lab.org", "a.lab.org:0"])
def test_token_hosts_are_exact_names(entry: str) -> None:
    with pytest.raises(UsageError, match=r"MLFLOWK8S_TOKEN_HOSTS: .* is not a host or host:port"):
        TokenPolicy.from_environment({"MLFLOWK8S_TOKEN_HOSTS": entry}, None)


def test_the_header_is_proxy_authorization_unless_configured() -> None:
    assert TokenPolicy.from_environment(LAB, None).header == "Proxy-Authorization"
    env = {**LAB, "MLFLOWK8S_IAP_HEADER": "authorization"}
    assert TokenPolicy.from_environment(env, None).header == "Authorization"
    with pytest.raises(UsageError, match="MLFLOWK8S_IAP_HEADER='X-Token' is not one of"):
        TokenPolicy.from_environment({**LAB, "MLFLOWK8S_IAP_HEADER": "X-Token"}, None)


def test_the_lab_server_is_a_named_host_or_a_tunnel_with_an_audience() -> None:
    named = TokenPolicy.from_environment(LAB, "https://mlflow.lab.org/alice/")
    assert named.is_lab_server("https://mlflow.lab.org/alice/")
    assert not named.is_lab_server("https://other.example/alice/")
    local = TokenPolicy.from_environment({}, "http://127.0.0.1:5100/alice/")
    assert not local.is_lab_server("http://127.0.0.1:5100/alice/")  # a local lab: no IAP
    tunnel = TokenPolicy.from_environment(AUDIENCE, "http://127.0.0.1:5100/alice/")
    assert tunnel.is_lab_server("http://127.0.0.1:5100/alice/")


def test_origin_is_where_urllib3_connects() -> None:
    assert origin("https://MLflow.lab.org/a") == ("https", "mlflow.lab.org", 443)
    assert origin("http://[::1]:80/") == ("http", "::1", 80)
    assert origin("http://evil\\@mlflow.lab.org/") is None
    assert origin("ftp://mlflow.lab.org/") is None


# Large files straight to storage, in parts under Cloud Run's 32 MiB request limit.
MULTIPART = {
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD": "true",
    "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE": str(16 * 1024 * 1024),
    "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(16 * 1024 * 1024),
}


def test_env_exports_the_domain_or_the_tenants_own_host() -> None:
    assert lab_exports("https://mlflow.lab.org/alice/", "mlflow.lab.org") == {
        "MLFLOW_TRACKING_URI": "https://mlflow.lab.org/alice/",
        "MLFLOW_TRACKING_AUTH": "mlflowk8s",
        "MLFLOW_DOMAIN": "mlflow.lab.org",
        **MULTIPART,
    }
    assert lab_exports(f"https://{RUN}/", None) == {
        "MLFLOW_TRACKING_URI": f"https://{RUN}/",
        "MLFLOW_TRACKING_AUTH": "mlflowk8s",
        "MLFLOWK8S_TOKEN_HOSTS": RUN,
        **MULTIPART,
    }
    exported = lab_exports(f"https://{RUN}/", None)
    assert _sends(exported, exported["MLFLOW_TRACKING_URI"], f"https://{RUN}/api/x")
