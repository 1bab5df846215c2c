"""The IAP stand-in is strict: the e2e test's "zero 401s" means something only if an
expired, foreign or forged token would have been refused."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.client.helpers import ALICE, BOB, IAP_AUDIENCE
from tests.support.iap_standin import ISSUER, GoogleStandIn, IAPStandIn


@pytest.fixture
def token_lifetime() -> int:
    return 2


def _get(proxy: IAPStandIn, token: str, header: str = "Proxy-Authorization") -> int:
    url = proxy.url("alice") + "health"
    return requests.get(url, headers={header: f"Bearer {token}"}, timeout=10).status_code


def test_a_valid_token_passes_in_either_header(google: GoogleStandIn, iap: IAPStandIn) -> None:
    token = google.id_token(ALICE, IAP_AUDIENCE, "test")
    assert _get(iap, token) == 200
    assert _get(iap, token, "Authorization") == 200


def test_an_expired_token_is_refused(google: GoogleStandIn, iap: IAPStandIn) -> None:
    token = google.id_token(ALICE, IAP_AUDIENCE, "test")
    time.sleep(google.lifetime + 1.1)
    assert _get(iap, token) == 401
    assert "Signature has expired" in iap.stats.rejected[-1][2]


def test_a_token_for_another_audience_is_refused(google: GoogleStandIn, iap: IAPStandIn) -> None:
    assert _get(iap, google.id_token(ALICE, "someone-else", "test")) == 401


def test_a_forged_token_is_refused(google: GoogleStandIn, iap: IAPStandIn) -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": IAP_AUDIENCE, "email": ALICE, "iat": now, "exp": now + 60}
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": google.kid})
    assert _get(iap, forged) == 401


def test_no_token_is_refused_and_a_stranger_is_forbidden(
    google: GoogleStandIn, iap: IAPStandIn
) -> None:
    assert requests.get(iap.url("alice") + "health", timeout=10).status_code == 401
    assert _get(iap, google.id_token(BOB, IAP_AUDIENCE, "test")) == 403
