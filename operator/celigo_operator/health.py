"""Measure Celigo (and ConductorOne) for one connector and turn what was seen into conditions.

The Celigo check is `GET /v1/tokenInfo` in the resource's region (a 401 there is retried once in the other
region, to tell a rejected token from a wrong region), then the users and integrations lists for the
inventory: at most 3 calls plus pagination. The mapping from outcomes to conditions is pure.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celigo_operator import api, celigo, metrics
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec, parse_duration
from celigo_operator.clients import Clients
from celigo_operator.conditions import Cond, utcnow
from celigo_operator.conductorone import errors
from celigo_operator.conductorone.models import SyncStatus
from celigo_operator.config import OperatorConfig
from celigo_operator.outcome import dump
from celigo_operator.sources import CONNECTOR_ROLES, CredentialProblem, read_keys

OTHER_REGION = {"us": "eu", "eu": "us"}


@dataclass
class CeligoHealth:
    """One Celigo check: the two conditions it decides, the inventory when it got that far."""

    credentials: Cond | None  # None: the check says nothing about the token (e.g. an outage)
    reachable: Cond
    inventory: dict[str, Any] | None = None  # status.inventory, as `api.Inventory` dumps it

    @property
    def token_accepted(self) -> bool:
        return (
            self.credentials is not None
            and self.credentials.status == "True"
            and self.reachable.status == "True"
        )

    @property
    def transient(self) -> bool:
        return self.credentials is None


def inventory_status(inv: celigo.Inventory, checked_at: str) -> dict[str, Any]:
    """The status shape of an inventory, made by the CRD's own model (`api.Inventory`, dumped by alias): the
    client's extra counts are not part of it, and every role level the schema has is filled in."""
    roles = inv.roles.model_dump(by_alias=True)
    return dump(
        api.Inventory(
            users=inv.users,
            integration_only_users=inv.integration_only_users,
            integrations=inv.integrations,
            roles=api.Roles.model_validate({level: int(roles.get(level, 0)) for level in api.Roles.model_fields}),
            checked_at=checked_at,
        )
    )


def _transient(reason: str, message: str) -> CeligoHealth:
    return CeligoHealth(credentials=None, reachable=Cond.false(cond.CELIGO_REACHABLE, reason, message))


def outcome_for_error(exc: Exception, region: str) -> CeligoHealth:
    """Map a Celigo client error to conditions (pure). Messages say what to do, never a token."""
    if isinstance(exc, celigo.errors.Unauthorized):
        return CeligoHealth(
            credentials=Cond.false(
                cond.CREDENTIALS_VALID,
                "TokenRejected",
                f"Celigo ({region}) rejected the API token (revoked, expired or mistyped): create a new token "
                "under Resources > API tokens and put it in the credentials Secret.",
            ),
            reachable=Cond.true(cond.CELIGO_REACHABLE, "Reachable", f"Celigo {region} answered."),
        )
    if isinstance(exc, celigo.errors.Forbidden):
        return CeligoHealth(
            credentials=Cond.false(
                cond.CREDENTIALS_VALID,
                "TokenForbidden",
                "Celigo accepted the token but refused the call: the token needs Full access scope and an "
                "account owner or administrator.",
            ),
            reachable=Cond.true(cond.CELIGO_REACHABLE, "Reachable", f"Celigo {region} answered."),
        )
    if isinstance(exc, celigo.errors.RateLimited):
        wait = f" (retry after {exc.retry_after:g}s)" if exc.retry_after else ""
        return _transient("RateLimited", f"Celigo is rate limiting this account{wait}; will check again.")
    if isinstance(exc, celigo.errors.Timeout):
        return _transient("Timeout", f"Celigo {region} did not answer in time; will check again.")
    if isinstance(exc, celigo.errors.MalformedResponse):
        return _transient("CeligoUnavailable", f"Celigo {region} sent a response that is not valid: {exc}")
    if isinstance(exc, celigo.errors.CeligoError):
        return _transient("CeligoUnavailable", f"Celigo {region} is unavailable: {exc}")
    raise exc


