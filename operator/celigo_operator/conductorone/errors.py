"""Typed errors of the ConductorOne client.

Callers decide by type (retry later, report bad credentials, give up), never by parsing text. Messages
name the operation, the HTTP status and the request path; they never contain headers, bodies, tokens,
assertions or client secrets.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "ConductorOneError",
    "Forbidden",
    "MalformedResponse",
    "NotFound",
    "RateLimited",
    "RotateOutcomeUnknown",
    "Timeout",
    "Unavailable",
]


class ConductorOneError(Exception):
    """Base class; ``status`` is the HTTP status when there was a response, ``operation`` the client call.

    ``sent`` is False when the failing API request certainly never reached ConductorOne (the connection
    could not be opened, or getting the access token failed first); True otherwise. ``retry_after`` is
    the server's Retry-After advice in seconds (429 and 5xx answers), or None when it gave none.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        operation: str | None = None,
        sent: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.operation = operation
        self.sent = sent
        self.retry_after = retry_after


class AuthenticationFailed(ConductorOneError):
    """The token endpoint refused the API credentials (unknown, revoked, wrong key) or an API call got 401."""


class Forbidden(ConductorOneError):
    """403: the credentials work but may not do this (missing role/scope)."""


class NotFound(ConductorOneError):
    """404: the app, connector or credential does not exist (or is not visible to these credentials)."""


class RateLimited(ConductorOneError):
    """429 after the retries were spent (or a Retry-After too long to wait in-line).

    ``retry_after`` is the server's advice in seconds, or None when it gave none: schedule the next
    attempt no earlier than that.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        operation: str | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message, status=status, operation=operation, sent=sent, retry_after=retry_after)


class Unavailable(ConductorOneError):
    """5xx or a transport failure (connection refused/reset) after the retries were spent."""


class Timeout(ConductorOneError):
    """No answer within the configured timeout, after the retries were spent."""


class MalformedResponse(ConductorOneError):
    """A 2xx answer whose body does not have the shape this client relies on."""


class RotateOutcomeUnknown(ConductorOneError):
    """A rotate request was sent but no usable answer came back (timeout, dropped connection, 5xx, or a
    success answer without a readable credential and secret).

    ConductorOne may or may not have created a new credential. The client never retries a rotate: a blind
    retry could mint a second credential, and the first one's secret (shown only once) is lost either
    way. The caller must reconcile: treat any credential it does not know as unconfirmed, keep using the
    current one, and only then decide to rotate again. ``__cause__`` holds the underlying error.
    """
