"""A fake ConductorOne API server for tests and the demo: real HTTP on loopback, real signatures.

What it serves (ConductorOne's public API as of its Terraform provider spec 2026-08 and Go SDK v1.26.0;
README.md, "The APIs the operator calls", sums it up):

* ``POST /auth/v1/token``: OAuth client credentials with an EdDSA client assertion. The assertion is
  verified for real against the client's registered Ed25519 public key (pyjwt + cryptography): another
  key, an expired or not-yet-valid or too long-lived assertion, a wrong ``aud`` (the tenant host without
  port), ``iss``/``sub`` other than the client id, an unknown, revoked or expired client -> 401 with an
  OAuth error body. Success issues an opaque bearer token that expires after ``token_ttl``.
* ``/api/v1/...`` routes require a valid bearer token (401 otherwise, gRPC-gateway error body):
  - ``GET /api/v1/apps/{app_id}/connectors/{connector_id}`` answers
    ``{"connectorView": {"connector": {..., "status": {"status", "startedAt", "completedAt",
    "lastError", "updatedAt"}}}}``; the status is one of RUNNING, DONE, ERROR, DISABLED, UNSPECIFIED.
  - rotate: ``POST /api/v1/apps/connectors/credentials`` with ``{"appId", "connectorId"}`` registers a new
    client with a fresh Ed25519 key and answers ``{"credential": {..., "clientSecret": "..."}}``: the
    secret appears in that answer only. Credentials coexist unless ``rotate_revokes_previous`` is set
    (whether the real rotate revokes the old one is *unconfirmed*). The older path form
    (``POST /api/v1/apps/{app_id}/connectors/{connector_id}/credentials``) left the API: 404, like any
    unknown path.
  - ``GET .../credentials/{id}`` -> ``{"credential": ...}`` (never the secret; a revoked one carries
    ``deletedAt``, a fake choice); revoke with ``POST .../credentials/{id}`` and ``{}`` -> ``{}``:
    afterwards that client's token requests and existing tokens fail. Revoking twice is a no-op.
* Fault injection (``inject(Fault(...))``): 401, 403, 429 with Retry-After, 5xx, delays, requests that
  never get an answer (``timeout``), and requests held until a ``threading.Event`` is set (``hold``),
  so a test can kill a process exactly while a request is in flight.

The server runs its own event loop in a daemon thread; every public method is thread-safe and callable
from any thread or loop. Its clock is wall time plus an offset that ``advance()`` moves, so expiry can be
tested without waiting. Recorded requests hold method, path, status, client id and the request body with
every secret replaced by ``<redacted>`` (the token form's assertion), never a secret.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from celigo_testkit.credentials import issue_client, strip_port

__all__ = ["SYNC_STATUSES", "FakeConductorOne", "Fault", "IssuedCredential", "RecordedRequest"]

TOKEN_PATH = "/auth/v1/token"
ROTATE_PATH = "/api/v1/apps/connectors/credentials"
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SYNC_STATUSES = (
    "SYNC_STATUS_RUNNING",
    "SYNC_STATUS_DONE",
    "SYNC_STATUS_ERROR",
    "SYNC_STATUS_DISABLED",
    "SYNC_STATUS_UNSPECIFIED",
)
# gRPC status codes used in gRPC-gateway error bodies.
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 501: 12, 503: 14, 504: 4}

#: Request fields never kept in the request log.
_SECRET_FIELDS = frozenset({"client_assertion", "client_secret", "clientSecret"})

# Who made the request (token requests: the form's client id; API calls: the bearer's client).
_CLIENT_ID = web.RequestKey("client_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``times`` matching requests (None: until cleared).

    Matching: ``path_prefix`` (None = every path) and ``method`` (None = any). Then, in order: wait
    ``delay`` seconds; wait until ``hold`` is set; with ``timeout`` never answer (until the server
    stops); finally answer ``status`` (with ``Retry-After: retry_after`` when given, and ``body`` as the
    raw response text when given, e.g. to serve a malformed 200) or, with no status, let the request
    through to its real handler. ``arrived`` is set when a matching request comes in
    and ``hits`` counts them, so a test can wait for the exact moment a request is in flight.
    """

    path_prefix: str | None = None
    status: int | None = None
    times: int | None = 1
    retry_after: float | None = None
    delay: float = 0.0
    timeout: bool = False
    hold: threading.Event | None = None
    method: str | None = None
    body: str | None = None
    #: Only requests from this kind of client: "api" (registered API credentials) or "connector" (a
    #: connector credential), by the token form's client id or the bearer token's owner.
    client_kind: str | None = None
    hits: int = field(default=0, init=False)
    arrived: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def matches(self, method: str, path: str, kind: str | None = None) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.client_kind is not None and self.client_kind != kind:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake saw: never a header, a form value or a token."""

    method: str
    path: str
    status: int
    client_id: str | None = None
    faulted: bool = False
    #: The JSON body (or form) sent, with secrets replaced by "<redacted>"; None when there was none.
    body: Any = None


@dataclass(frozen=True, repr=False)
class IssuedCredential:
    """A connector credential made by the fake; ``client_secret`` is kept out of repr."""

    credential_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"IssuedCredential(credential_id={self.credential_id!r}, client_id={self.client_id!r})"

    def __iter__(self) -> Iterator[str]:
        """Unpack as ``client_id, client_secret`` like register_client()'s tuple."""
        return iter((self.client_id, self.client_secret))


