"""ConductorOne client-credentials auth: the EdDSA client assertion and a cached access token.

Same scheme the connector uses (baton-sdk): the client signs a short JWT with its Ed25519 key
(iss = sub = client id, aud = tenant host without port) and trades it at ``POST /auth/v1/token`` for an
opaque bearer token. The token is cached until shortly before it expires so many API calls cost one
token request. Nothing here logs or prints the assertion or the token.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jwt

from celigo_operator.credentials import ClientId, ClientSecret

__all__ = [
    "ASSERTION_TYPE",
    "GRANT_TYPE",
    "TOKEN_PATH",
    "AccessToken",
    "TokenCache",
    "build_client_assertion",
    "token_request_form",
]

TOKEN_PATH = "/auth/v1/token"
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_ASSERTION_LIFETIME = 120.0


def build_client_assertion(
    client_id: ClientId,
    secret: ClientSecret,
    *,
    lifetime: float = DEFAULT_ASSERTION_LIFETIME,
    now: float | None = None,
) -> str:
    """Sign the client assertion JWT (alg EdDSA). ``now`` is injectable so tests can make expired ones."""
    issued = time.time() if now is None else now
    claims = {
        "iss": client_id.raw,
        "sub": client_id.raw,
        "aud": client_id.audience,
        "iat": int(issued),
        "nbf": int(issued - lifetime),
        "exp": int(issued + lifetime),
        "jti": uuid.uuid4().hex,
    }
    headers = {"nonce": secrets.token_urlsafe(16)}
    if secret.key_id:
        headers["kid"] = secret.key_id
    return jwt.encode(claims, secret.private_key, algorithm="EdDSA", headers=headers)


def token_request_form(
    client_id: ClientId,
    secret: ClientSecret,
    *,
    lifetime: float = DEFAULT_ASSERTION_LIFETIME,
    now: float | None = None,
) -> dict[str, str]:
    """The form body of a token request; contains a fresh assertion, so never log it."""
    return {
        "grant_type": GRANT_TYPE,
        "client_id": client_id.raw,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_client_assertion(client_id, secret, lifetime=lifetime, now=now),
    }


@dataclass(frozen=True, repr=False)
class AccessToken:
    """An opaque bearer token and the time (on the cache's clock) it stops being used. Never printed."""

    value: str = field(compare=False)
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(<redacted>, expires_at={self.expires_at:.1f})"

    __str__ = __repr__

    def usable(self, margin: float, now: float) -> bool:
        return now < self.expires_at - margin


class TokenCache:
    """Holds one access token; concurrent callers share a single refresh.

    ``refresh_margin`` (seconds) makes a token count as expired that much early, capped at half its
    lifetime so short-lived tokens are still reused. ``clock`` defaults to the monotonic clock; the
    client passes its own so tests can move time.
    """

    def __init__(self, refresh_margin: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: AccessToken | None = None
        self._lifetime = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenCache(cached={self._token is not None})"

    def _margin(self) -> float:
        return min(self.refresh_margin, self._lifetime / 2)

    def invalidate(self, token: AccessToken | None = None) -> None:
        """Forget the token (only if it is still ``token``, when given: a newer one is kept)."""
        if token is None or self._token is token:
            self._token = None

    async def get(self, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> AccessToken:
        """Return the cached token, or call ``fetch() -> (token, expires_in_seconds)`` once for everyone."""
        token = self._token
        if token is not None and token.usable(self._margin(), self._clock()):
            return token
        async with self._lock:
            token = self._token
            if token is not None and token.usable(self._margin(), self._clock()):
                return token
            value, expires_in = await fetch()
            self._lifetime = max(expires_in, 0.0)
            token = AccessToken(value=value, expires_at=self._clock() + self._lifetime)
            self._token = token
            return token
