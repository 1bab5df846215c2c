"""Google-signed ID tokens for IAP, and what mints them.

Tokens live one hour in production and seconds in the tests; only their expiry, audience
and email are read here (IAP verifies the signature).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Protocol

from mlflowk8s.errors import CredentialsError


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (IAP verifies; we only read expiry and email)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise CredentialsError("the token endpoint returned something that is not a JWT") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        raise CredentialsError("the token endpoint returned a JWT without an expiry")
    return claims


@dataclass(frozen=True)
class IDToken:
    value: str
    expiry: float  # epoch seconds
    issued_at: float
    audience: str | None
    email: str | None

    @classmethod
    def from_jwt(cls, value: str) -> IDToken:
        claims = decode_claims(value)
        expiry = float(claims["exp"])
        aud = claims.get("aud")
        return cls(
            value=value,
            expiry=expiry,
            issued_at=float(claims.get("iat", expiry - 3600)),
            audience=aud if isinstance(aud, str) else None,
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
        )

    @property
    def lifetime(self) -> float:
        return max(self.expiry - self.issued_at, 0.0)

    def __repr__(self) -> str:
        return f"IDToken(email={self.email!r}, audience={self.audience!r}, expiry={self.expiry})"


class TokenSource(Protocol):
    """Something that mints a fresh ID token on each call."""

    @property
    def description(self) -> str: ...

    def fetch(self) -> IDToken: ...
