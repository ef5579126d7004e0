"""A fake Celigo integrator.io API, faithful to Celigo's public docs (developer.celigo.com, docs.celigo.com;
README.md, "The APIs the operator calls", sums up what the operator uses), for tests, demos and benchmarks.

Why a real HTTP server: the operator's client, the connector itself (via ``BATON_BASE_URL``) and the tests
must all talk to the same thing over real sockets. One listener per region (``us``, ``eu``) runs in a
daemon thread with its own event loop, so it never blocks the caller's loop.

Knobs for tests: tokens (add/revoke/expire), faults (status, delay, hold past a timeout, bad bodies),
per-request latency, a per-account token-bucket rate limit, a fake clock offset, and a request log that
records everything except token values.

Choices the public docs leave open (kept in one place so they are easy to change):
- error codes ``not_found``, ``forbidden``, ``method_not_allowed``, ``invalid_json``, ``conflict`` and
  ``internal_error`` are ours; ``invalid_field``, ``invalid_query_params``, ``rate_limited`` are documented;
- ``GET /v1/integrations/{id}/ashares`` lists account-level users unchanged plus the integration-only users
  of that integration, with ``accessLevel`` set to their level for it;
- access-token values are fully masked (``"********"``) everywhere except ``GET /v1/accesstokens/{id}/display``,
  which no public doc has: it is served unless ``display_api=False`` (then 404, like any unknown path), and
  the create answer shows the value only with ``token_on_create=True`` (sources conflict on both);
- a create (and a full-replace PUT) takes ``name``, ``description``, exactly one of ``fullAccess: true`` or
  the scope lists ``_connectionIds/_exportIds/_importIds/_apiIds/_mcpServerIds``, and ``autoPurgeAt`` (an ISO
  time at most 30 days ahead; omitted = never); ``autoPurge`` and ``_integrationIds`` do not exist: 422;
- ``add_token(scope=[integration ids])`` is a test knob for a narrow token: it may only read tokenInfo
  (``scope`` = those ids) and those integrations (403 otherwise); its record shows ``fullAccess: false``;
- the cursor of a ``Link`` URL is ``after=<_id>`` (``before=<_id>`` for ``rel="prev"``).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import math
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import celigo_seed as seed

log = logging.getLogger("celigo_testkit.fake_celigo")

REGIONS: tuple[str, ...] = ("us", "eu")
JSON_CT = "application/json; charset=utf-8"
MASK = "********"
SCOPE_FIELDS = ("_connectionIds", "_exportIds", "_importIds", "_apiIds", "_mcpServerIds")
MAX_AUTO_PURGE_SECONDS = 30 * 86400
SOFT_DELETE_SECONDS = 30 * 86400
MUTABLE_SHARE_FIELDS = ("accessLevel", "integrationAccessLevel", "accountSSORequired", "accountMFARequired")


# --------------------------------------------------------------------------------------------------- state
class TokenBucket:
    """Celigo's per-account limit: ``capacity`` requests, refilled continuously at ``rate`` per second."""

    def __init__(self, capacity: int, rate: float) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self) -> float | None:
        """Spend one request; None if allowed, else seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else 3600.0


class Account:
    """One Celigo account (one environment) in one region: users, integrations and API tokens.

    Data is kept as the JSON dicts the API returns, so tests can read and tweak it directly. Mutate
    through the fake's methods (or call :meth:`touch_users`) so cached serialisations stay fresh.
    """

    def __init__(self, number: int, region: str, rng: random.Random) -> None:
        self.number = number
        self.region = region
        self.rng = rng
        self.owner: dict = seed.make_owner(number)
        self.users: dict[str, dict] = {}
        self.integrations: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.bucket: TokenBucket | None = None
        self._serial: dict[int, int] = {}
        self._sorted_ids: list[str] | None = None
        self._rendered: dict[str, bytes] = {}

    @property
    def id(self) -> str:
        return self.owner["_id"]

    def next_id(self, kind: int) -> str:
        serial = self._serial.get(kind, 0)
        self._serial[kind] = serial + 1
        return seed.object_id(self.number, kind, serial)

    def reserve_serials(self, kind: int, count: int) -> int:
        start = self._serial.get(kind, 0)
        self._serial[kind] = start + count
        return start

    def touch_users(self, share_id: str | None = None) -> None:
        """Invalidate cached JSON (one share, or all and the id order)."""
        if share_id is None:
            self._rendered.clear()
            self._sorted_ids = None
        else:
            self._rendered.pop(share_id, None)

    def user_ids(self) -> list[str]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.users)
        return self._sorted_ids

    def rendered_user(self, share_id: str) -> bytes:
        blob = self._rendered.get(share_id)
        if blob is None:
            blob = json.dumps(self.users[share_id], separators=(",", ":")).encode()
            self._rendered[share_id] = blob
        return blob

    # handy views for tests
    def ashares(self) -> list[dict]:
        return [self.users[i] for i in self.user_ids()]

    def integration_only_users(self) -> list[dict]:
        return [u for u in self.ashares() if u.get("accessLevel") is None]

    def users_with_level(self, level: str) -> list[dict]:
        return [u for u in self.ashares() if u.get("accessLevel") == level]

    def integration_users(self, integration_id: str) -> list[dict]:
        """What GET /v1/integrations/{id}/ashares answers (see the module docstring)."""
        out: list[dict] = []
        for share in self.ashares():
            if share.get("accessLevel") is not None:
                out.append(share)
                continue
            for entry in share.get("integrationAccessLevel") or []:
                if entry.get("_integrationId") == integration_id:
                    out.append({**share, "accessLevel": entry.get("accessLevel")})
                    break
        return out


@dataclass
class Fault:
    """A failure to inject. Matches requests by path prefix, method and region; applies ``times`` times
    (None: until cleared). ``status``/``body`` replace the answer; ``delay`` alone makes a slow but
    otherwise normal answer; ``timeout`` holds the request for ``hold`` seconds (or until the fake stops),
    longer than any sane client timeout. ``retry_after`` may be fractional (a test convenience)."""

    path_prefix: str | None = None
    status: int | None = None
    times: int | None = 1
    #: Also require the path to end with this (e.g. "/display" for any token id).
    path_suffix: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    body: str | bytes | dict | list | None = None
    content_type: str | None = None
    timeout: bool = False
    hold: float = 60.0
    method: str | None = None
    region: str | None = None
    headers: dict[str, str] | None = None
    hits: int = 0
    #: Hold a matching request until this event is set (or the fake stops), then answer as configured:
    #: with ``arrived`` a test can act (e.g. kill a process) exactly while that request is in flight.
    gate: threading.Event | None = None
    arrived: threading.Event = field(default_factory=threading.Event, repr=False)
    #: Only requests whose bearer token value satisfies this predicate (e.g. "not the old token").
    match_token: Callable[[str], bool] | None = field(default=None, repr=False)

    def matches(self, region: str, method: str, path: str, token: str = "") -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.match_token is not None and not self.match_token(token):
            return False
        if self.region is not None and self.region != region:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path_suffix is not None and not path.endswith(self.path_suffix):
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass
class RecordedRequest:
    """One request as the fake saw it. ``headers`` never carry the token value; ``at`` is
    ``time.monotonic()`` on arrival (compare entries to measure waits); ``peer`` is the client's socket
    address, so distinct peers = distinct TCP connections."""

    region: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    peer: tuple[str, int] | None
    status: int | None = None
    token_valid: bool | None = None
    #: The JSON body sent (None: none), a ``token`` value in it replaced by "<redacted>".
    body: Any = None


@dataclass
class _TokenRef:
    account: Account
    record_id: str


class _Reply(Exception):
    """Short-circuits a handler with a ready response."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("reply")
        self.response = response


