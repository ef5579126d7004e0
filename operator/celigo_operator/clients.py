"""One client factory per outside system, shared by the health checks and rotation.

`Clients.celigo(token, region)` and `Clients.conductorone(client_id, client_secret)` build the API clients
on one connection pool per system (each counting its responses for /metrics). Celigo clients share one rate
limiter per Celigo account (Celigo's limit is per account): per token until tokenInfo names the token's user.

Retries are the clients' own rules, the same for every caller: an idempotent read (or a revoke, which is
safe to repeat) is retried with bounded exponential backoff and honours Retry-After; a call that creates
something (ConductorOne's rotate, Celigo's accesstokens create) is never retried on an unclear answer, only
on a 429 (refused before it did anything). Callers choose how many in-call retries a read gets (`retries`):
a health check the client default, a rotation step `CELIGO_OPERATOR_ROTATION_API_RETRIES` (a step that
fails backs off in the journal instead).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import httpx

from celigo_operator import metrics
from celigo_operator.celigo import CeligoClient, RateLimiter
from celigo_operator.conductorone import ConductorOneClient
from celigo_operator.config import OperatorConfig

#: In-call retries of a health check's Celigo reads (the client's default).
CHECK_RETRIES = 3


class Clients:
    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        self.celigo_http = httpx.AsyncClient(
            timeout=config.celigo_timeout,
            limits=limits,
            event_hooks={"response": [metrics.httpx_response_hook("celigo")]},
        )
        self.conductorone_http = httpx.AsyncClient(
            timeout=config.celigo_timeout,
            limits=limits,
            event_hooks={"response": [metrics.httpx_response_hook("conductorone")]},
        )
        self.limiters: dict[str, RateLimiter] = {}
        self.limiter_of: dict[str, str] = {}  # connector uid -> the limiter key it checks with
        # token key -> account key, once tokenInfo named the token's user: then `limiters` is keyed by account.
        self._account_of: dict[str, str] = {}
        self._c1_cache: OrderedDict[str, ConductorOneClient] = OrderedDict()

    async def aclose(self) -> None:
        await self.celigo_http.aclose()
        await self.conductorone_http.aclose()

    # ---------------------------------------------------------------------------------------- Celigo

    def celigo(self, token: str, region: str, *, rotation_retries: int | None = None) -> CeligoClient:
        """A Celigo client on the token's account limiter. `rotation_retries`: a rotation step's client (few,
        short in-call retries: the step backs off in its journal instead); else a health check's."""
        rotating = rotation_retries is not None
        return CeligoClient(
            token,
            region=region,
            base_url=self.config.celigo_base_url(region),
            timeout=self.config.celigo_timeout,
            max_retries=rotation_retries if rotation_retries is not None else CHECK_RETRIES,
            backoff_base=0.2 if rotating else 0.5,
            max_backoff=5.0 if rotating else 30.0,
            http=self.celigo_http,
            rate_limiter=self.celigo_limiter(token),
        )

    @staticmethod
    def limiter_key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def celigo_limiter(self, token: str) -> RateLimiter:
        """The limiter of the token's Celigo account (of the token itself until tokenInfo named its user)."""
        key = self.limiter_key(token)
        return self.limiters.setdefault(self._account_of.get(key, key), RateLimiter())

    def used_by(self, uid: str, token: str) -> None:
        """Connector `uid` checks with `token`: its limiter is dropped when the last such connector goes."""
        self.limiter_of[uid] = self.limiter_key(token)

    def learn_account(self, token: str, region: str, user_id: str) -> None:
        """tokenInfo named the token's user: from now on it shares its account's limiter (and what the
        token's own limiter had spent moves along when the account has none yet)."""
        key = self.limiter_key(token)
        account = "account:" + hashlib.sha256(f"{region}\0{user_id}".encode()).hexdigest()
        if self._account_of.get(key) == account:
            return
        self._account_of[key] = account
        own = self.limiters.pop(key, None)
        if own is not None:
            self.limiters.setdefault(account, own)

    def forget(self, uid: str) -> None:
        """A deleted connector: its limiter goes once no other connector uses it."""
        key = self.limiter_of.pop(uid, None)
        remaining = set(self.limiter_of.values())
        if key is None or key in remaining:
            return
        resolved = self._account_of.pop(key, key)
        if resolved not in {self._account_of.get(k, k) for k in remaining}:
            self.limiters.pop(resolved, None)

    # ---------------------------------------------------------------------------------- ConductorOne

    def conductorone(
        self, client_id: str, client_secret: str, *, rotation_retries: int | None = None
    ) -> ConductorOneClient:
        """A ConductorOne client for one credential. A health check's client is kept (one per credential,
        bounded), so its access token is reused across checks; a rotation step's (`rotation_retries`) is new
        each time, so a credential being verified really asks for a token, with short in-call retries."""
        if rotation_retries is not None:
            return ConductorOneClient(
                client_id,
                client_secret,
                base_url=self.config.conductorone_base_url,
                timeout=self.config.celigo_timeout,
                max_retries=rotation_retries,
                backoff_base=0.2,
                max_retry_wait=5.0,
                http=self.conductorone_http,
            )
        key = hashlib.sha256(f"{client_id}\0{client_secret}".encode()).hexdigest()
        client = self._c1_cache.pop(key, None)
        if client is None:
            client = ConductorOneClient(
                client_id,
                client_secret,
                base_url=self.config.conductorone_base_url,
                timeout=self.config.celigo_timeout,
                max_retries=1,
                http=self.conductorone_http,
            )
        self._c1_cache[key] = client
        while len(self._c1_cache) > 256:
            self._c1_cache.popitem(last=False)
        return client
