"""Async client for the parts of ConductorOne's REST API the operator uses.

Two optional features need it: reading a connector's sync status (the ``Synced`` condition) and rotating
/ revoking connector credentials. Every call has a timeout; reads and revokes are retried a bounded
number of times with exponential backoff that honours ``Retry-After`` (429, 5xx, timeouts, dropped
connections). A rotate is never retried: see ``rotate_credential``.

Secrets (the API client secret, the signed assertion, the access token, a rotated credential's secret)
never reach logs, reprs or exception text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from celigo_operator.conductorone.auth import (
    DEFAULT_ASSERTION_LIFETIME,
    TOKEN_PATH,
    AccessToken,
    TokenCache,
    token_request_form,
)
from celigo_operator.conductorone.errors import (
    AuthenticationFailed,
    ConductorOneError,
    Forbidden,
    MalformedResponse,
    NotFound,
    RateLimited,
    RotateOutcomeUnknown,
    Timeout,
    Unavailable,
)
from celigo_operator.conductorone.models import ConnectorSyncStatus, Credential, RotatedCredential
from celigo_operator.credentials import parse_client_id, parse_client_secret
from celigo_operator.retry_after import parse_retry_after

__all__ = ["ConductorOneClient"]

log = logging.getLogger("celigo_operator.conductorone")

_RETRYABLE = (RateLimited, Unavailable, Timeout)
#: Rotate: the connector is named in the body, not the path (the path form left the API in 2025-09).
ROTATE_PATH = "/api/v1/apps/connectors/credentials"
T = TypeVar("T")


def _nonempty(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _seg(value: str, what: str) -> str:
    """Quote one path segment; refuse empty ids so a bad spec cannot address another route."""
    return quote(_nonempty(value, what), safe="")


class ConductorOneClient:
    """ConductorOne API client authenticated with API client credentials (never the connector's own).

    ``base_url`` defaults to ``https://<tenant-host>`` from the client id; tests point it at the fake.
    ``timeout`` bounds every HTTP request; ``max_retries`` bounds the retries after the first attempt;
    backoff is ``backoff_base * 2**attempt`` capped at ``max_backoff``, or the server's Retry-After when
    it is no longer than ``max_retry_wait`` (a longer one is raised as RateLimited for the caller to
    schedule). ``refresh_margin`` renews the cached token that many seconds before it expires.
    ``assertion_lifetime`` is the signed assertion's validity; ``clock`` (wall-clock seconds) dates it
    and times the cached token, so tests can agree with a fake server whose clock they moved.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_wait: float = 60.0,
        refresh_margin: float = 60.0,
        assertion_lifetime: float = DEFAULT_ASSERTION_LIFETIME,
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._client_id = parse_client_id(client_id)
        self._secret = parse_client_secret(client_secret)
        self.base_url = (base_url or f"https://{self._client_id.tenant_host}").rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_wait = max_retry_wait
        self.assertion_lifetime = assertion_lifetime
        self._clock = clock
        self._tokens = TokenCache(refresh_margin=refresh_margin, clock=clock)
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"ConductorOneClient(client_id={self._client_id.raw!r}, base_url={self.base_url!r})"

    @property
    def client_id(self) -> str:
        return self._client_id.raw

    @property
    def tenant_host(self) -> str:
        return self._client_id.tenant_host

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> ConductorOneClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ public API

    async def verify(self) -> None:
        """Obtain a fresh token: proves the API credentials are valid (raises AuthenticationFailed if not)."""
        self._tokens.invalidate()
        await self._with_retries("verify", self._token, retry=True)

    async def get_connector_status(self, app_id: str, connector_id: str) -> ConnectorSyncStatus:
        """Read ``connector.status`` (RUNNING/DONE/ERROR/DISABLED/UNSPECIFIED, timestamps, the last error)
        from ``GET /api/v1/apps/{app}/connectors/{connector}`` -> ``{"connectorView": {"connector": ...}}``."""
        path = f"/api/v1/apps/{_seg(app_id, 'app_id')}/connectors/{_seg(connector_id, 'connector_id')}"
        body = await self._api("get_connector_status", "GET", path, retry=True)
        view = body.get("connectorView")
        connector = view.get("connector") if isinstance(view, dict) else None
        if not isinstance(connector, dict):
            raise MalformedResponse(
                "get_connector_status: response has no connectorView.connector object",
                operation="get_connector_status",
            )
        try:
            return ConnectorSyncStatus.from_connector(connector)
        except MalformedResponse as exc:
            op = "get_connector_status"
            raise MalformedResponse(f"{op}: {exc}", operation=op) from None

    async def rotate_credential(self, app_id: str, connector_id: str) -> RotatedCredential:
        """Create a new connector credential; its client secret is in the answer and nowhere else, ever.

        ``POST /api/v1/apps/connectors/credentials`` with ``{"appId", "connectorId"}`` answers
        ``{"credential": ConnectorCredential}``, the new secret in ``credential.clientSecret`` (on creation
        only). Persist ``client_secret`` before anything else. Never retried: a rotate whose answer was lost
        may have happened, and retrying would mint another credential. Such failures (timeout, dropped
        connection, 5xx, a 2xx without a readable credential and secret) raise RotateOutcomeUnknown; the
        caller must reconcile (keep the current credential in use and decide to rotate again deliberately).
        429, 401, 403 and 404, and failures with ``sent=False`` (no connection, no token), mean nothing was
        created and raise their own types. Whether a rotate also revokes the previous credential is
        unconfirmed: callers must cope with both.
        """
        body_out = {"appId": _nonempty(app_id, "app_id"), "connectorId": _nonempty(connector_id, "connector_id")}
        op = "rotate_credential"
        # Get the token first, with retries: failures there cannot have rotated anything.
        await self._with_retries(op, self._token, retry=True)
        try:
            body = await self._api(op, "POST", ROTATE_PATH, json=body_out, retry=False)
            raw = body.get("credential")
            secret = raw.get("clientSecret") if isinstance(raw, dict) else None
            if not isinstance(secret, str) or not secret:
                raise MalformedResponse(f"{op}: response has no credential.clientSecret", operation=op)
            try:
                credential = Credential.from_json(raw)
            except MalformedResponse as exc:
                raise MalformedResponse(f"{op}: {exc}", operation=op) from None
        except (Timeout, Unavailable, MalformedResponse) as exc:
            if not exc.sent:
                raise
            raise RotateOutcomeUnknown(
                f"{op}: no usable answer ({type(exc).__name__}); a credential may have been created",
                status=exc.status,
                operation=op,
            ) from exc
        return RotatedCredential(credential=credential, client_secret=secret)

    async def get_credential(self, app_id: str, connector_id: str, credential_id: str) -> Credential:
        """Read one credential (never its secret): expiry, last use, whether it was deleted."""
        path = self._credential_path(app_id, connector_id, credential_id)
        body = await self._api("get_credential", "GET", path, retry=True)
        try:
            return Credential.from_json(body.get("credential"))
        except MalformedResponse as exc:
            raise MalformedResponse(f"get_credential: {exc}", operation="get_credential") from None

    async def revoke_credential(self, app_id: str, connector_id: str, credential_id: str) -> None:
        """Revoke: ``POST .../credentials/{id}`` with ``{}`` -> ``{}``; retried (revoking twice is harmless).
        A credential already revoked may answer 404 (NotFound): callers treat that as gone."""
        path = self._credential_path(app_id, connector_id, credential_id)
        await self._api("revoke_credential", "POST", path, json={}, retry=True)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _credential_path(app_id: str, connector_id: str, credential_id: str) -> str:
        return (
            f"/api/v1/apps/{_seg(app_id, 'app_id')}/connectors/{_seg(connector_id, 'connector_id')}"
            f"/credentials/{_seg(credential_id, 'credential_id')}"
        )

    def _backoff(self, attempt: int, error: ConductorOneError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if attempt >= self.max_retries:
            return None
        retry_after = error.retry_after
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_wait else None
        return float(min(self.backoff_base * (2**attempt), self.max_backoff))

    async def _with_retries(self, op: str, call: Callable[[str], Awaitable[T]], *, retry: bool) -> T:
        """Run ``call(op)``, retrying retryable failures (when ``retry``) within the configured bounds."""
        attempt = 0
        while True:
            try:
                return await call(op)
            except _RETRYABLE as exc:
                delay = self._backoff(attempt, exc) if retry else None
                if delay is None:
                    raise
                log.info(
                    "ConductorOne %s failed (%s, status %s); retry %d/%d in %.2fs",
                    op, type(exc).__name__, exc.status, attempt + 1, self.max_retries, delay,
                )
                attempt += 1
                await asyncio.sleep(delay)

    async def _token(self, op: str) -> AccessToken:
        try:
            return await self._tokens.get(lambda: self._fetch_token(op))
        except ConductorOneError as exc:
            exc.sent = False  # the API request this token was for never left
            raise

    async def _fetch_token(self, op: str) -> tuple[str, float]:
        form = token_request_form(
            self._client_id, self._secret, lifetime=self.assertion_lifetime, now=self._clock()
        )
        response = await self._send(op, "POST", TOKEN_PATH, data=form)
        if response.status_code != 200:
            raise self._error(op, "POST", TOKEN_PATH, response, token_endpoint=True)
        body = self._json(op, response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise MalformedResponse(f"{op}: token response has no access_token", operation=op)
        expires_in = body.get("expires_in", 0)
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise MalformedResponse(f"{op}: token response has no numeric expires_in", operation=op)
        log.debug("ConductorOne token obtained for %s (expires in %ss)", self._client_id.raw, expires_in)
        return token, float(expires_in)

    async def _api(
        self, op: str, method: str, path: str, *, json: dict[str, Any] | None = None, retry: bool
    ) -> dict[str, Any]:
        async def attempt(op: str) -> dict[str, Any]:
            reauthenticated = False
            while True:
                token = await self._token(op)
                response = await self._send(
                    op, method, path, json=json, headers={"Authorization": f"Bearer {token.value}"}
                )
                if response.status_code == 401 and not reauthenticated:
                    # The cached token may have expired or been revoked early: one fresh token, once.
                    # A 401 means the request was refused, so repeating it (even a rotate) is safe.
                    self._tokens.invalidate(token)
                    reauthenticated = True
                    continue
                if not 200 <= response.status_code < 300:
                    raise self._error(op, method, path, response)
                return self._json(op, response)

        return await self._with_retries(op, attempt, retry=retry)

    async def _send(self, op: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.base_url + path
        try:
            response = await self._http.request(method, url, timeout=self.timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise Timeout(
                f"{op}: {method} {path} timed out after {self.timeout}s ({type(exc).__name__})",
                operation=op,
                sent=not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout),
            ) from None
        except httpx.TransportError as exc:
            raise Unavailable(
                f"{op}: {method} {path} failed ({type(exc).__name__})",
                operation=op,
                sent=not isinstance(exc, httpx.ConnectError),
            ) from None
        log.debug("ConductorOne %s: %s %s -> %d", op, method, path, response.status_code)
        return response

    @staticmethod
    def _json(op: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise MalformedResponse(
                f"{op}: response is not JSON", status=response.status_code, operation=op
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponse(
                f"{op}: response is not a JSON object", status=response.status_code, operation=op
            )
        return body

    @staticmethod
    def _error(
        op: str, method: str, path: str, response: httpx.Response, *, token_endpoint: bool = False
    ) -> ConductorOneError:
        status = response.status_code
        message = f"{op}: {method} {path} returned HTTP {status}"
        if token_endpoint and status in (400, 401):
            return AuthenticationFailed(f"{message}: API credentials refused", status=status, operation=op)
        if status == 401:
            return AuthenticationFailed(message, status=status, operation=op)
        if status == 403:
            return Forbidden(message, status=status, operation=op)
        if status == 404:
            return NotFound(message, status=status, operation=op)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(message, retry_after=retry_after, status=status, operation=op)
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return Unavailable(message, status=status, operation=op, retry_after=retry_after)
        return ConductorOneError(message, status=status, operation=op)