# ------------------------------------------------------------------------------------------------ helpers
def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(payload, separators=(",", ":")).encode(),
                        headers={"Content-Type": JSON_CT, **(headers or {})})


def envelope(status: int, code: str, message: str, field_name: str | None = None,
             headers: dict[str, str] | None = None) -> web.Response:
    """Celigo's error envelope: always a list of {code, message, field?}."""
    entry: dict[str, str] = {"code": code, "message": message}
    if field_name is not None:
        entry["field"] = field_name
    return _json(status, {"errors": [entry]}, headers)


def _no_content() -> web.Response:
    return web.Response(status=204)


def _format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _parse_time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _logged_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return "<not json>"
    if isinstance(body, dict) and "token" in body:
        body = {**body, "token": "<redacted>"}
    return body


def _iso_ts(ts: float) -> str:
    return seed.iso(datetime.fromtimestamp(ts, tz=UTC))


_ROUTES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), name) for p, name in (
    (r"^/v1/tokenInfo$", "token_info"),
    (r"^/v1/ashares$", "ashares"),
    (r"^/v1/ashares/(?P<id>[^/]+)$", "ashare"),
    (r"^/v1/ashares/(?P<id>[^/]+)/disable$", "ashare_disable"),
    (r"^/v1/invite$", "invite"),
    (r"^/v1/integrations$", "integrations"),
    (r"^/v1/integrations/(?P<id>[^/]+)$", "integration"),
    (r"^/v1/integrations/(?P<id>[^/]+)/ashares$", "integration_ashares"),
    (r"^/v1/accesstokens$", "accesstokens"),
    (r"^/v1/accesstokens/(?P<id>[^/]+)$", "accesstoken"),
    (r"^/v1/accesstokens/(?P<id>[^/]+)/display$", "accesstoken_display"),
)]


