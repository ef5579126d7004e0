"""Async client for the Celigo integrator.io API (httpx), as the operator needs it.

Why its own client: the operator's health check and inventory must be cheap, bounded and safe with the
connector's token. Every call has a timeout; retries are bounded, back off exponentially with jitter and
honour Retry-After (429 and 5xx); 4xx other than 429 are never retried; non-idempotent calls are never
retried once they may have reached Celigo (``OutcomeUnknown`` instead). The token lives in one private
attribute and goes only into the Authorization header of requests to the configured origin: it never
appears in ``repr``, logs or exceptions, and pagination links to another origin are refused.

Wrong region: Celigo answers a token of the other region exactly like an unknown token (401 "Bearer
Authentication Failed"), so the client just raises ``Unauthorized``; the health check asks the other region
to tell the two apart.

204 with no body is success wherever Celigo may send it: an empty list on list endpoints, done on writes.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from celigo_operator.retry_after import parse_retry_after

from .errors import (
    CeligoError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Timeout,
    Unauthorized,
    Unavailable,
)
from .models import AccessToken, Integration, Inventory, TokenInfo, UserSummary

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_AUTO_PURGE",
    "REGION_BASE_URLS",
    "SCOPE_FIELDS",
    "CeligoClient",
    "CreatedToken",
    "RateLimiter",
    "parse_retry_after",
]

log = logging.getLogger("celigo_operator.celigo")

REGION_BASE_URLS: dict[str, str] = {"us": "https://api.integrator.io", "eu": "https://api.eu.integrator.io"}
DEFAULT_USER_AGENT = "celigo-operator"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A token's custom scope: the lists a create may send instead of ``fullAccess: true``.
SCOPE_FIELDS: tuple[str, ...] = ("_connectionIds", "_exportIds", "_importIds", "_apiIds", "_mcpServerIds")
#: ``autoPurgeAt`` may be at most this far ahead.
MAX_AUTO_PURGE = timedelta(days=30)

M = TypeVar("M", bound=BaseModel)


# ------------------------------------------------------------------------------------------ rate limiting
class RateLimiter:
    """A token bucket shared by every client of one Celigo account, so N concurrent checks stay under
    Celigo's own limit (1000 requests, refilled at 300/s) instead of discovering it through 429s.

    Callers reserve a slot and sleep until it is theirs (first come, first served). It is safe to share
    across event loops and threads: state sits behind a lock and waiting happens outside it.

    It paces send times; arrivals at Celigo can still bunch up (connection set-up, scheduling), and the
    connector spends from the same account bucket. So when many calls are expected in a burst, configure
    it with headroom below Celigo's numbers; a 429 that still happens is retried and penalizes the bucket.
    """

    def __init__(self, capacity: int = 1000, refill_per_second: float = 300.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("capacity must be >= 1 and refill_per_second > 0")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter(capacity={self.capacity:g}, refill_per_second={self.refill_per_second:g})"

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.refill_per_second)
        self._stamp = now

    def reserve(self) -> float:
        """Take one slot; return how long the caller must wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.refill_per_second

    async def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    def penalize(self, seconds: float) -> None:
        """Celigo said 429/Retry-After: hold every sharer back for at least ``seconds``."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, -seconds * self.refill_per_second)

    @property
    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


# ------------------------------------------------------------------------------------------------ helpers
def _valid_token(token: object) -> bool:
    # Header-safe: printable ASCII without spaces. A pasted newline would otherwise make httpx raise an
    # error that quotes the whole header value, token included.
    return isinstance(token, str) and bool(token) and all(0x21 <= ord(c) <= 0x7E for c in token)


@dataclass(frozen=True)
class CreatedToken:
    """A token record just created, and its value when the create answer showed it (unmasked); else None
    and the value must be read some other way. The value is kept out of repr and equality."""

    record: AccessToken
    value: str | None = field(default=None, repr=False, compare=False)


class CeligoClient:
    """One Celigo token against one region (or an explicit base URL). Use as ``async with``.

    ``http`` lets many clients share one connection pool; a pool passed in is never closed here.
    ``page_limit`` is sent as ``limit`` on list calls (None: let Celigo choose); ``Link rel="next"`` is
    always followed. ``rate_limiter`` throttles before sending: share one per Celigo account (the health
    checker keeps them), as Celigo's limit is per account.
    """

    def __init__(self, token: str, *, region: str = "us", base_url: str | None = None,
                 timeout: float = 10.0, max_retries: int = 3, backoff_base: float = 0.5,
                 max_backoff: float = 30.0, page_limit: int | None = 1000,
                 http: httpx.AsyncClient | None = None, rate_limiter: RateLimiter | None = None,
                 user_agent: str = DEFAULT_USER_AGENT, max_pages: int = 10_000) -> None:
        if not _valid_token(token):
            raise ValueError("Celigo token is empty or contains whitespace or non-ASCII characters")
        if region not in REGION_BASE_URLS:
            raise ValueError(f"region must be one of {sorted(REGION_BASE_URLS)}")
        url = httpx.URL((base_url or REGION_BASE_URLS[region]).rstrip("/"))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an absolute http(s) URL")
        if timeout <= 0 or max_retries < 0 or backoff_base < 0 or max_backoff < 0:
            raise ValueError("timeout must be > 0; retries and backoff must be >= 0")
        if page_limit is not None and page_limit < 1:
            raise ValueError("page_limit must be >= 1 or None")
        self.region = region
        self.base_url = str(url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.rate_limiter = rate_limiter
        self.user_agent = user_agent
        self._origin = (url.scheme, url.host, url.port)
        self.__token = token
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=30.0))

    def __repr__(self) -> str:
        return f"CeligoClient(region={self.region!r}, base_url={self.base_url!r})"

    async def __aenter__(self) -> CeligoClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_http:
            await self._http.aclose()

    # ------------------------------------------------------------------------------------------- reads
    async def token_info(self) -> TokenInfo:
        """The cheapest 'is this token valid here' call."""
        return self._parse(await self._request("GET", "/v1/tokenInfo"), TokenInfo)

    async def list_integrations(self) -> list[Integration]:
        return await self._list("/v1/integrations", Integration)

    async def inventory(self) -> Inventory:
        """Counts for status: two list calls (plus their pages), run concurrently."""
        users, integrations = await asyncio.gather(self._list("/v1/ashares", UserSummary),
                                                   self.list_integrations())
        return Inventory.from_data(users, integrations)

    # ------------------------------------------------------------------------------------ API tokens
    # Whether an API token may call these is unconfirmed (Celigo's docs and tools disagree): rotation through
    # them is opt-in, and callers must treat Forbidden as "not available", not as a broken token.
    async def list_access_tokens(self) -> list[AccessToken]:
        """Token records; values come back masked."""
        return await self._list("/v1/accesstokens", AccessToken)

    async def get_access_token(self, token_id: str) -> AccessToken:
        return self._parse(await self._request("GET", f"/v1/accesstokens/{_segment(token_id)}"), AccessToken)

    async def create_access_token(self, name: str, *, description: str = "",
                                  auto_purge_at: datetime | None = None,
                                  scopes: Mapping[str, Sequence[str]] | None = None) -> CreatedToken:
        """``POST /v1/accesstokens`` -> 201 with the record. Full access unless ``scopes`` (Celigo's list
        names, see SCOPE_FIELDS) narrows it; ``auto_purge_at`` (aware, at most 30 days ahead) is when Celigo
        purges it, None = never. Never retried once sent (``OutcomeUnknown``): find it again by its name.

        Whether the answer shows the value is unconfirmed (sources conflict): an unmasked ``token`` in it is
        returned as ``CreatedToken.value``; otherwise the caller must read it (``display_access_token``)
        and, failing that, revoke the token at once."""
        body: dict[str, Any] = {"name": name, "description": description}
        if scopes is None:
            body["fullAccess"] = True
        else:
            unknown = set(scopes) - set(SCOPE_FIELDS)
            if unknown or not scopes:
                raise ValueError(f"scopes must name some of {SCOPE_FIELDS}")
            body.update({key: list(ids) for key, ids in scopes.items()})
        if auto_purge_at is not None:
            if auto_purge_at.tzinfo is None:
                raise ValueError("auto_purge_at must be timezone-aware")
            now = datetime.now(UTC)
            if not now < auto_purge_at <= now + MAX_AUTO_PURGE:
                raise ValueError("auto_purge_at must be in the future and at most 30 days ahead")
            body["autoPurgeAt"] = auto_purge_at.astimezone(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z")
        response = await self._request("POST", "/v1/accesstokens", json=body, idempotent=False)
        record = self._parse(response, AccessToken)
        raw = self._json(response, "/v1/accesstokens").get("token")
        shown = raw if _valid_token(raw) and set(str(raw)) != {"*"} else None
        return CreatedToken(record=record, value=shown)

    async def display_access_token(self, token_id: str) -> str:
        """The token's value through ``GET /v1/accesstokens/{id}/display`` (Celigo emails the owners about
        every view). This endpoint is in no public doc: expect Forbidden, NotFound or MalformedResponse."""
        response = await self._request("GET", f"/v1/accesstokens/{_segment(token_id)}/display")
        return self._token_value(response, f"/v1/accesstokens/{token_id}/display")

    async def revoke_access_token(self, token_id: str) -> None:
        """GET the record, set ``revoked: true``, PUT it back whole (a full replace; the masked value is
        left out). Celigo documents 200 for the PUT; 204 is accepted too."""
        path = f"/v1/accesstokens/{_segment(token_id)}"
        record = self._json(await self._request("GET", path), path)
        if not isinstance(record, dict):
            raise MalformedResponse("GET accesstoken did not answer an object", method="GET", path=path)
        body = {k: v for k, v in record.items() if k != "token"}
        body["revoked"] = True
        await self._request("PUT", path, json=body, expect_body=False)

    # -------------------------------------------------------------------------------------- machinery
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__token}", "Accept": "application/json",
                "User-Agent": self.user_agent}

    def _scrub(self, text: str, limit: int = 300) -> str:
        text = text.replace(self.__token, "***")
        return text if len(text) <= limit else text[:limit] + "…"

    def _url(self, path_or_url: str) -> httpx.URL:
        url = httpx.URL(path_or_url if "://" in path_or_url else self.base_url + path_or_url)
        if (url.scheme, url.host, url.port) != self._origin:
            # The token is only ever sent to the configured origin.
            raise MalformedResponse("refusing to send the token to another origin", path=url.path)
        return url

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff_base * (2 ** attempt))
        return random.uniform(ceiling / 2, ceiling)

    async def _request(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                       json: Any = None, idempotent: bool | None = None,
                       expect_body: bool = True) -> httpx.Response:
        """Send with timeout, bounded retries and backoff; map failures to typed errors."""
        url = self._url(path_or_url)
        path = url.path
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if self.rate_limiter is not None:
                await self.rate_limiter.acquire()
            response, error, retry = await self._send(method, url, path, params, json, idempotent)
            if response is None:
                # Raised here, outside any except block: no __context__ pointing at httpx's request
                # (whose headers hold the token) travels with the error.
                assert error is not None
                if last or not retry:
                    raise error
                await self._pause(method, path, attempt, type(error).__name__, None)
                continue
            status = response.status_code
            log.debug("celigo %s %s -> %s (attempt %d)", method, path, status, attempt + 1)
            if 200 <= status < 300:
                if expect_body and status == 204:
                    raise MalformedResponse(f"{method} {path}: 204 where a body was expected",
                                            status_code=status, method=method, path=path)
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429 and self.rate_limiter is not None:
                self.rate_limiter.penalize(retry_after if retry_after is not None else self._backoff(attempt))
            retryable = status == 429 or (idempotent and status in RETRYABLE_STATUSES)
            too_long = retry_after is not None and retry_after > self.max_backoff
            if retryable and not last and not too_long:
                await self._pause(method, path, attempt, f"HTTP {status}", retry_after)
                continue
            raise self._error(response, method, path, idempotent, retry_after)
        raise AssertionError("unreachable")  # the loop always returns or raises

    async def _send(self, method: str, url: httpx.URL, path: str, params: Mapping[str, Any] | None,
                    json: Any, idempotent: bool) -> tuple[httpx.Response | None, CeligoError | None, bool]:
        """One attempt: the response, or a typed error and whether retrying it is safe."""
        kwargs: dict[str, Any] = {"method": method, "path": path}
        try:
            response = await self._http.request(method, url, params=params, json=json,
                                                headers=self._headers(), timeout=self.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Celigo: safe to retry even a non-idempotent call.
            kind = Timeout if isinstance(exc, httpx.TimeoutException) else Unavailable
            return None, kind(self._scrub(f"{method} {path}: {exc} ({type(exc).__name__})"), **kwargs), True
        except httpx.TimeoutException as exc:
            message = self._scrub(f"{method} {path}: no answer within {self.timeout:g}s ({type(exc).__name__})")
            if not idempotent:
                return None, OutcomeUnknown(message, **kwargs), False
            return None, Timeout(message, **kwargs), True
        except httpx.TransportError as exc:
            message = self._scrub(f"{method} {path}: {exc} ({type(exc).__name__})")
            if not idempotent:
                return None, OutcomeUnknown(message, **kwargs), False
            return None, Unavailable(message, **kwargs), True
        except httpx.HTTPError as exc:  # a local problem (bad URL, protocol): retrying cannot help
            return None, CeligoError(f"{method} {path}: request failed ({type(exc).__name__})", **kwargs), False
        return response, None, False

    async def _pause(self, method: str, path: str, attempt: int, why: str, retry_after: float | None) -> None:
        if retry_after is not None:
            # Never earlier than Celigo asked; a little later spreads out sharers of the same account.
            delay = retry_after + random.uniform(0, min(1.0, 0.1 * retry_after))
        else:
            delay = self._backoff(attempt)
        log.info("celigo %s %s: %s, retry %d/%d in %.2fs", method, path, why, attempt + 1, self.max_retries,
                 delay)
        await asyncio.sleep(delay)

    def _error(self, response: httpx.Response, method: str, path: str, idempotent: bool,
               retry_after: float | None) -> CeligoError:
        status = response.status_code
        code = field = None
        detail = ""
        body: Any = None
        if "json" in response.headers.get("Content-Type", "").lower():
            try:
                body = response.json()
            except ValueError:
                body = None
        if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
            code = str(first["code"]) if first.get("code") is not None else None
            field = str(first["field"]) if first.get("field") is not None else None
            detail = "; ".join(str(e.get("message", "")) for e in body["errors"] if isinstance(e, dict))
        elif isinstance(body, dict) and isinstance(body.get("message"), str):
            detail = body["message"]
        detail = self._scrub(detail)
        message = (f"{method} {path}: HTTP {status}" + (f" {code}" if code else "")
                   + (f": {detail}" if detail else ""))
        kwargs: dict[str, Any] = {"status_code": status, "code": code, "method": method, "path": path,
                                  "field": field}
        if status == 401:
            reason = {"Unauthorized": "header_missing",
                      "Bearer Authentication Failed": "authentication_failed"}.get(detail, "unknown")
            return Unauthorized(message, reason=reason, **kwargs)  # type: ignore[arg-type]
        if status == 403:
            return Forbidden(message, **kwargs)
        if status == 404:
            return NotFound(message, **kwargs)
        if status == 409:
            return Conflict(message, **kwargs)
        if status == 429:
            return RateLimited(message, retry_after=retry_after, **kwargs)
        if status >= 500:
            if not idempotent:
                return OutcomeUnknown(message, **kwargs)
            return Unavailable(message, **kwargs)
        if 300 <= status < 400:
            return Unavailable(f"{method} {path}: unexpected redirect (HTTP {status})", **kwargs)
        return InvalidRequest(message, **kwargs)

    def _json(self, response: httpx.Response, path: str) -> Any:
        self._check_json(response, path)
        try:
            return response.json()
        except ValueError:
            pass
        method = response.request.method
        raise MalformedResponse(f"{method} {path}: body is not valid JSON", status_code=response.status_code,
                                method=method, path=path)

    def _check_json(self, response: httpx.Response, path: str) -> None:
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            got = self._scrub(content_type, 60) or "no content type"
            method = response.request.method
            raise MalformedResponse(f"{method} {path}: expected JSON, got {got}",
                                    status_code=response.status_code, method=method, path=path)

    def _validated(self, response: httpx.Response, adapter: TypeAdapter[Any], what: str) -> Any:
        path = response.request.url.path
        method = response.request.method
        self._check_json(response, path)
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            # Only locations and messages: pydantic's own text would quote the input.
            problems = exc.errors(include_url=False, include_input=False, include_context=False)
        if any(p["type"] == "json_invalid" for p in problems):
            summary = "body is not valid JSON"
        else:
            where = ", ".join(".".join(str(x) for x in p["loc"]) or "(top)" for p in problems[:3])
            summary = f"unexpected shape for {what} at {where}: {problems[0]['msg']}"
        raise MalformedResponse(self._scrub(f"{method} {path}: {summary}"),
                                status_code=response.status_code, method=method, path=path)

    def _parse(self, response: httpx.Response, model: type[M]) -> M:
        result: M = self._validated(response, _adapter(model), model.__name__)
        return result

    async def _list(self, path: str, model: type[M]) -> list[M]:
        """All pages of a list endpoint: each must be a JSON array; follow Link rel=next on our origin."""
        adapter = _adapter(list[model])  # type: ignore[valid-type]
        url: str = path
        params: dict[str, Any] | None = {"limit": self.page_limit} if self.page_limit else None
        seen: set[str] = set()
        items: list[M] = []
        for _ in range(self.max_pages):
            response = await self._request("GET", url, params=params, expect_body=False)
            if response.status_code == 204:  # Celigo's other way to say "empty list"
                return items
            items.extend(self._validated(response, adapter, f"a list of {model.__name__}"))
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return items
            absolute = urljoin(str(response.url), next_url)
            if absolute in seen:
                raise MalformedResponse(f"GET {path}: pagination loops", method="GET", path=path)
            seen.add(absolute)
            url, params = absolute, None
        raise MalformedResponse(f"GET {path}: more than {self.max_pages} pages", method="GET", path=path)

    def _token_value(self, response: httpx.Response, path: str) -> str:
        body = self._json(response, path)
        value = body.get("token") if isinstance(body, dict) else None
        if not _valid_token(value) or set(str(value)) == {"*"}:
            raise MalformedResponse(f"{response.request.method} {path}: no token value in the answer",
                                    method=response.request.method, path=path)
        return str(value)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    return adapter


def _segment(value: str) -> str:
    """An id as one path segment: refuse anything that could change the path."""
    if not value or any(c in value for c in "/?#%\\") or value in (".", ".."):
        raise ValueError("invalid Celigo id")
    return value