def jitter_offset(uid: str, interval: float, fraction: float) -> float:
    """A stable per-resource offset in [0, interval*fraction): a thousand resources never fire together."""
    digest = int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16)
    return (digest / 0xFFFFFFFF) * interval * fraction


@dataclass
class Schedule:
    """When each resource's next health check is due (monotonic seconds), in memory."""

    next_due: dict[str, float] = field(default_factory=dict)

    def due(self, uid: str, now: float | None = None, slack: float = 0.0) -> bool:
        """Due now, or before the next tick would come (`slack`): a check is never a whole tick late."""
        return (now if now is not None else time.monotonic()) + slack >= self.next_due.get(uid, 0.0)

    def checked(self, uid: str, interval: float, fraction: float, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        self.next_due[uid] = now + interval + jitter_offset(uid, interval, fraction)

    def spread(self, uid: str, interval: float, now: float | None = None) -> None:
        """First check after an operator restart: somewhere in the next interval, not all at once."""
        if uid not in self.next_due:
            now = now if now is not None else time.monotonic()
            self.next_due[uid] = now + jitter_offset(uid, interval, 1.0)

    def forget(self, uid: str) -> None:
        self.next_due.pop(uid, None)


class HealthChecker:
    """Runs Celigo and ConductorOne checks through the shared client factories (`clients`): one check per
    token and region at a time, at most `celigo_concurrency` at once, on a schedule per connector."""

    def __init__(self, config: OperatorConfig, clients: Clients | None = None) -> None:
        self.config = config
        self.clients = clients or Clients(config)
        self._inflight: dict[str, asyncio.Task[CeligoHealth]] = {}
        self._slots: asyncio.Semaphore | None = None  # made on the running loop
        self.schedule = Schedule()

    @property
    def _limiters(self) -> dict[str, celigo.RateLimiter]:
        return self.clients.limiters

    @property
    def _limiter_of(self) -> dict[str, str]:
        return self.clients.limiter_of

    async def aclose(self) -> None:
        await self.clients.aclose()

    def interval(self, spec: CeligoConnectorSpec) -> float:
        return parse_duration(spec.health_check.interval)

    def forget(self, uid: str) -> None:
        """A deleted connector: its schedule entry goes, and its limiter once no other connector uses it."""
        self.schedule.forget(uid)
        self.clients.forget(uid)

    async def check_celigo(
        self, region: str, token: str, *, inventory: bool = True, uid: str | None = None
    ) -> CeligoHealth:
        """tokenInfo in `region` (and, on 401, in the other one), then the inventory.

        Callers asking about the same token and region at the same time share one check (a thousand
        connectors on one account cost one set of calls), and at most `celigo_concurrency` checks run at
        once, so a burst queues here instead of in the HTTP pool, where requests would time out waiting.
        ``uid`` names the connector asking, so its limiter can be dropped when the last user is deleted.
        """
        if uid is not None:
            self.clients.used_by(uid, token)
        key = hashlib.sha256(f"{region}\0{token}\0{inventory}".encode()).hexdigest()
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._limited_check(region, token, inventory))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        result = await asyncio.shield(task)
        return copy.deepcopy(result)

    async def _limited_check(self, region: str, token: str, inventory: bool) -> CeligoHealth:
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self.config.celigo_concurrency))
        async with self._slots:
            started = time.monotonic()
            health = await self._check(region, token, inventory)
            metrics.health_check_observed(region, time.monotonic() - started, health.token_accepted)
            return health

    async def _check(self, region: str, token: str, inventory: bool) -> CeligoHealth:
        client = self.clients.celigo(token, region)
        try:
            info = await client.token_info()
        except celigo.errors.Unauthorized as exc:
            other = OTHER_REGION[region]
            try:
                await self.clients.celigo(token, other).token_info()
            except celigo.errors.CeligoError:
                return outcome_for_error(exc, region)
            return CeligoHealth(
                credentials=Cond.true(
                    cond.CREDENTIALS_VALID, "Valid", f"The token is valid, but in region {other}."
                ),
                reachable=Cond.false(
                    cond.CELIGO_REACHABLE,
                    "WrongRegion",
                    f"The token belongs to Celigo region {other}, not {region}: set spec.region to {other}.",
                ),
            )
        except celigo.errors.CeligoError as exc:
            return outcome_for_error(exc, region)
        self.clients.learn_account(token, region, info.user_id)
        health = CeligoHealth(
            credentials=Cond.true(cond.CREDENTIALS_VALID, "Valid", f"Celigo {region} accepts the API token."),
            reachable=Cond.true(cond.CELIGO_REACHABLE, "Reachable", f"Celigo {region} answered tokenInfo."),
        )
        if inventory:
            try:
                counted = await client.inventory()
            except celigo.errors.CeligoError as exc:
                failed = outcome_for_error(exc, region)
                health.reachable = failed.reachable if failed.transient else health.reachable
                if not failed.transient:
                    health.credentials = failed.credentials
                return health
            health.inventory = inventory_status(counted, utcnow())
        return health

    async def check_conductorone(
        self, spec: CeligoConnectorSpec, namespace: str, api_secret: Mapping[str, Any] | None
    ) -> Cond:
        """Synced, from ConductorOne's view of the connector's last sync."""
        c1 = spec.conductor_one
        assert c1 is not None
        ref = c1.credentials_secret_ref
        try:
            client_id, client_secret = read_keys(
                api_secret, namespace, ref.name, [ref.keys.client_id, ref.keys.client_secret], CONNECTOR_ROLES[:2]
            )
        except CredentialProblem as exc:
            return Cond.false(cond.SYNCED, exc.reason, exc.message)
        try:
            client = self.clients.conductorone(client_id, client_secret)
        except ValueError as exc:
            return Cond.false(cond.SYNCED, "MalformedApiCredentials", f"Secret {ref.name}: {exc}")
        try:
            status = await client.get_connector_status(c1.app_id, c1.connector_id)
        except errors.AuthenticationFailed:
            return Cond.false(
                cond.SYNCED,
                "ConductorOneAuthFailed",
                f"ConductorOne refused the API credentials in Secret {ref.name}.",
            )
        except errors.NotFound:
            return Cond.false(
                cond.SYNCED,
                "ConnectorNotFound",
                f"ConductorOne has no connector {c1.connector_id} in app {c1.app_id}.",
            )
        except errors.ConductorOneError as exc:
            return Cond.unknown(cond.SYNCED, "ConductorOneUnreachable", f"ConductorOne: {exc}")
        when = status.completed_at.strftime("%Y-%m-%dT%H:%M:%SZ") if status.completed_at else None
        if status.status == SyncStatus.DONE:
            return Cond.true(
                cond.SYNCED, "SyncDone", f"The last sync completed at {when or 'an unknown time'}."
            )
        if status.status == SyncStatus.ERROR:
            return Cond.false(
                cond.SYNCED, "SyncError", f"The last sync failed: {status.last_error or 'no details'}."
            )
        if status.status == SyncStatus.RUNNING:
            if when:
                return Cond.true(
                    cond.SYNCED, "SyncRunning", f"A sync is running; the previous one completed at {when}."
                )
            return Cond.unknown(cond.SYNCED, "SyncRunning", "The first sync is running.")
        if status.status == SyncStatus.DISABLED:
            return Cond.false(
                cond.SYNCED,
                "ConnectorDisabled",
                f"ConductorOne has connector {c1.connector_id} (app {c1.app_id}) disabled, so it does not sync: "
                "enable it in ConductorOne, on the connector's page of the app.",
            )
        if status.status == SyncStatus.UNSPECIFIED:
            return Cond.unknown(
                cond.SYNCED,
                "SyncStatusUnspecified",
                "ConductorOne reports no sync status for the connector yet (SYNC_STATUS_UNSPECIFIED): it has "
                "probably not synced since it was created.",
            )
        return Cond.unknown(
            cond.SYNCED, "SyncStatusUnknown", f"ConductorOne reports {status.raw_status or 'no status'}."
        )