@dataclass
class _Client:
    client_id: str
    public_key: Ed25519PublicKey
    kind: str  # "api" or "connector"
    revoked: bool = False
    credential_id: str | None = None


@dataclass
class _Credential:
    id: str
    client_id: str
    app_id: str
    connector_id: str
    display_name: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass
class _Connector:
    app_id: str
    connector_id: str
    display_name: str
    created_at: float
    status: str
    started_at: float | None = None
    completed_at: float | None = None
    last_error: str | None = None
    updated_at: float | None = None


@dataclass
class _Token:
    client_id: str
    expires_at: float


def _ts(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def _normalise_status(status: str) -> str:
    upper = status.upper()
    if not upper.startswith("SYNC_STATUS_"):
        upper = "SYNC_STATUS_" + upper
    if upper not in SYNC_STATUSES:
        raise ValueError(f"unknown sync status {status!r}; expected one of {SYNC_STATUSES}")
    return upper


class FakeConductorOne:
    """ConductorOne's token endpoint and the connector/credential API, as a context manager.

    ``token_ttl`` is the access-token lifetime (seconds); ``credential_ttl`` the lifetime of connector
    credentials (None: they never expire); ``max_assertion_lifetime`` refuses assertions valid for
    longer; ``leeway`` is the clock skew tolerated on assertion times. ``shutdown_timeout`` bounds how
    long stop() waits for in-flight handlers.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tenant_host: str = "example.conductor.one",
        token_ttl: int = 3600,
        credential_ttl: float | None = 90 * 24 * 3600.0,
        rotate_revokes_previous: bool = False,
        max_assertion_lifetime: float = 600.0,
        leeway: float = 5.0,
        shutdown_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self._fixed_port = port
        self.tenant_host = tenant_host
        self.token_ttl = token_ttl
        self.credential_ttl = credential_ttl
        self.rotate_revokes_previous = rotate_revokes_previous
        self.max_assertion_lifetime = max_assertion_lifetime
        self.leeway = leeway
        self.shutdown_timeout = shutdown_timeout

        self._lock = threading.RLock()
        self._offset = 0.0
        self._clients: dict[str, _Client] = {}
        self._credentials: dict[str, _Credential] = {}
        self._connectors: dict[tuple[str, str], _Connector] = {}
        self._tokens: dict[str, _Token] = {}
        self._faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []

        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"FakeConductorOne(url={self.url if self._port else None!r}, tenant_host={self.tenant_host!r})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeConductorOne is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeConductorOne is not started")
        return self._port

    def start(self) -> FakeConductorOne:
        """Bind the loopback port (ephemeral unless given) and serve from a daemon thread; returns once listening."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-conductorone", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError("FakeConductorOne failed to start") from failure[0]
        return self

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_get("/api/v1/apps/{app_id}/connectors/{connector_id}", self._get_connector)
        app.router.add_post(ROTATE_PATH, self._rotate)
        cred = "/api/v1/apps/{app_id}/connectors/{connector_id}/credentials/{credential_id}"
        app.router.add_get(cred, self._get_credential)
        app.router.add_post(cred, self._revoke_credential)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._fixed_port)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    def stop(self) -> None:
        """Release held/timed-out requests, close the server and join its thread. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return

        async def shutdown() -> None:
            if self._stopping is not None:
                self._stopping.set()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=self.shutdown_timeout + 10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._runner = None

    def __enter__(self) -> FakeConductorOne:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ test controls

    def now(self) -> float:
        """The fake's clock: wall time plus whatever advance() added."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward: tokens, assertions and credentials expire without waiting."""
        with self._lock:
            self._offset += seconds

    def register_client(self, name: str = "celigo-operator") -> tuple[str, str]:
        """Create API credentials (the operator's own) and return ``(client_id, client_secret)``."""
        issued = issue_client(self.tenant_host, name)
        with self._lock:
            self._clients[issued.client_id] = _Client(
                client_id=issued.client_id, public_key=issued.public_key, kind="api"
            )
        return issued.client_id, issued.client_secret

    def register_public_key(self, client_id: str, public_key: Ed25519PublicKey) -> None:
        """Register a client whose key a test made itself (e.g. to sign assertions by hand)."""
        name, at, rest = client_id.partition("@")
        if not (name and at and "/" in rest):
            raise ValueError("client id must look like <name>@<tenant-host>/<rest>")
        with self._lock:
            self._clients[client_id] = _Client(client_id=client_id, public_key=public_key, kind="api")

    def add_connector(
        self,
        app_id: str,
        connector_id: str,
        status: str = "SYNC_STATUS_DONE",
        *,
        display_name: str = "Celigo",
        with_credential: bool = True,
    ) -> IssuedCredential | None:
        """Create a connector; by default with a first credential (what the UI hands the connector pod)."""
        now = self.now()
        with self._lock:
            self._connectors[(app_id, connector_id)] = _Connector(
                app_id=app_id,
                connector_id=connector_id,
                display_name=display_name,
                created_at=now,
                status=_normalise_status(status),
                started_at=now,
                completed_at=None if _normalise_status(status) == "SYNC_STATUS_RUNNING" else now,
                updated_at=now,
            )
            if not with_credential:
                return None
            return self._new_credential(app_id, connector_id)

    def set_sync_status(
        self,
        app_id: str,
        connector_id: str,
        status: str,
        last_error: str | None = None,
        started_at: float | datetime | None = None,
        completed_at: float | datetime | None = None,
    ) -> None:
        """Move the connector's sync state. RUNNING stamps startedAt; DONE/ERROR stamp completedAt.

        ``last_error`` replaces the previous one (None clears it). Timestamps may be given explicitly
        (epoch seconds or aware datetimes) to build exact scenarios.
        """

        def secs(value: float | datetime | None) -> float | None:
            return value.timestamp() if isinstance(value, datetime) else value

        normalised = _normalise_status(status)
        now = self.now()
        with self._lock:
            connector = self._connector(app_id, connector_id)
            connector.status = normalised
            if normalised == "SYNC_STATUS_RUNNING":
                connector.started_at = secs(started_at) if started_at is not None else now
                if completed_at is not None:
                    connector.completed_at = secs(completed_at)
            else:
                if started_at is not None:
                    connector.started_at = secs(started_at)
                connector.completed_at = secs(completed_at) if completed_at is not None else now
            connector.last_error = last_error
            connector.updated_at = now

    def credentials(self, app_id: str, connector_id: str) -> list[dict[str, Any]]:
        """The connector's credentials, oldest first: id, clientId, revoked, createdAt, expiresTime, ..."""
        with self._lock:
            return [
                {
                    "id": c.id,
                    "clientId": c.client_id,
                    "revoked": c.revoked_at is not None,
                    "createdAt": _ts(c.created_at),
                    "expiresTime": _ts(c.expires_at),
                    "lastUsedAt": _ts(c.last_used_at),
                    "displayName": c.display_name,
                }
                for c in self._credentials.values()
                if (c.app_id, c.connector_id) == (app_id, connector_id)
            ]

    def is_valid_client(self, client_id: str) -> bool:
        """Would a correctly signed token request for this client id succeed right now?"""
        with self._lock:
            return self._client_refusal(client_id) is None

    def revoke_client(self, client_id: str) -> None:
        """Revoke a client (API or connector credential) as if an admin did it in the UI."""
        with self._lock:
            client = self._clients.get(client_id)
            if client is None:
                raise KeyError(f"unknown client id {client_id!r}")
            if client.credential_id is not None:
                self._revoke(self._credentials[client.credential_id])
            else:
                client.revoked = True
                self._drop_tokens(client_id)

    def inject(self, fault: Fault) -> Fault:
        """Queue a fault; faults are tried in the order they were injected. Returns it for inspection."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        path_prefix: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many recorded requests match all the given filters."""
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
                and (path_prefix is None or r.path.startswith(path_prefix))
                and (status is None or r.status == status)
            )

    def issued_tokens(self) -> list[str]:
        """Every access token currently valid: for tests that scan logs and errors for leaked secrets."""
        with self._lock:
            return list(self._tokens)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------ state helpers (lock held)

    def _connector(self, app_id: str, connector_id: str) -> _Connector:
        connector = self._connectors.get((app_id, connector_id))
        if connector is None:
            raise KeyError(f"unknown connector {app_id}/{connector_id}")
        return connector

    def _new_credential(self, app_id: str, connector_id: str) -> IssuedCredential:
        issued = issue_client(self.tenant_host, f"connector-{connector_id}")
        client_id, client_secret = issued.client_id, issued.client_secret
        now = self.now()
        cred = _Credential(
            id=uuid.uuid4().hex[:27],
            client_id=client_id,
            app_id=app_id,
            connector_id=connector_id,
            display_name=f"credential {len(self._credentials) + 1}",
            created_at=now,
            expires_at=None if self.credential_ttl is None else now + self.credential_ttl,
        )
        self._credentials[cred.id] = cred
        self._clients[client_id] = _Client(
            client_id=client_id,
            public_key=issued.public_key,
            kind="connector",
            credential_id=cred.id,
        )
        return IssuedCredential(credential_id=cred.id, client_id=client_id, client_secret=client_secret)

    def _revoke(self, cred: _Credential) -> None:
        if cred.revoked_at is None:
            cred.revoked_at = self.now()
        self._clients[cred.client_id].revoked = True
        self._drop_tokens(cred.client_id)

    def _drop_tokens(self, client_id: str) -> None:
        for token in [t for t, rec in self._tokens.items() if rec.client_id == client_id]:
            del self._tokens[token]

    def _client_refusal(self, client_id: str) -> str | None:
        """Why a client may not get a token, or None if it may."""
        client = self._clients.get(client_id)
        if client is None:
            return "unknown client"
        if client.revoked:
            return "client revoked"
        if client.credential_id is not None:
            cred = self._credentials[client.credential_id]
            if cred.expires_at is not None and cred.expires_at <= self.now():
                return "credential expired"
        return None

    def _credential_view(self, cred: _Credential) -> dict[str, Any]:
        view = {
            "id": cred.id,
            "clientId": cred.client_id,
            "appId": cred.app_id,
            "connectorId": cred.connector_id,
            "displayName": cred.display_name,
            "createdAt": _ts(cred.created_at),
            "expiresTime": _ts(cred.expires_at),
            "lastUsedAt": _ts(cred.last_used_at),
            "deletedAt": _ts(cred.revoked_at),
        }
        return {k: v for k, v in view.items() if v is not None}

    # ------------------------------------------------------------------ HTTP plumbing

    @staticmethod
    def _api_error(status: int, message: str) -> web.Response:
        return web.json_response(
            {"code": _GRPC_CODES.get(status, 2), "message": message, "details": []}, status=status
        )

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=status)

    def _fault_response(self, fault: Fault, path: str) -> web.Response:
        assert fault.status is not None
        status = fault.status
        if fault.body is not None:
            response = web.Response(status=status, text=fault.body, content_type="application/json")
        elif path.startswith(TOKEN_PATH):
            error = {401: "invalid_client", 403: "unauthorized_client", 429: "slow_down"}.get(
                status, "server_error" if status >= 500 else "invalid_request"
            )
            response = self._oauth_error(status, error, "injected fault")
        else:
            response = self._api_error(status, "injected fault")
        if fault.retry_after is not None:
            retry_after = fault.retry_after
            response.headers["Retry-After"] = (
                str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            )
        return response

    async def _wait_released(self, fault: Fault) -> None:
        stopping = self._stopping
        assert stopping is not None
        if fault.delay > 0:
            try:
                await asyncio.wait_for(stopping.wait(), timeout=fault.delay)
            except TimeoutError:
                pass
        if fault.hold is not None:
            # A threading.Event cannot be awaited; poll it, and give up when the server stops.
            while not fault.hold.is_set() and not stopping.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        if fault.timeout:
            await stopping.wait()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        method, path = request.method, request.path
        # Read the body now: a request held by a fault must still complete after its caller went away
        # (the answer is lost, the effect is not), and aiohttp caches it for the handler.
        await request.read()
        kind = await self._client_kind(request) if any(f.client_kind for f in self._faults) else None
        with self._lock:
            fault = next((f for f in self._faults if f.matches(method, path, kind)), None)
            if fault is not None:
                fault.hits += 1
        response: web.StreamResponse
        if fault is not None:
            fault.arrived.set()
            await self._wait_released(fault)
            if fault.timeout or (self._stopping is not None and self._stopping.is_set()):
                response = self._api_error(504, "no answer (injected timeout)")
            elif fault.status is not None:
                response = self._fault_response(fault, path)
            else:
                response = await self._call(handler, request)
        else:
            response = await self._call(handler, request)
        body = await self._recorded_body(request)
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    status=response.status,
                    client_id=request.get(_CLIENT_ID),
                    faulted=fault is not None,
                    body=body,
                )
            )
        return response

    @staticmethod
    async def _recorded_body(request: web.Request) -> Any:
        """The request body for the log: JSON or form fields, secrets replaced by "<redacted>"."""
        if not request.body_exists:
            return None
        try:
            if request.content_type == "application/x-www-form-urlencoded":
                form: Any = dict(await request.post())
            else:
                form = json.loads(await request.read())
        except (ValueError, ConnectionError, RuntimeError):
            return "<unreadable>"
        if isinstance(form, dict):
            return {k: "<redacted>" if k in _SECRET_FIELDS else v for k, v in form.items()}
        return form

    async def _client_kind(self, request: web.Request) -> str | None:
        """The kind of client behind a request (form client id or bearer token), for kind-scoped faults."""
        client_id: str | None = None
        if request.path.startswith(TOKEN_PATH) and request.content_type == "application/x-www-form-urlencoded":
            value = (await request.post()).get("client_id")  # aiohttp caches the body for the handler
            client_id = value if isinstance(value, str) else None
        else:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with self._lock:
                record = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
                client_id = record.client_id if record is not None else None
        with self._lock:
            client = self._clients.get(client_id) if client_id else None
            return client.kind if client is not None else None

    async def _call(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if request.path.startswith("/api/"):
                if exc.status == 405:  # a verb the path does not have: as unknown as an unknown path
                    return self._api_error(404, "Not Found")
                return self._api_error(exc.status, exc.reason)
            return web.Response(status=exc.status, text=exc.reason)

    def _authorize(self, request: web.Request) -> web.Response | None:
        """Check the bearer token; return an error response, or None and note the caller's client id."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return self._api_error(401, "missing bearer token")
        with self._lock:
            record = self._tokens.get(value.strip())
            if record is None:
                return self._api_error(401, "invalid or revoked token")
            if record.expires_at <= self.now():
                del self._tokens[value.strip()]
                return self._api_error(401, "token expired")
            if self._client_refusal(record.client_id) is not None:
                return self._api_error(401, "client no longer valid")
            request[_CLIENT_ID] = record.client_id
        return None

    # ------------------------------------------------------------------ handlers

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return self._oauth_error(400, "invalid_request", "expected a form body")
        form = await request.post()
        fields = ("grant_type", "client_id", "client_assertion_type", "client_assertion")
        values = {k: form.get(k) for k in fields}
        if any(not isinstance(v, str) or not v for v in values.values()):
            return self._oauth_error(400, "invalid_request", "missing form field")
        if values["grant_type"] != GRANT_TYPE:
            return self._oauth_error(400, "unsupported_grant_type", "only client_credentials")
        if values["client_assertion_type"] != ASSERTION_TYPE:
            return self._oauth_error(400, "invalid_request", "unsupported client_assertion_type")
        client_id = str(values["client_id"])
        assertion = str(values["client_assertion"])
        request[_CLIENT_ID] = client_id
        with self._lock:
            client = self._clients.get(client_id)
            refusal = self._client_refusal(client_id)
        if client is None or refusal is not None:
            return self._oauth_error(401, "invalid_client", refusal or "unknown client")
        problem = self._check_assertion(assertion, client)
        if problem is not None:
            return self._oauth_error(401, "invalid_client", problem)
        token = "c1t_" + secrets.token_urlsafe(32)
        with self._lock:
            if self._client_refusal(client_id) is not None:  # revoked while we were verifying
                return self._oauth_error(401, "invalid_client", "client revoked")
            self._tokens[token] = _Token(client_id=client_id, expires_at=self.now() + self.token_ttl)
            if client.credential_id is not None:
                self._credentials[client.credential_id].last_used_at = self.now()
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    def _check_assertion(self, assertion: str, client: _Client) -> str | None:
        """Verify the EdDSA client assertion against the client's key; return why it fails, or None."""
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return "assertion is not a JWT"
        if header.get("alg") != "EdDSA":
            return "assertion must be signed with EdDSA"
        try:
            claims = jwt.decode(
                assertion,
                key=client.public_key,
                algorithms=["EdDSA"],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": ["exp", "iss", "sub", "aud"],
                },
            )
        except jwt.InvalidSignatureError:
            return "assertion signature does not verify"
        except jwt.PyJWTError:
            return "assertion is malformed"
        if claims.get("iss") != client.client_id:
            return "assertion iss is not the client id"
        if claims.get("sub") != client.client_id:
            return "assertion sub is not the client id"
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if strip_port(self.tenant_host) not in audiences:
            return "assertion aud is not the tenant host"
        now = self.now()
        try:
            exp = float(claims["exp"])
            nbf = float(claims["nbf"]) if "nbf" in claims else None
            iat = float(claims["iat"]) if "iat" in claims else None
        except (TypeError, ValueError):
            return "assertion times are not numbers"
        if exp <= now - self.leeway:
            return "assertion expired"
        if exp - now > self.max_assertion_lifetime:
            return "assertion lifetime too long"
        if nbf is not None and nbf > now + self.leeway:
            return "assertion not yet valid"
        if iat is not None and iat > now + self.leeway:
            return "assertion issued in the future"
        return None

    async def _get_connector(self, request: web.Request) -> web.Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        app_id, connector_id = request.match_info["app_id"], request.match_info["connector_id"]
        with self._lock:
            connector = self._connectors.get((app_id, connector_id))
            if connector is None:
                return self._api_error(404, "connector not found")
            status = {
                "status": connector.status,
                "startedAt": _ts(connector.started_at),
                "completedAt": _ts(connector.completed_at),
                "lastError": connector.last_error,
                "updatedAt": _ts(connector.updated_at),
            }
            view = {
                "id": connector.connector_id,
                "appId": connector.app_id,
                "displayName": connector.display_name,
                "createdAt": _ts(connector.created_at),
                "updatedAt": _ts(connector.updated_at),
                "status": {k: v for k, v in status.items() if v is not None},
            }
        return web.json_response({"connectorView": {"connector": view}})

    async def _rotate(self, request: web.Request) -> web.Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return self._api_error(400, "body is not JSON")
        app_id = body.get("appId") if isinstance(body, dict) else None
        connector_id = body.get("connectorId") if isinstance(body, dict) else None
        if not isinstance(app_id, str) or not app_id or not isinstance(connector_id, str) or not connector_id:
            return self._api_error(400, "appId and connectorId are required")
        with self._lock:
            if (app_id, connector_id) not in self._connectors:
                return self._api_error(404, "connector not found")
            previous = [
                c
                for c in self._credentials.values()
                if (c.app_id, c.connector_id) == (app_id, connector_id) and c.revoked_at is None
            ]
            issued = self._new_credential(app_id, connector_id)
            if self.rotate_revokes_previous:
                for cred in previous:
                    self._revoke(cred)
            view = self._credential_view(self._credentials[issued.credential_id])
        # The secret is part of the credential, in this answer only.
        return web.json_response({"credential": {**view, "clientSecret": issued.client_secret}})

    def _find_credential(self, request: web.Request) -> _Credential | None:
        cred = self._credentials.get(request.match_info["credential_id"])
        if cred is None or (cred.app_id, cred.connector_id) != (
            request.match_info["app_id"],
            request.match_info["connector_id"],
        ):
            return None
        return cred

    async def _get_credential(self, request: web.Request) -> web.Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        with self._lock:
            cred = self._find_credential(request)
            if cred is None:
                return self._api_error(404, "credential not found")
            return web.json_response({"credential": self._credential_view(cred)})

    async def _revoke_credential(self, request: web.Request) -> web.Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        with self._lock:
            cred = self._find_credential(request)
            if cred is None:
                return self._api_error(404, "credential not found")
            self._revoke(cred)
        return web.json_response({})

