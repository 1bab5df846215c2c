"""Credential sources and the token cache, in process, against the local Google stand-in."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jwt
import pytest

from mlflowk8s.auth import cache, sources, stored_login, tokens
from mlflowk8s.errors import CredentialsError, OperationError, UsageError
from tests.client.helpers import ALICE, ALICE_JOB, DESKTOP_CLIENT, IAP_AUDIENCE, write_json
from tests.support.iap_standin import GoogleStandIn


@pytest.fixture
def token_lifetime() -> int:
    return 3600


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in (
        "GOOGLE_APPLICATION_CREDENTIALS", "MLFLOWK8S_IAP_AUDIENCE", "MLFLOWK8S_IAP_HEADER",
        "MLFLOW_DOMAIN", "MLFLOWK8S_CREDENTIALS_FILE", "MLFLOW_TRACKING_URI",
    ):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    # No metadata server here, and none may be reached from a test.
    monkeypatch.setattr("google.auth.compute_engine._metadata.ping", lambda *a, **k: False)


def _login(google: GoogleStandIn, email: str = ALICE) -> stored_login.StoredLogin:
    refresh = f"1//{email}"
    google.refresh_tokens[refresh] = (DESKTOP_CLIENT, email)
    return stored_login.StoredLogin(
        client_id=DESKTOP_CLIENT,
        client_secret=google.clients[DESKTOP_CLIENT],
        refresh_token=refresh,
        token_uri=google.token_uri,
        email=email,
    )


# --- caching and refresh -----------------------------------------------------------------


class FakeSource:
    description = "fake"

    def __init__(self, lifetime: float, clock: list[float], delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self.delay = delay
        self.calls = 0
        self.fail: Exception | None = None

    def fetch(self) -> tokens.IDToken:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        now = self.clock[0]
        return tokens.IDToken(f"token-{self.calls}", now + self.lifetime, now, "aud", ALICE)


@pytest.mark.parametrize(
    ("lifetime", "margin"), [(3600.0, 300.0), (4.0, 1.0), (120.0, 30.0)]
)  # fmt: skip
def test_a_token_is_reused_until_its_refresh_margin_then_refreshed(
    lifetime: float, margin: float
) -> None:
    clock = [1000.0]
    source = FakeSource(lifetime, clock)
    cached = cache.CachedToken(source, clock=lambda: clock[0])
    assert cached.get().value == "token-1"
    clock[0] = 1000.0 + lifetime - margin - 0.01
    assert cached.get().value == "token-1"
    clock[0] = 1000.0 + lifetime - margin
    assert cached.get().value == "token-2"
    assert (source.calls, cached.refreshes) == (2, 2)


def test_a_failed_refresh_keeps_the_still_valid_token_and_retries_next_time() -> None:
    clock = [0.0]
    source = FakeSource(100.0, clock)
    cached = cache.CachedToken(source, clock=lambda: clock[0])
    cached.get()
    clock[0] = 80.0  # past the refresh margin, before expiry
    source.fail = OperationError("token endpoint down")
    assert cached.get().value == "token-1"
    clock[0] = 99.5  # about to expire: no more grace
    with pytest.raises(OperationError, match="down"):
        cached.get()
    source.fail = None
    assert cached.get().value == "token-4"


def test_concurrent_callers_share_one_refresh() -> None:
    clock = [0.0]
    source = FakeSource(3600.0, clock, delay=0.2)
    cached = cache.CachedToken(source, clock=lambda: clock[0])
    values: list[str] = []
    threads = [
        threading.Thread(target=lambda: values.append(cached.get().value)) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert values == ["token-1"] * 16
    assert source.calls == 1


def test_no_credentials_is_remembered_briefly_not_looked_up_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []

    def find_source(audience: str | None) -> tokens.TokenSource:
        calls.append(audience)
        raise CredentialsError(sources.NO_CREDENTIALS_HELP)

    monkeypatch.setattr(sources, "find_source", find_source)
    clock = [0.0]
    provider = cache.TokenProvider(clock=lambda: clock[0])
    for _ in range(5):
        with pytest.raises(CredentialsError, match="mlflowk8s login"):
            provider.token("aud")
    clock[0] = cache.NO_CREDENTIALS_RETRY_SECONDS + 1
    with pytest.raises(CredentialsError):
        provider.token("aud")
    assert calls == ["aud", "aud"]


# --- where credentials come from -------------------------------------------------------


def test_login_is_stored_user_only_and_never_shows_its_secrets(
    google: GoogleStandIn, tmp_path: Path
) -> None:
    login = _login(google)
    path = stored_login.save_login(login)
    assert path == tmp_path / "config" / "mlflowk8s" / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert stored_login.load_login() == login
    assert login.client_secret not in repr(login)
    assert login.refresh_token not in repr(login)


def test_a_broken_stored_login_says_to_log_in_again(tmp_path: Path) -> None:
    path = stored_login.credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(CredentialsError, match=r"run `mlflowk8s login` again"):
        sources.find_source(None)


def test_the_stored_login_mints_tokens_for_the_desktop_client(google: GoogleStandIn) -> None:
    stored_login.save_login(_login(google))
    source = sources.find_source(IAP_AUDIENCE)
    token = source.fetch()
    assert (token.email, token.audience) == (ALICE, DESKTOP_CLIENT)
    assert ALICE in source.description
    claims = jwt.decode(
        token.value,
        jwt.PyJWKClient(google.jwks_uri).get_signing_key_from_jwt(token.value).key,
        algorithms=["RS256"],
        audience=DESKTOP_CLIENT,
    )
    assert claims["exp"] - claims["iat"] == 3600


def test_a_revoked_login_says_to_log_in_again(google: GoogleStandIn) -> None:
    login = _login(google)
    stored_login.save_login(login)
    del google.refresh_tokens[login.refresh_token]
    with pytest.raises(CredentialsError, match=r"invalid_grant.*run `mlflowk8s login` again"):
        sources.find_source(None).fetch()


def test_an_unreachable_token_endpoint_is_an_operation_error() -> None:
    login = stored_login.StoredLogin("c", "s", "r", token_uri="http://127.0.0.1:9/token")
    with pytest.raises(OperationError, match=r"cannot reach the token endpoint 127\.0\.0\.1:9"):
        sources.RefreshTokenSource(login, Path("x")).fetch()


def test_a_service_account_key_wins_over_the_login_and_needs_the_audience(
    google: GoogleStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_login.save_login(_login(google))
    key = write_json(tmp_path / "key.json", google.service_account_key(ALICE_JOB))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    token = sources.find_source(IAP_AUDIENCE).fetch()
    assert (token.email, token.audience) == (ALICE_JOB, IAP_AUDIENCE)
    with pytest.raises(UsageError, match="MLFLOWK8S_IAP_AUDIENCE"):
        sources.find_source(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ({"type": "authorized_user", "refresh_token": "x"}, "'authorized_user' credentials"),
        ("garbage", "is not a key file"),
    ],
)
def test_a_bad_google_application_credentials_is_named_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: object, message: str
) -> None:
    path = tmp_path / "creds.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    with pytest.raises(CredentialsError, match=message) as info:
        sources.find_source(IAP_AUDIENCE)
    assert str(path) in str(info.value)


def test_no_credentials_at_all_says_what_to_do() -> None:
    with pytest.raises(CredentialsError) as info:
        sources.find_source(IAP_AUDIENCE)
    assert "run `mlflowk8s login`" in str(info.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(info.value)


def test_a_forked_child_gets_its_own_token_cache(
    google: GoogleStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DataLoader workers and multiprocessing fork: a lock held mid-refresh must not be
    inherited."""
    import os

    stored_login.save_login(_login(google))
    monkeypatch.setattr(cache, "_provider", cache.TokenProvider())
    parent = cache.provider()
    parent.token(None)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            child = cache.provider()
            fresh = child is not parent and not child._caches
            os.write(write, b"1" if fresh else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert cache.provider() is parent


def test_a_new_login_is_picked_up_after_the_old_one_was_revoked(
    google: GoogleStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook keeps running while its user runs `mlflowk8s login` again."""
    old = _login(google)
    stored_login.save_login(old)
    provider = cache.TokenProvider()
    clock = [time.time()]
    monkeypatch.setattr(provider, "_clock", lambda: clock[0])
    first = provider.token(None)
    del google.refresh_tokens[old.refresh_token]
    stored_login.save_login(_login(google, email="alice.new@lab.org"))
    clock[0] += 3600  # the cached token expired
    with pytest.raises(CredentialsError, match="invalid_grant"):
        provider.token(None)
    second = provider.token(None)
    assert second != first
    assert tokens.decode_claims(second)["email"] == "alice.new@lab.org"
