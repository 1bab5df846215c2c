"""The one reading of network failures, on real failures: requests, google-auth and urllib
against a closed port, a silent port and an ``.invalid`` host (which never resolves)."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable

import pytest

from mlflowk8s import unreachable
from tests.support.unreachable_google import closed_port


def _failure(call: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_refused_through_requests_and_google_auth() -> None:
    import requests
    from google.auth.transport.requests import Request

    port = closed_port()
    url = f"http://127.0.0.1:{port}/token"
    for exc in (
        _failure(lambda: requests.get(url, timeout=10)),
        _failure(lambda: Request()(url, method="POST", timeout=10)),
    ):
        assert unreachable.cause(exc) == unreachable.REFUSED
        assert unreachable.is_permanent(exc)
        assert unreachable.describe(exc) == f"cannot reach 127.0.0.1:{port}: connection refused"


def test_dns_failure_names_the_host() -> None:
    import requests

    exc = _failure(lambda: requests.get("https://oauth2.invalid/token", timeout=10))
    assert unreachable.describe(exc) == f"cannot reach oauth2.invalid: {unreachable.DNS}"
    assert unreachable.is_permanent(exc)


def test_a_silent_server_is_a_timeout_and_retryable() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        url = f"http://127.0.0.1:{listening.getsockname()[1]}/"
        exc = _failure(lambda: urllib.request.urlopen(url, timeout=0.5))
    assert unreachable.cause(exc) == unreachable.TIMED_OUT
    assert not unreachable.is_permanent(exc)


def test_urllib_errors_take_the_host_given() -> None:
    port = closed_port()
    exc = _failure(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10))
    described = unreachable.describe(exc, unreachable.host_of_url(f"http://127.0.0.1:{port}/v2"))
    assert described == f"cannot reach 127.0.0.1:{port}: connection refused"


def test_no_network_cause_is_none_and_named_by_class() -> None:
    exc = ValueError("not a network error")
    assert unreachable.cause(exc) is None
    assert unreachable.describe(exc, "example.org") == "cannot reach example.org: ValueError"


def test_host_of_url_keeps_unusual_ports_only() -> None:
    assert unreachable.host_of_url("https://oauth2.googleapis.com/token") == "oauth2.googleapis.com"
    assert unreachable.host_of_url("http://127.0.0.1:4443") == "127.0.0.1:4443"
    assert unreachable.host_of_url("storage.invalid:4443") == "storage.invalid:4443"
