"""Typed errors of the Celigo client.

Callers decide by type (report a bad token, retry later, give up), never by parsing text. Messages name the
method, the path (never the query or host), the HTTP status and Celigo's error code/message; they never
contain headers, tokens or request bodies, and the client scrubs its own token from anything it quotes.
Errors are raised ``from None``: the underlying httpx exception (whose request carries the Authorization
header) is not kept as ``__cause__``.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CeligoError",
    "Conflict",
    "Forbidden",
    "InvalidRequest",
    "MalformedResponse",
    "NotFound",
    "OutcomeUnknown",
    "RateLimited",
    "Timeout",
    "Unauthorized",
    "Unavailable",
]

AuthFailure = Literal["header_missing", "authentication_failed", "unknown"]


class CeligoError(Exception):
    """Base class. ``status_code`` is the HTTP status when there was an answer; ``code`` Celigo's stable
    error id (first entry of the ``errors`` envelope) when it gave one; ``method``/``path`` locate the call."""

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None,
                 method: str | None = None, path: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.method = method
        self.path = path
        self.field = field

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
                f"code={self.code!r})")


class Unauthorized(CeligoError):
    """401. ``reason`` tells Celigo's two bodies apart: ``header_missing`` (``{"message":"Unauthorized"}``:
    no bearer header reached Celigo) or ``authentication_failed`` (``Bearer Authentication Failed``: the
    token is unknown, revoked, expired, or belongs to the other region)."""

    def __init__(self, message: str, *, reason: AuthFailure = "unknown", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reason: AuthFailure = reason


class Forbidden(CeligoError):
    """403: the token is valid but may not do this (not owner/admin, or its scope is too narrow)."""


class NotFound(CeligoError):
    """404: unknown id (or path)."""


class Conflict(CeligoError):
    """409: the change conflicts with current state (e.g. deleting a token that is not revoked)."""


class InvalidRequest(CeligoError):
    """400/422 and other non-retryable 4xx: Celigo rejected the request itself (``field`` says where)."""


class RateLimited(CeligoError):
    """429 after the retries were spent, or a Retry-After longer than the client may wait in-line.
    ``retry_after`` is Celigo's advice in seconds (None when it gave none)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class Unavailable(CeligoError):
    """5xx, a redirect, or a transport failure (refused, reset, DNS) after the retries were spent."""


class Timeout(CeligoError):
    """No complete answer within the timeout, after the retries were spent."""


class MalformedResponse(CeligoError):
    """An answer this client cannot rely on: bad JSON, a non-JSON content type, a list endpoint that did not
    answer an array, fields of the wrong type, or a pagination link to another origin or in a loop."""


class OutcomeUnknown(CeligoError):
    """A non-idempotent call (create/generate/invite/disable toggle) was sent but no usable answer came back
    (timeout, dropped connection, 5xx). It is never retried blindly: Celigo may or may not have acted, e.g.
    a ``generate`` may already have replaced the token value. The caller must re-read state first."""