# ------------------------------------------------------------------------------------------------- server
class FakeCeligo:
    """Both regions of the Celigo API on loopback. Use as a context manager or start()/stop().

    ``ports`` pins listener ports (e.g. for a demo a connector pod reaches); by default both are ephemeral.
    """

    def __init__(self, *, host: str = "127.0.0.1", latency: float = 0.0, rate_limit: bool = True,
                 bucket_size: int = 1000, refill_per_second: float = 300.0, seed: int = 7,
                 users: int = 42, integrations: int = 7, accesstokens_api: bool = True,
                 display_api: bool = True, token_on_create: bool = False,
                 clock: Callable[[], float] = time.time, ports: dict[str, int] | None = None) -> None:
        self.host = host
        self._fixed_ports = dict(ports or {})
        self.latency = latency
        self.rate_limit = rate_limit
        self.bucket_size = bucket_size
        self.refill_per_second = refill_per_second
        self.accesstokens_api = accesstokens_api
        self.display_api = display_api
        self.token_on_create = token_on_create
        self.requests: list[RecordedRequest] = []
        self._clock = clock
        self._offset = 0.0
        self._seed = seed
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._tokens: dict[str, _TokenRef] = {}
        self._accounts: dict[str, Account] = {}
        self._extra_accounts: list[Account] = []
        self._account_numbers = 0
        self._ports: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runners: list[web.AppRunner] = []
        self._stopping: asyncio.Event | None = None
        for region in REGIONS:
            account = self.create_account(region, users=users, integrations=integrations)
            self._accounts[region] = account
            self.add_token(region, account=account, name="Default API token")

    def __repr__(self) -> str:
        return f"FakeCeligo(ports={self._ports!r})"

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> FakeCeligo:
        """Bind both listeners (ephemeral ports) and serve from a daemon thread."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        sockets = {}
        for region in REGIONS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._fixed_ports.get(region, 0)))
            sock.listen(512)
            sock.setblocking(False)
            sockets[region] = sock
            self._ports[region] = sock.getsockname()[1]

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(sockets))
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-celigo", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise RuntimeError("fake Celigo failed to start") from failure[0]
        return self

    async def _serve(self, sockets: dict[str, socket.socket]) -> None:
        self._stopping = asyncio.Event()
        for region, sock in sockets.items():
            app = web.Application(client_max_size=16 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._make_handler(region))
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            self._runners.append(runner)

    def stop(self) -> None:
        """Release held requests, close listeners and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def teardown() -> None:
            if self._stopping is not None:
                self._stopping.set()
            for runner in self._runners:
                await runner.cleanup()
            self._runners.clear()

        asyncio.run_coroutine_threadsafe(teardown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeCeligo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------------- urls
    def url_for(self, region: str) -> str:
        if region not in self._ports:
            raise KeyError(f"unknown region {region!r} (started?)")
        return f"http://{self.host}:{self._ports[region]}"

    @property
    def base_urls(self) -> dict[str, str]:
        return {region: self.url_for(region) for region in REGIONS}

    # ------------------------------------------------------------------------------------- accounts/data
    def now(self) -> float:
        """The fake's wall clock (real time plus :meth:`advance_time` offsets)."""
        return self._clock() + self._offset

    def advance_time(self, seconds: float) -> None:
        """Move the fake's clock forward (autoPurgeAt expiry without waiting)."""
        with self._lock:
            self._offset += seconds

    def account(self, region: str = "us") -> Account:
        return self._accounts[region]

    def create_account(self, region: str, *, users: int = 0, integrations: int = 0) -> Account:
        """A further account in ``region`` (tokens of one account never see another's data)."""
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}")
        with self._lock:
            self._account_numbers += 1
            number = self._account_numbers
            account = Account(number, region, random.Random(self._seed * 1000 + number))
            account.bucket = TokenBucket(self.bucket_size, self.refill_per_second)
            self._fill(account, users, integrations)
            if region in self._accounts:
                self._extra_accounts.append(account)
            return account

    def _fill(self, account: Account, users: int, integrations: int | None) -> None:
        if integrations is not None:
            account.integrations = {}
            start = account.reserve_serials(seed.KIND_INTEGRATION, integrations)
            for item in seed.make_integrations(account.number, integrations, account.rng, start):
                account.integrations[item["_id"]] = item
        ids = list(account.integrations)
        account.users = {}
        start = account.reserve_serials(seed.KIND_SHARE, users)
        for share in seed.make_users(account.number, users, ids, account.rng, start):
            account.users[share["_id"]] = share
        account.touch_users()

    def set_users(self, region: str, n: int) -> Account:
        """Replace the region's seeded users with ``n`` fresh ones (integrations kept)."""
        with self._lock:
            account = self._accounts[region]
            self._fill(account, n, None)
            return account

    def seed_large_account(self, region: str = "us", users: int = 50_000, integrations: int = 20) -> Account:
        """Benchmark-sized data in the region's default account (same default token)."""
        with self._lock:
            account = self._accounts[region]
            self._fill(account, users, integrations)
            for share_id in account.user_ids():  # pre-serialise so the first page is as fast as the rest
                account.rendered_user(share_id)
            return account

    # ------------------------------------------------------------------------------------------- tokens
    def add_token(self, region: str = "us", *, token: str | None = None, scope: str | list[str] = "*",
                  auto_purge_at: datetime | float | str | None = None, account: Account | None = None,
                  name: str | None = None) -> str:
        """Create an API token (an accesstokens record) in ``account`` (default: the region's) and
        return its value. ``scope`` is ``"*"`` (full access) or a list of integration ids."""
        with self._lock:
            account = account or self._accounts[region]
            if account.region != region:
                raise ValueError("the account belongs to another region")
            value = token or secrets.token_hex(16)
            if value in self._tokens:
                raise ValueError("token value already exists")
            record_id = account.next_id(seed.KIND_TOKEN)
            created = _iso_ts(self.now())
            purge = _parse_time(auto_purge_at)
            account.access_tokens[record_id] = {
                "_id": record_id,
                "name": name or f"API token {record_id[-4:]}",
                "description": "",
                "token": value,
                "fullAccess": scope == "*",
                **{key: [] for key in SCOPE_FIELDS},
                "revoked": False,
                "autoPurgeAt": _iso_ts(purge) if purge is not None else None,
                "createdAt": created,
                "lastModified": created,
                "_userId": account.owner["_id"],
                "__deletedAt": None,
                "__integrations": [] if scope == "*" else list(scope),
            }
            self._tokens[value] = _TokenRef(account, record_id)
            return value

    def default_token(self, region: str = "us") -> str:
        """The first live full-access token of the region's seeded account."""
        with self._lock:
            account = self._accounts[region]
            for record in account.access_tokens.values():
                if record["fullAccess"] and self._record_live(record):
                    return record["token"]
        return self.add_token(region, name="Default API token")

    def _record(self, token: str) -> tuple[Account, dict]:
        ref = self._tokens[token]
        return ref.account, ref.account.access_tokens[ref.record_id]

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._record(token)[1]["revoked"] = True

    def expire_token(self, token: str) -> None:
        """Make autoPurgeAt pass: the token fails auth and vanishes from the list."""
        with self._lock:
            self._record(token)[1]["autoPurgeAt"] = _iso_ts(self.now() - 1)

    def token_record(self, token: str) -> dict:
        """The accesstokens record behind a token value (unmasked; for assertions)."""
        with self._lock:
            return self._record(token)[1]

    def _record_live(self, record: dict) -> bool:
        if record["revoked"] or record["__deletedAt"] is not None:
            return False
        purge = _parse_time(record["autoPurgeAt"])
        return purge is None or purge > self.now()

    def _purged(self, record: dict) -> bool:
        purge = _parse_time(record["autoPurgeAt"])
        if purge is not None and purge <= self.now():
            return True
        deleted = record["__deletedAt"]
        return deleted is not None and deleted + SOFT_DELETE_SECONDS <= self.now()

    # ------------------------------------------------------------------------------------ faults/counts
    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_rate_limit(self, bucket_size: int, refill_per_second: float) -> None:
        """Reset every account's bucket to new parameters (full)."""
        with self._lock:
            self.bucket_size, self.refill_per_second = bucket_size, refill_per_second
            for account in [*self._accounts.values(), *self._extra_accounts]:
                account.bucket = TokenBucket(bucket_size, refill_per_second)

    def count(self, path: str | None = None, method: str | None = None, region: str | None = None,
              status: int | None = None, prefix: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests
                       if (path is None or r.path == path) and (method is None or r.method == method)
                       and (region is None or r.region == region) and (status is None or r.status == status)
                       and (prefix is None or r.path.startswith(prefix)))

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------------------------------ serving
    def _make_handler(self, region: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle(region, request)
        return handler

    async def _handle(self, region: str, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "authorization" in headers:
            scheme = headers["authorization"].split(" ", 1)[0]
            headers["authorization"] = f"{scheme} <redacted>"
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record = RecordedRequest(region=region, method=request.method, path=request.path,
                                 query=dict(request.query), headers=headers, at=time.monotonic(),
                                 peer=tuple(peer[:2]) if peer else None)
        with self._lock:
            self.requests.append(record)
        try:
            response = await self._answer(region, request, record)
        except _Reply as reply:
            response = reply.response
        except Exception:  # a bug in the fake: answer like Celigo would, and say so loudly
            log.exception("fake Celigo failed on %s %s", request.method, request.path)
            response = envelope(500, "internal_error", "The fake Celigo server failed.")
        record.status = response.status
        return response

    async def _answer(self, region: str, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        # Read the body first: a request held by a fault must still take effect after its caller went
        # away (its answer lost, as when the operator is killed mid-call).
        body = await request.read()
        record.body = _logged_body(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        bearer = request.headers.get("Authorization", "").partition(" ")[2].strip()
        with self._lock:
            fault = next((f for f in self._faults if f.matches(region, request.method, request.path, bearer)),
                         None)
            if fault is not None:
                fault.hits += 1
        if fault is not None:
            injected = await self._apply_fault(fault)
            if injected is not None:
                return injected
        with self._lock:
            account, token_record = self._authenticate(region, request, record)
            if self.rate_limit and account.bucket is not None:
                wait = account.bucket.take()
                if wait is not None:
                    seconds = max(1, math.ceil(wait))
                    return envelope(429, "rate_limited", f"Too many requests. Retry after {seconds} seconds.",
                                    headers={"Retry-After": str(seconds)})
        with self._lock:
            return self._route(region, request, body, account, token_record)

    async def _apply_fault(self, fault: Fault) -> web.StreamResponse | None:
        fault.arrived.set()
        if fault.gate is not None:
            assert self._stopping is not None
            # A threading.Event cannot be awaited; poll it, and give up when the server stops.
            while not fault.gate.is_set() and not self._stopping.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        hold = fault.hold if fault.timeout else fault.delay
        if hold > 0:
            # Wait on the stop event, not a bare sleep, so stop() never waits for a held request.
            assert self._stopping is not None
            try:
                await asyncio.wait_for(self._stopping.wait(), hold)
            except TimeoutError:
                pass
        if fault.status is None and fault.body is None and fault.content_type is None:
            return None  # slow but otherwise normal
        status = fault.status or 200
        extra = dict(fault.headers or {})
        if fault.retry_after is not None:
            extra["Retry-After"] = _format_retry_after(fault.retry_after)
        if fault.body is None:
            if status == 401:
                return _json(401, {"message": "Bearer Authentication Failed"}, extra)
            if status == 429:
                wait = fault.retry_after if fault.retry_after is not None else 1
                extra.setdefault("Retry-After", _format_retry_after(wait))
                return envelope(429, "rate_limited",
                                f"Too many requests. Retry after {_format_retry_after(wait)} seconds.",
                                headers=extra)
            if status == 204:
                return web.Response(status=204, headers=extra)
            return envelope(status, "internal_error" if status >= 500 else "injected_fault",
                            f"Injected failure ({status}).", headers=extra)
        if isinstance(fault.body, dict | list):
            raw = json.dumps(fault.body).encode()
        elif isinstance(fault.body, str):
            raw = fault.body.encode()
        else:
            raw = fault.body
        return web.Response(status=status, body=raw,
                            headers={"Content-Type": fault.content_type or JSON_CT, **extra})

    def _authenticate(self, region: str, request: web.Request,
                      record: RecordedRequest) -> tuple[Account, dict]:
        raw = request.headers.get("Authorization", "")
        scheme, _, value = raw.partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value:
            record.token_valid = False
            raise _Reply(_json(401, {"message": "Unauthorized"}))
        ref = self._tokens.get(value)
        if ref is not None:
            record_ = ref.account.access_tokens[ref.record_id]
            if ref.account.region == region and self._record_live(record_):
                record.token_valid = True
                return ref.account, record_
        record.token_valid = False
        raise _Reply(_json(401, {"message": "Bearer Authentication Failed"}))

    # ------------------------------------------------------------------------------------------ routing
    def _route(self, region: str, request: web.Request, body: bytes, account: Account,
               token: dict) -> web.StreamResponse:
        for pattern, name in _ROUTES:
            match = pattern.match(request.path)
            if match is None:
                continue
            method = getattr(self, f"_h_{name}_{request.method.lower()}", None)
            if method is None:
                return envelope(405, "method_not_allowed", f"{request.method} is not allowed on this path.")
            payload: Any = None
            if request.method in ("PUT", "POST") and body.strip():
                try:
                    payload = json.loads(body)
                except ValueError:
                    return envelope(400, "invalid_json", "The request body is not valid JSON.")
            return method(region=region, request=request, payload=payload, account=account, token=token,
                          **match.groupdict())
        return envelope(404, "not_found", "Not found.")

    # scope checks
    @staticmethod
    def _require_full(token: dict) -> None:
        if not token["fullAccess"]:
            raise _Reply(envelope(403, "forbidden", "This token's scope does not allow this request."))

    @staticmethod
    def _require_integration(token: dict, integration_id: str) -> None:
        if not token["fullAccess"] and integration_id not in token["__integrations"]:
            raise _Reply(envelope(403, "forbidden", "This token's scope does not allow this integration."))

    def _require_tokens_api(self, token: dict) -> None:
        self._require_full(token)
        if not self.accesstokens_api:
            raise _Reply(envelope(403, "forbidden", "API tokens may not manage API tokens."))

    # listing
    def _list(self, region: str, request: web.Request, ids: list[str], render: Callable[[str], bytes],
              as_dict: Callable[[str], dict]) -> web.Response:
        """Answer a list endpoint: projections, optional limit, cursor and absolute Link URLs."""
        query = request.query
        include, exclude = query.get("include"), query.get("exclude")
        if include is not None and exclude is not None:
            return envelope(400, "invalid_query_params", "include and exclude cannot be used together.")
        limit: int | None = None
        if "limit" in query:
            try:
                limit = int(query["limit"])
            except ValueError:
                limit = 0
            if limit < 1:
                return envelope(400, "invalid_query_params", "limit must be a positive integer.", "limit")
        start, stop = 0, len(ids)
        if "after" in query:
            start = bisect.bisect_right(ids, query["after"])
        if "before" in query:
            stop = bisect.bisect_left(ids, query["before"])
            if limit is not None:
                start = max(start, stop - limit)
        if limit is not None:
            stop = min(stop, start + limit)
        page = ids[start:stop]
        if include is not None or exclude is not None:
            fields = {f for f in (include or exclude or "").split(",") if f}

            def project(item_id: str) -> bytes:
                item = as_dict(item_id)
                if include is not None:
                    item = {k: v for k, v in item.items() if k in fields or k == "_id"}
                else:
                    item = {k: v for k, v in item.items() if k not in fields}
                return json.dumps(item, separators=(",", ":")).encode()
            render = project
        blob = b"[" + b",".join(render(i) for i in page) + b"]"
        headers = {"Content-Type": JSON_CT}
        if limit is not None:
            links = []
            keep = {k: v for k, v in query.items() if k in ("include", "exclude")}
            base = f"{self.url_for(region)}{request.path}?"
            if start > 0 and page:
                links.append(f'<{base}{urlencode({**keep, "limit": limit, "before": page[0]})}>; rel="prev"')
            if stop < len(ids) and page:
                links.append(f'<{base}{urlencode({**keep, "limit": limit, "after": page[-1]})}>; rel="next"')
            if links:
                headers["Link"] = ", ".join(links)
        return web.Response(status=200, body=blob, headers=headers)

    @staticmethod
    def _dumps(item: dict) -> bytes:
        return json.dumps(item, separators=(",", ":")).encode()

    # tokenInfo
    def _h_token_info_get(self, *, account: Account, token: dict, **_: Any) -> web.Response:
        scope: str | list[str] = "*" if token["fullAccess"] else list(token["__integrations"])
        return _json(200, {"_userId": token["_userId"], "scope": scope})

    # ashares
    def _share(self, account: Account, share_id: str) -> dict:
        share = account.users.get(share_id)
        if share is None:
            raise _Reply(envelope(404, "not_found", "Object not found."))
        return share

    def _h_ashares_get(self, *, region: str, request: web.Request, account: Account, token: dict,
                       **_: Any) -> web.Response:
        self._require_full(token)
        return self._list(region, request, account.user_ids(), account.rendered_user,
                          lambda i: account.users[i])

    def _h_ashare_get(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._require_full(token)
        return _json(200, self._share(account, id))

    def _validate_share_body(self, account: Account, payload: Any) -> dict:
        if not isinstance(payload, dict):
            raise _Reply(envelope(422, "invalid_field", "The body must be a JSON object."))
        level = payload.get("accessLevel")
        if level is not None and level not in seed.ACCESS_LEVELS:
            raise _Reply(envelope(422, "invalid_field",
                                  "accessLevel must be monitor, manage or administrator.", "accessLevel"))
        entries = payload.get("integrationAccessLevel") or []
        if not isinstance(entries, list):
            raise _Reply(envelope(422, "invalid_field", "integrationAccessLevel must be a list.",
                                  "integrationAccessLevel"))
        for n, entry in enumerate(entries):
            if (not isinstance(entry, dict) or entry.get("_integrationId") not in account.integrations
                    or entry.get("accessLevel") not in seed.INTEGRATION_ACCESS_LEVELS):
                raise _Reply(envelope(422, "invalid_field", "Invalid integration access entry.",
                                      f"integrationAccessLevel[{n}]"))
        if level is None and not entries:
            raise _Reply(envelope(422, "invalid_field", "accessLevel or integrationAccessLevel is required.",
                                  "accessLevel"))
        return payload

    def _h_ashare_put(self, *, account: Account, token: dict, id: str, payload: Any,
                      **_: Any) -> web.Response:
        self._require_full(token)
        share = self._share(account, id)
        body = self._validate_share_body(account, payload)
        # Full replace: every mutable field takes the body's value or its empty default.
        share.pop("accessLevel", None)
        if body.get("accessLevel") is not None:
            share["accessLevel"] = body["accessLevel"]
        share["integrationAccessLevel"] = [
            {"_integrationId": e["_integrationId"], "accessLevel": e["accessLevel"]}
            for e in body.get("integrationAccessLevel") or []]
        share["accountSSORequired"] = bool(body.get("accountSSORequired", False))
        share["accountMFARequired"] = bool(body.get("accountMFARequired", False))
        share["lastModified"] = _iso_ts(self.now())
        account.touch_users(id)
        return _no_content()

    def _h_ashare_delete(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._require_full(token)
        self._share(account, id)
        del account.users[id]
        account.touch_users()
        return _no_content()

    def _h_ashare_disable_put(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._require_full(token)
        share = self._share(account, id)
        share["disabled"] = not share.get("disabled", False)
        share["lastModified"] = _iso_ts(self.now())
        account.touch_users(id)
        return _no_content()

    def _h_invite_post(self, *, account: Account, token: dict, payload: Any, **_: Any) -> web.Response:
        self._require_full(token)
        body = self._validate_share_body(account, payload)
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            return envelope(422, "invalid_field", "A valid email is required.", "email")
        if any(u["sharedWithUser"]["email"].lower() == email.lower() for u in account.users.values()):
            return envelope(409, "conflict", "This user has already been invited.", "email")
        now = _iso_ts(self.now())
        share: dict = {
            "_id": account.next_id(seed.KIND_SHARE),
            "accepted": False,
            "disabled": False,
            "accountSSORequired": bool(body.get("accountSSORequired", False)),
            "accountMFARequired": bool(body.get("accountMFARequired", False)),
            "createdAt": now,
            "lastModified": now,
            "sharedWithUser": {"_id": account.next_id(seed.KIND_USER), "email": email,
                               "name": body.get("name") or email.split("@")[0],
                               "allowedToResetMFA": False, "accountSSOLinked": "not_linked"},
            "integrationAccessLevel": [
                {"_integrationId": e["_integrationId"], "accessLevel": e["accessLevel"]}
                for e in body.get("integrationAccessLevel") or []],
        }
        if body.get("accessLevel") is not None:
            share["accessLevel"] = body["accessLevel"]
        account.users[share["_id"]] = share
        account.touch_users()
        return _json(201, share)

    # integrations
    def _integration(self, account: Account, token: dict, integration_id: str) -> dict:
        item = account.integrations.get(integration_id)
        if item is None:
            raise _Reply(envelope(404, "not_found", "Object not found."))
        self._require_integration(token, integration_id)
        return item

    def _h_integrations_get(self, *, region: str, request: web.Request, account: Account, token: dict,
                            **_: Any) -> web.Response:
        ids = sorted(i for i in account.integrations
                     if token["fullAccess"] or i in token["__integrations"])
        return self._list(region, request, ids, lambda i: self._dumps(account.integrations[i]),
                          lambda i: account.integrations[i])

    def _h_integrations_post(self, *, account: Account, token: dict, payload: Any, **_: Any) -> web.Response:
        self._require_full(token)
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str) or not payload["name"]:
            return envelope(422, "invalid_field", "name is required.", "name")
        now = _iso_ts(self.now())
        item = {"_id": account.next_id(seed.KIND_INTEGRATION), "name": payload["name"],
                "description": payload.get("description", ""), "readme": payload.get("readme", ""),
                "createdAt": now, "lastModified": now}
        account.integrations[item["_id"]] = item
        return _json(201, item)

    def _h_integration_get(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        return _json(200, self._integration(account, token, id))

    def _h_integration_put(self, *, account: Account, token: dict, id: str, payload: Any,
                           **_: Any) -> web.Response:
        item = self._integration(account, token, id)
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str) or not payload["name"]:
            return envelope(422, "invalid_field", "name is required.", "name")
        item.update(name=payload["name"], description=payload.get("description", ""),
                    readme=payload.get("readme", ""), lastModified=_iso_ts(self.now()))
        return _json(200, item)

    def _h_integration_delete(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._integration(account, token, id)
        del account.integrations[id]
        for share_id, share in account.users.items():
            entries = share.get("integrationAccessLevel") or []
            kept = [e for e in entries if e.get("_integrationId") != id]
            if len(kept) != len(entries):
                share["integrationAccessLevel"] = kept
                account.touch_users(share_id)
        return _no_content()

    def _h_integration_ashares_get(self, *, region: str, request: web.Request, account: Account,
                                   token: dict, id: str, **_: Any) -> web.Response:
        self._integration(account, token, id)
        rows = {u["_id"]: u for u in account.integration_users(id)}
        return self._list(region, request, sorted(rows), lambda i: self._dumps(rows[i]), lambda i: rows[i])

    # accesstokens
    @staticmethod
    def _public_token(record: dict, reveal: bool = False) -> dict:
        out = {k: v for k, v in record.items() if not k.startswith("__")}
        if not reveal:
            out["token"] = MASK
        return out

    def _token_record(self, account: Account, record_id: str) -> dict:
        record = account.access_tokens.get(record_id)
        if record is None or record["__deletedAt"] is not None or self._purged(record):
            raise _Reply(envelope(404, "not_found", "Object not found."))
        return record

    def _token_fields(self, payload: Any, existing: dict | None) -> dict:
        """The writable fields of a create or full-replace PUT body, validated as Celigo documents them."""
        if not isinstance(payload, dict):
            raise _Reply(envelope(422, "invalid_field", "The body must be a JSON object."))
        for invented in ("autoPurge", "_integrationIds"):
            if invented in payload:
                raise _Reply(envelope(422, "invalid_field", f"{invented} is not a field of an API token.",
                                      invented))
        name = payload.get("name")
        if not isinstance(name, str) or not name:
            raise _Reply(envelope(422, "invalid_field", "name is required.", "name"))
        lists: dict[str, list[str]] = {}
        for key in SCOPE_FIELDS:
            ids = payload.get(key) or []
            if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                raise _Reply(envelope(422, "invalid_field", f"{key} must be a list of ids.", key))
            lists[key] = list(ids)
        full = payload.get("fullAccess") is True
        if full == any(lists.values()):
            raise _Reply(envelope(422, "invalid_field",
                                  "Give exactly one of fullAccess: true or a scope list.", "fullAccess"))
        purge_at: str | None = None
        if payload.get("autoPurgeAt") is not None:
            try:
                ts = _parse_time(payload["autoPurgeAt"])
            except (TypeError, ValueError):
                ts = None
            if ts is None or not self.now() < ts <= self.now() + MAX_AUTO_PURGE_SECONDS:
                raise _Reply(envelope(422, "invalid_field",
                                      "autoPurgeAt must be a date in the next 30 days.", "autoPurgeAt"))
            purge_at = _iso_ts(ts)
        # ``revoked`` omitted keeps the current state: a rename must never un-revoke a token.
        revoked = payload.get("revoked", existing["revoked"] if existing else False)
        if not isinstance(revoked, bool):
            raise _Reply(envelope(422, "invalid_field", "revoked must be a boolean.", "revoked"))
        return {"name": name, "description": payload.get("description") or "", "fullAccess": full, **lists,
                "revoked": revoked, "autoPurgeAt": purge_at}

    def _h_accesstokens_get(self, *, region: str, request: web.Request, account: Account, token: dict,
                            **_: Any) -> web.Response:
        self._require_tokens_api(token)
        live = {i: r for i, r in account.access_tokens.items()
                if r["__deletedAt"] is None and not self._purged(r)}
        return self._list(region, request, sorted(live), lambda i: self._dumps(self._public_token(live[i])),
                          lambda i: self._public_token(live[i]))

    def _h_accesstokens_post(self, *, account: Account, token: dict, payload: Any, **_: Any) -> web.Response:
        self._require_tokens_api(token)
        fields = self._token_fields(payload, None)
        value = secrets.token_hex(16)
        record_id = account.next_id(seed.KIND_TOKEN)
        now = _iso_ts(self.now())
        record = {"_id": record_id, **fields, "token": value, "createdAt": now, "lastModified": now,
                  "_userId": token["_userId"], "__deletedAt": None, "__integrations": []}
        account.access_tokens[record_id] = record
        self._tokens[value] = _TokenRef(account, record_id)
        return _json(201, self._public_token(record, reveal=self.token_on_create))

    def _h_accesstoken_get(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._require_tokens_api(token)
        return _json(200, self._public_token(self._token_record(account, id)))

    def _h_accesstoken_put(self, *, account: Account, token: dict, id: str, payload: Any,
                           **_: Any) -> web.Response:
        self._require_tokens_api(token)
        record = self._token_record(account, id)
        record.update(self._token_fields(payload, record), lastModified=_iso_ts(self.now()))
        return _json(200, self._public_token(record))

    def _h_accesstoken_delete(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        self._require_tokens_api(token)
        record = self._token_record(account, id)
        if not record["revoked"]:
            return envelope(409, "conflict", "Revoke the token before deleting it.")
        record["__deletedAt"] = self.now()
        return _no_content()

    def _h_accesstoken_display_get(self, *, account: Account, token: dict, id: str, **_: Any) -> web.Response:
        if not self.display_api:
            return envelope(404, "not_found", "Not found.")
        self._require_tokens_api(token)
        record = self._token_record(account, id)
        return _json(200, {"_id": record["_id"], "token": record["token"]})


__all__ = ["MASK", "REGIONS", "Account", "FakeCeligo", "Fault", "RecordedRequest", "TokenBucket", "envelope"]
