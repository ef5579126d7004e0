"""The rotation state machine: one journal in status.rotation, every step persisted before the next begins.

Two opt-in flows share the journal (one runs at a time): ConductorOne connector credentials (rotate through the
ConductorOne API) and the Celigo API token (create through Celigo's accesstokens API). Both go

    Idle -> Requesting -> Stored -> RollingOut -> Revoking -> Idle

* Requesting: a new credential is asked for. Its value is written to an operator-owned Secret (named after the
  rotation id) before anything else, because ConductorOne shows a secret only once.
* Stored: the new value is safe in Kubernetes; it is verified (a ConductorOne token / Celigo tokenInfo).
* RollingOut: the journal's `current` now names the new credential, so reconcile builds the connector Secret
  from it and rolls the pods; the step waits until every pod runs that set.
* Revoking: the previous credential is revoked (unless the API already did), then the flow is Idle again.

Killed anywhere, the operator resumes from the journal: the value of a credential the pods may use is always
in a Secret, and the old credential is revoked only after the pods moved off it. A ConductorOne rotate whose
answer was lost (timeout, 5xx, a kill) may have minted a credential nobody can see again: that is reported
(`OrphanPossible`, an Event) and a fresh rotation is made; a lost Celigo create is found again by its name.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from celigo_operator import api, celigo, manifests
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond, format_time, parse_time, utcnow
from celigo_operator.conductorone import ConductorOneClient, errors
from celigo_operator.config import OperatorConfig, RotationSettings
from celigo_operator.credentials import CredentialFormatError, parse_client_id, parse_client_secret
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.outcome import Checkpoint, Event
from celigo_operator.sources import CredentialProblem, credentials_from_secret, read_keys

log = logging.getLogger(__name__)

#: The finalizer that exists only while the operator holds a ConductorOne credential it created.
FINALIZER = f"{api.GROUP}/revoke-credential"
ANNOTATION_CREDENTIAL_ID = f"{api.GROUP}/credential-id"
ANNOTATION_ROTATION_ID = f"{api.GROUP}/rotation-id"
ROLE_C1 = "conductorone-credential"
ROLE_CELIGO = "celigo-token"
TOKEN_NAME_PREFIX = "celigo-operator"
#: spec.rotation.celigo.autoPurge -> seconds until Celigo purges a token the operator creates (None: never).
AUTO_PURGE_SECONDS: dict[str, int | None] = {
    "never": None, "1h": 3600, "4h": 4 * 3600, "1d": 86400, "4d": 4 * 86400, "10d": 10 * 86400,
    "30d": 30 * 86400,
}
#: A new credential refused this many times in a row is given up (revoked); fewer is treated as lag.
VERIFY_ATTEMPTS = 3


class Step(enum.StrEnum):
    """status.rotation.step: where the running rotation is. The same steps serve both flows."""

    IDLE = "Idle"
    REQUESTING = "Requesting"
    STORED = "Stored"
    ROLLING_OUT = "RollingOut"
    REVOKING = "Revoking"


class Flow(enum.StrEnum):
    CONDUCTORONE = "ConductorOne"
    CELIGO = "Celigo"


#: The steps each flow walks through, in order (Idle is where it rests).
FLOW_STEPS: dict[Flow, tuple[Step, ...]] = {
    Flow.CONDUCTORONE: (Step.REQUESTING, Step.STORED, Step.ROLLING_OUT, Step.REVOKING),
    Flow.CELIGO: (Step.REQUESTING, Step.STORED, Step.ROLLING_OUT, Step.REVOKING),
}
_FLOW_KEY = {Flow.CONDUCTORONE: "conductorOne", Flow.CELIGO: "celigo"}


@dataclass
class Result:
    """What one pass of the state machine decided: conditions to set or drop, Events to post."""

    conditions: list[Cond] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    notes: list[Event] = field(default_factory=list)


class Wait(Exception):
    """The current step cannot go on now; `backoff` says whether this was a failure to back off from."""

    def __init__(self, message: str = "", *, backoff: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.backoff = backoff
        self.retry_after = retry_after


def backoff_delay(attempts: int, settings: RotationSettings, retry_after: float | None = None) -> float:
    """base * 2**(attempts-1), capped; never sooner than the server's Retry-After."""
    delay = min(settings.backoff_base * (2 ** max(attempts - 1, 0)), settings.backoff_max)
    return max(delay, retry_after or 0.0)


def enabled_flows(spec: CeligoConnectorSpec) -> list[Flow]:
    flows = []
    if spec.rotation.conductor_one.enabled:
        flows.append(Flow.CONDUCTORONE)
    if spec.rotation.celigo.enabled:
        flows.append(Flow.CELIGO)
    return flows


def journal(status: Mapping[str, Any]) -> dict[str, Any]:
    """A deep-enough copy of status.rotation to edit."""
    rot = dict(status.get("rotation") or {})
    for key in _FLOW_KEY.values():
        if isinstance(rot.get(key), Mapping):
            rot[key] = dict(rot[key])
    return rot


def owned_secret_name(owner: Owner, flow: Flow, rotation_id: str) -> str:
    short = "c1" if flow is Flow.CONDUCTORONE else "tok"
    return f"{manifests.child_name(owner.name)}-{short}-{rotation_id}"


def build_owned_secret(
    owner: Owner, flow: Flow, rotation_id: str, values: Mapping[str, str], credential_id: str
) -> dict[str, Any]:
    """The operator-owned, immutable Secret that keeps a credential the operator created."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": owned_secret_name(owner, flow, rotation_id),
            "namespace": owner.namespace,
            "labels": {
                **manifests.common_labels(owner),
                manifests.LABEL_ROLE: ROLE_C1 if flow is Flow.CONDUCTORONE else ROLE_CELIGO,
            },
            "annotations": {ANNOTATION_CREDENTIAL_ID: credential_id, ANNOTATION_ROTATION_ID: rotation_id},
            "ownerReferences": [owner.reference()],
        },
        "type": "Opaque",
        "immutable": True,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())},
    }


def _decode(secret: Mapping[str, Any], key: str) -> str | None:
    raw = (secret.get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else None


def merge_credentials(
    source: Mapping[str, Any] | None,
    ref: api.CredentialsSecretRef,
    namespace: str,
    owned: Mapping[str, str],
) -> ConnectorCredentials:
    """The connector's set: operator-owned values win; the source Secret supplies only the other keys."""
    if not owned:
        return credentials_from_secret(source, ref, namespace)
    keys = ref.keys
    wanted = {
        manifests.ENV_CLIENT_ID: keys.client_id,
        manifests.ENV_CLIENT_SECRET: keys.client_secret,
        manifests.ENV_ACCESS_TOKEN: keys.celigo_access_token,
    }
    missing = [env for env in wanted if env not in owned]
    values = dict(owned)
    if missing:
        read = read_keys(source, namespace, ref.name, [wanted[env] for env in missing])
        values.update(zip(missing, read, strict=True))
    where = f"Secret {namespace}/{ref.name}"
    try:
        parse_client_id(values[manifests.ENV_CLIENT_ID])
    except CredentialFormatError as exc:
        raise CredentialProblem("MalformedClientId", f"{where} key {keys.client_id}: {exc.reason}.") from None
    try:
        parse_client_secret(values[manifests.ENV_CLIENT_SECRET])
    except CredentialFormatError as exc:
        raise CredentialProblem(
            "MalformedClientSecret", f"{where} key {keys.client_secret}: {exc.reason}."
        ) from None
    return ConnectorCredentials(
        client_id=values[manifests.ENV_CLIENT_ID],
        client_secret=values[manifests.ENV_CLIENT_SECRET],
        access_token=values[manifests.ENV_ACCESS_TOKEN],
    )


@dataclass
class Context:
    """One resource as this reconcile sees it."""

    owner: Owner
    spec: CeligoConnectorSpec
    body: Mapping[str, Any]
    status: dict[str, Any]  # the status being built; status["rotation"] is kept equal to what was persisted
    rolled: bool  # every pod runs the set built from the journal's current credentials
    due: bool  # the periodic health check is due: a good moment to read expiries
    persist: Checkpoint | None = None  # the status writer's "store this journal before continuing"


def _promote(
    rot: dict[str, Any],
    state: dict[str, Any],
    pending: dict[str, Any],
    initial_id: str | None,
    result: Result,
    kept_message: str,
) -> None:
    """The verified new credential becomes current; the one it replaces is remembered for revocation (the
    source Secret's own only when its id was given, else the user is told to revoke it), then roll out."""
    previous = state.get("current")
    if not previous and initial_id:
        previous = {"id": initial_id}
    elif not previous:
        result.notes.append(Event("Normal", "SourceCredentialKept", kept_message))
    state.update(current={**pending, "rotatedAt": utcnow()}, previous=previous, pending=None)
    state["expiresAt"] = pending.get("expiresAt")
    rot["step"] = Step.ROLLING_OUT.value


class Rotator:
    """Runs the journal for one resource at a time; holds the clients' shared pieces."""

    def __init__(
        self, kube: Kube, config: OperatorConfig, health: HealthChecker, settings: RotationSettings
    ) -> None:
        self.kube = kube
        self.config = config
        self.health = health
        self.settings = settings
        # Rotation ids whose ConductorOne rotate this process may have sent: one found in the journal at
        # Requesting that is not here was interrupted by a restart, so its outcome is unknown.
        self._attempted: set[str] = set()

    # ----------------------------------------------------------------------------- credentials in use

    async def owned_values(
        self, owner: Owner, spec: CeligoConnectorSpec, status: Mapping[str, Any]
    ) -> dict[str, str]:
        """Values the operator owns for the connector's set (empty when no flow has rotated yet)."""
        rot = journal(status)
        values: dict[str, str] = {}
        for flow in enabled_flows(spec):
            current = (rot.get(_FLOW_KEY[flow]) or {}).get("current") or {}
            name = current.get("secretName")
            if not name:
                continue
            secret = await self.kube.get_secret(owner.namespace, name)
            if secret is None:
                raise CredentialProblem(
                    "OwnedCredentialMissing",
                    f"The operator-owned Secret {owner.namespace}/{name} with the rotated {flow.value} credential "
                    "is gone; the connector keeps its last verified set. Trigger a rotation to make a new one.",
                )
            if flow is Flow.CONDUCTORONE:
                for env in (manifests.ENV_CLIENT_ID, manifests.ENV_CLIENT_SECRET):
                    value = _decode(secret, env)
                    if value:
                        values[env] = value
            else:
                value = _decode(secret, manifests.ENV_ACCESS_TOKEN)
                if value:
                    values[manifests.ENV_ACCESS_TOKEN] = value
        return values

    # ----------------------------------------------------------------------------------- the machine

    async def advance(self, ctx: Context) -> Result:
        """Start what is due and run steps until one must wait; persist each step before the next."""
        result = Result()
        flows = enabled_flows(ctx.spec)
        rot = journal(ctx.status)
        for flow in set(Flow) - set(flows):
            state = rot.get(_FLOW_KEY[flow]) or {}
            if state.get("unsupported") or state.get("requested"):
                # Turning a flow off (and on again) is how a user asks to try an unsupported API again.
                rot[_FLOW_KEY[flow]] = {**state, "unsupported": None, "requested": None}
        if not flows and rot.get("step") in (None, Step.IDLE.value):
            result.drop += [cond.ROTATION]
            await self._expiry(ctx, rot, result)
            if rot:
                rot["credentialSource"] = "SourceSecret"
                ctx.status["rotation"] = rot
            return result
        now = datetime.now(UTC)
        changed = self._triggers(ctx, rot, flows, now)
        owned_c1 = bool(((rot.get("conductorOne") or {}).get("current") or {}).get("id"))
        rot["credentialSource"] = "Operator" if owned_c1 and Flow.CONDUCTORONE in flows else "SourceSecret"
        if changed:
            await self._persist(ctx, rot)
        try:
            for _ in range(12):  # every step either advances or raises Wait; bounded all the same
                step = Step(rot.get("step") or Step.IDLE.value)
                if step is Step.IDLE:
                    if not self._start(ctx, rot, flows, now):
                        break
                    await self._persist(ctx, rot)
                    continue
                flow = Flow(rot["flow"])
                if flow not in flows:
                    # Disabled mid-way: the source Secret's credential is back in use, so nothing is revoked.
                    rot.setdefault(_FLOW_KEY[flow], {})
                    self._abandon(ctx, rot, flow, "rotation was disabled; nothing was revoked", result)
                    await self._persist(ctx, rot)
                    continue
                if not self._backoff_over(rot, now):
                    raise Wait(rot.get("lastError") or "waiting", backoff=False)
                handler = getattr(self, f"_{flow.name.lower()}_{step.name.lower()}")
                await handler(ctx, rot, result)
                if rot.get("step") == Step.ROLLING_OUT.value and step is not Step.ROLLING_OUT:
                    # ctx.rolled describes the set this reconcile built, from the journal as it was: the
                    # new credential reaches the pods from the next reconcile on.
                    ctx.rolled = False
                rot["attempts"], rot["nextAttemptAt"], rot["lastError"] = 0, None, None
                await self._persist(ctx, rot)
        except Wait as wait:
            if wait.backoff:
                attempts = int(rot.get("attempts") or 0) + 1
                delay = backoff_delay(attempts, self.settings, wait.retry_after)
                rot.update(
                    attempts=attempts,
                    nextAttemptAt=format_time(datetime.now(UTC) + timedelta(seconds=delay)),
                    lastError=wait.message,
                )
                result.notes.append(
                    Event(
                        "Warning",
                        "RotationRetrying",
                        f"{wait.message} Attempt {attempts}; next in {delay:g}s.",
                    )
                )
                await self._persist(ctx, rot)
        await self._finalizer(ctx, rot)
        result.conditions.append(self._condition(rot, flows, ctx.spec.conductor_one is not None))
        if rot.get("step") in (None, Step.IDLE.value):
            await self._expiry(ctx, rot, result)
        ctx.status["rotation"] = rot
        return result

    def _triggers(self, ctx: Context, rot: dict[str, Any], flows: list[Flow], now: datetime) -> bool:
        """Mark flows requested by the rotate-now annotation (each new value once) or their schedule."""
        changed = False
        annotations = (ctx.body.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(api.ROTATE_NOW_ANNOTATION)
        for flow in flows:
            state = rot.setdefault(_FLOW_KEY[flow], {})
            if not state.get("enabledAt"):
                state["enabledAt"] = format_time(now)
                changed = True
        if value and value != rot.get("rotateNow"):
            rot["rotateNow"] = value
            for flow in flows:
                if not rot[_FLOW_KEY[flow]].get("unsupported"):
                    rot[_FLOW_KEY[flow]].update(requested=True, requestedBy="Annotation")
            changed = True
        for flow in flows:
            state = rot[_FLOW_KEY[flow]]
            schedule = self._schedule(ctx.spec, flow)
            base = parse_time(state.get("lastRotatedAt") or state.get("enabledAt"))
            if schedule and base and not state.get("requested") and not state.get("unsupported"):
                if now >= base + timedelta(seconds=schedule):
                    state.update(requested=True, requestedBy="Schedule")
                    changed = True
        return changed

    @staticmethod
    def _schedule(spec: CeligoConnectorSpec, flow: Flow) -> float | None:
        raw = (
            spec.rotation.conductor_one.schedule
            if flow is Flow.CONDUCTORONE
            else spec.rotation.celigo.schedule
        )
        return api.parse_duration(raw) if raw else None

    def _start(self, ctx: Context, rot: dict[str, Any], flows: list[Flow], now: datetime) -> bool:
        for flow in flows:
            state = rot[_FLOW_KEY[flow]]
            if not state.get("requested") or state.get("unsupported"):
                continue
            if flow is Flow.CONDUCTORONE and ctx.spec.conductor_one is None:
                continue
            if not self._backoff_over(rot, now):
                return False
            trigger = state.get("requestedBy") or "Annotation"
            rotation_id = secrets.token_hex(4)
            self._attempted.add(rotation_id)
            rot.update(
                step=Step.REQUESTING.value,
                flow=flow.value,
                id=rotation_id,
                trigger=trigger,
                startedAt=format_time(now),
            )
            return True
        return False

    @staticmethod
    def _backoff_over(rot: Mapping[str, Any], now: datetime) -> bool:
        when = parse_time(rot.get("nextAttemptAt"))
        return when is None or now >= when

    def _finish(
        self, ctx: Context, rot: dict[str, Any], flow: Flow, result: Result, outcome: str = "Succeeded"
    ) -> None:
        state = rot[_FLOW_KEY[flow]]
        state.update(
            lastRotatedAt=utcnow(),
            lastResult=outcome,
            requested=None,
            previous=None,
            pending=None,
            lastMessage=None,
        )
        rot.update(step=Step.IDLE.value, attempts=0, nextAttemptAt=None, lastError=None, trigger=None)
        result.notes.append(
            Event("Normal", "RotationSucceeded", f"{flow.value} credential rotated ({outcome}).")
        )

    def _abandon(
        self, ctx: Context, rot: dict[str, Any], flow: Flow, why: str, result: Result, outcome: str = "Failed"
    ) -> None:
        state = rot[_FLOW_KEY[flow]]
        state.update(lastResult=outcome, requested=None, pending=None, lastMessage=why)
        rot.update(step=Step.IDLE.value, trigger=None)
        result.notes.append(Event("Warning", "RotationFailed", f"{flow.value} rotation stopped: {why}"))

    async def _persist(self, ctx: Context, rot: dict[str, Any]) -> None:
        """Hand the journal to the status writer: the next step begins only after it is stored."""
        ctx.status["rotation"] = rot
        if ctx.persist is None:
            raise KubeError(500, "NoWriter", "no status writer to persist the journal", kind=api.KIND)
        await ctx.persist(rot)

    async def _store(
        self, ctx: Context, rot: dict[str, Any], flow: Flow, values: Mapping[str, str], cid: str
    ) -> str:
        """Persist a new credential's value in an operator-owned Secret (retried: it may be the only copy)."""
        body = build_owned_secret(ctx.owner, flow, rot["id"], values, cid)
        name = str(body["metadata"]["name"])
        for attempt in range(5):
            try:
                await self.kube.create_secret(body)
                return name
            except KubeError as exc:
                if exc.conflict:  # never overwrite or drop a value: keep this one under another name
                    name = f"{name}-{secrets.token_hex(2)}"
                    body["metadata"]["name"] = name
                    continue
                log.warning("storing the new %s credential failed (%s); retrying", flow.value, exc.reason)
                await asyncio.sleep(0.5 * (attempt + 1))
        raise KubeError(503, "StoreFailed", "could not store the new credential", kind="Secret", name=name)

    async def _find_stored(self, ctx: Context, rot: Mapping[str, Any], flow: Flow) -> dict[str, Any] | None:
        name = owned_secret_name(ctx.owner, flow, rot["id"])
        return await self.kube.get_secret(ctx.owner.namespace, name)

    # ------------------------------------------------------------------------ ConductorOne flow

    def _c1_client(self, client_id: str, client_secret: str) -> ConductorOneClient:
        return ConductorOneClient(
            client_id,
            client_secret,
            base_url=self.config.conductorone_base_url,
            timeout=self.config.celigo_timeout,
            max_retries=self.settings.api_retries,
            backoff_base=0.2,
            max_retry_wait=5.0,
            http=self.health.c1_http,
        )

    async def _api_client(self, ctx: Context) -> ConductorOneClient:
        c1 = ctx.spec.conductor_one
        if c1 is None:
            raise Wait(
                "spec.conductorOne (app, connector, API credentials) is needed to rotate.", backoff=True
            )
        ref = c1.credentials_secret_ref
        secret = await self.kube.get_secret(ctx.owner.namespace, ref.name)
        try:
            client_id, client_secret = read_keys(
                secret, ctx.owner.namespace, ref.name, [ref.keys.client_id, ref.keys.client_secret]
            )
            return self._c1_client(client_id, client_secret)
        except CredentialProblem as exc:
            raise Wait(f"ConductorOne API credentials: {exc.message}", backoff=True) from None
        except ValueError as exc:
            raise Wait(f"ConductorOne API credentials in Secret {ref.name}: {exc}", backoff=True) from None

    @staticmethod
    def _c1_wait(exc: errors.ConductorOneError, what: str) -> Wait:
        return Wait(f"ConductorOne {what} failed: {exc}.", backoff=True, retry_after=exc.retry_after)

    async def _conductorone_requesting(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        stored = await self._find_stored(ctx, rot, Flow.CONDUCTORONE)
        state = rot["conductorOne"]
        if stored is None and state.get("created"):
            # Created, but its secret (shown once) never reached a Secret: nobody can use it. Revoke it now.
            await self._discard_unstored(ctx, rot, Flow.CONDUCTORONE, result)
        if stored is None and rot["id"] not in self._attempted:
            # This rotation's request may have been sent by a process that died before storing the answer.
            result.notes.append(
                Event(
                    "Warning",
                    "RotationOutcomeUnknown",
                    f"ConductorOne rotation {rot['id']} was interrupted before its answer was stored; ConductorOne may "
                    "hold a credential nobody can use (revoke unknown credentials of this connector in the UI). "
                    "Rotating again; the connector keeps its current credential.",
                )
            )
            state["lastResult"] = "OrphanPossible"
            rot["id"] = secrets.token_hex(4)
            self._attempted.add(rot["id"])
            await self._persist(ctx, rot)
        if stored is None:
            assert ctx.spec.conductor_one is not None
            client = await self._api_client(ctx)
            try:
                rotated = await client.rotate_credential(
                    ctx.spec.conductor_one.app_id, ctx.spec.conductor_one.connector_id
                )
            except errors.RotateOutcomeUnknown as exc:
                state["lastResult"] = "OrphanPossible"
                result.notes.append(
                    Event(
                        "Warning",
                        "RotationOutcomeUnknown",
                        f"ConductorOne gave no usable answer to rotation {rot['id']} ({exc.status or 'no status'}); a "
                        "credential may have been created that nobody can use. The connector keeps its current one.",
                    )
                )
                rot["id"] = secrets.token_hex(4)
                self._attempted.add(rot["id"])
                raise self._c1_wait(exc, "rotate") from None
            except errors.ConductorOneError as exc:
                raise self._c1_wait(exc, "rotate") from None
            credential = rotated.credential
            # Journal first: killed before the Secret exists, the next process revokes this credential.
            state["created"] = {"id": credential.id}
            await self._persist(ctx, rot)
            if not credential.client_id:
                await self._discard_unstored(ctx, rot, Flow.CONDUCTORONE, result)
                raise Wait("ConductorOne's rotate answer has no clientId; the new credential was revoked.", backoff=True)
            values = {
                manifests.ENV_CLIENT_ID: credential.client_id,
                manifests.ENV_CLIENT_SECRET: rotated.client_secret,
            }
            try:
                name = await self._store(ctx, rot, Flow.CONDUCTORONE, values, credential.id)
            except KubeError as exc:
                await self._discard_unstored(ctx, rot, Flow.CONDUCTORONE, result)
                raise Wait(
                    f"Storing the new ConductorOne credential failed ({exc.reason}); it was revoked.", backoff=True
                ) from None
            expires = format_time(credential.expires_at) if credential.expires_at else None
            pending = {"id": credential.id, "secretName": name, "expiresAt": expires}
        else:
            annotations = stored["metadata"].get("annotations") or {}
            pending = {
                "id": annotations.get(ANNOTATION_CREDENTIAL_ID),
                "secretName": stored["metadata"]["name"],
            }
        state["pending"] = pending
        state["created"] = None
        rot["step"] = Step.STORED.value

    async def _conductorone_stored(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        state = rot["conductorOne"]
        pending = state.get("pending") or {}
        secret = await self.kube.get_secret(ctx.owner.namespace, pending.get("secretName") or "")
        client_id = _decode(secret, manifests.ENV_CLIENT_ID) if secret else None
        client_secret = _decode(secret, manifests.ENV_CLIENT_SECRET) if secret else None
        if not client_id or not client_secret:
            self._abandon(
                ctx,
                rot,
                Flow.CONDUCTORONE,
                "the stored new credential disappeared before it was used",
                result,
            )
            return
        try:
            await self._c1_client(client_id, client_secret).verify()
        except errors.AuthenticationFailed as exc:
            if int(rot.get("attempts") or 0) + 1 < VERIFY_ATTEMPTS:  # a brand-new credential may lag a little
                raise self._c1_wait(exc, "verifying the new credential") from None
            await self._revoke(ctx, rot, Flow.CONDUCTORONE, pending.get("id"), "the refused new credential")
            await self._delete_owned(ctx, pending)
            self._abandon(
                ctx, rot, Flow.CONDUCTORONE, "ConductorOne refused the new credential; it was revoked", result
            )
            return
        except errors.ConductorOneError as exc:
            raise self._c1_wait(exc, "verifying the new credential") from None
        _promote(
            rot,
            state,
            pending,
            ctx.spec.rotation.conductor_one.initial_credential_id,
            result,
            "The ConductorOne credential from the source Secret was not created by the operator and "
            "spec.rotation.conductorOne.initialCredentialId is empty: revoke it in ConductorOne yourself.",
        )

    async def _conductorone_rolling_out(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        if not ctx.rolled:
            raise Wait("waiting for the connector pods to run the new credential")
        previous = rot["conductorOne"].get("previous") or {}
        if not previous.get("id"):
            self._finish(ctx, rot, Flow.CONDUCTORONE, result)
            return
        assert ctx.spec.conductor_one is not None
        client = await self._api_client(ctx)
        c1 = ctx.spec.conductor_one
        try:
            old = await client.get_credential(c1.app_id, c1.connector_id, previous["id"])
        except errors.NotFound:
            old = None
        except errors.ConductorOneError as exc:
            raise self._c1_wait(exc, "reading the previous credential") from None
        if old is None or old.deleted_at is not None:  # the rotate itself revoked it, or someone did
            await self._delete_owned(ctx, previous)
            self._finish(ctx, rot, Flow.CONDUCTORONE, result)
            return
        rot["step"] = Step.REVOKING.value

    async def _conductorone_revoking(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        previous = rot["conductorOne"].get("previous") or {}
        assert ctx.spec.conductor_one is not None
        client = await self._api_client(ctx)
        c1 = ctx.spec.conductor_one
        try:
            await client.revoke_credential(c1.app_id, c1.connector_id, previous["id"])
        except errors.NotFound:
            pass
        except errors.ConductorOneError as exc:
            raise self._c1_wait(exc, "revoking the previous credential") from None
        await self._delete_owned(ctx, previous)
        self._finish(ctx, rot, Flow.CONDUCTORONE, result)

    async def _revoke(
        self, ctx: Context, rot: Mapping[str, Any], flow: Flow, credential_id: object, what: str
    ) -> None:
        """Revoke a credential or token the operator made and will not use; gone already counts as done.
        Raises Wait (backoff) when it cannot: what it made is never silently left live."""
        if not credential_id:
            return
        try:
            if flow is Flow.CONDUCTORONE:
                c1 = ctx.spec.conductor_one
                if c1 is None:
                    raise Wait(f"spec.conductorOne is needed to revoke {what}.", backoff=True)
                client = await self._api_client(ctx)
                await client.revoke_credential(c1.app_id, c1.connector_id, str(credential_id))
            else:
                token = await self._current_token(ctx, rot)
                await self._celigo_client(token, ctx.spec.region).revoke_access_token(str(credential_id))
        except (errors.NotFound, celigo.errors.NotFound):
            pass
        except errors.ConductorOneError as exc:
            raise self._c1_wait(exc, f"revoking {what}") from None
        except celigo.CeligoError as exc:
            raise self._celigo_wait(exc, f"revoking {what}") from None

    async def _discard_unstored(self, ctx: Context, rot: dict[str, Any], flow: Flow, result: Result) -> None:
        """Revoke the credential/token the journal says was created but never stored, then forget it."""
        state = rot[_FLOW_KEY[flow]]
        created = state.get("created") or {}
        label = "ConductorOne credential" if flow is Flow.CONDUCTORONE else "Celigo token"
        await self._revoke(ctx, rot, flow, created.get("id"), f"the unstored new {label}")
        state["created"] = None
        result.notes.append(
            Event(
                "Warning",
                "UnusableCredentialRevoked",
                f"The new {label} {created.get('id')} of rotation {rot['id']} was created but its value could not "
                "be read or stored; it was revoked at once. The connector keeps its current credential.",
            )
        )
        await self._persist(ctx, rot)

    async def _delete_owned(self, ctx: Context, entry: Mapping[str, Any]) -> None:
        name = entry.get("secretName")
        if name:
            await self.kube.delete_secret(ctx.owner.namespace, name)

    # ------------------------------------------------------------------------------- Celigo flow

    def _celigo_client(self, token: str, region: str) -> celigo.CeligoClient:
        return celigo.CeligoClient(
            token,
            region=region,
            base_url=self.config.celigo_base_url(region),
            timeout=self.config.celigo_timeout,
            max_retries=self.settings.api_retries,
            backoff_base=0.2,
            max_backoff=5.0,
            http=self.health.http,
            rate_limiter=self.health.celigo_limiter(token),
        )

    async def _current_token(self, ctx: Context, rot: Mapping[str, Any]) -> str:
        """The token the pods use now: the operator's, else the source Secret's."""
        current = ((rot.get("celigo") or {}).get("current") or {}).get("secretName")
        if current and ctx.spec.rotation.celigo.enabled:
            secret = await self.kube.get_secret(ctx.owner.namespace, current)
            token = _decode(secret, manifests.ENV_ACCESS_TOKEN) if secret else None
        else:
            ref = ctx.spec.credentials_secret_ref
            source = await self.kube.get_secret(ctx.owner.namespace, ref.name)
            try:
                token = read_keys(source, ctx.owner.namespace, ref.name, [ref.keys.celigo_access_token])[0]
            except CredentialProblem as exc:
                raise Wait(exc.message, backoff=True) from None
        if not token:
            raise Wait("the Celigo token in use cannot be read", backoff=True)
        return token

    def _celigo_unsupported(
        self,
        ctx: Context,
        rot: dict[str, Any],
        exc: celigo.CeligoError,
        result: Result,
        why: str | None = None,
    ) -> None:
        rot["celigo"]["unsupported"] = True
        self._abandon(
            ctx,
            rot,
            Flow.CELIGO,
            why or f"Celigo refused the accesstokens API ({exc.status_code}): this token may not manage tokens.",
            result,
            outcome="Unsupported",
        )

    def _celigo_wait(self, exc: celigo.CeligoError, what: str) -> Wait:
        retry_after = getattr(exc, "retry_after", None)
        return Wait(f"Celigo {what} failed: {exc}.", backoff=True, retry_after=retry_after)

    def _token_name(self, ctx: Context, rotation_id: str) -> str:
        return f"{TOKEN_NAME_PREFIX} {ctx.owner.namespace}/{ctx.owner.name} {rotation_id}"

    @staticmethod
    def _auto_purge_at(ctx: Context) -> datetime | None:
        """spec.rotation.celigo.autoPurge (the UI's choices) as Celigo's autoPurgeAt; "never" = None."""
        seconds = AUTO_PURGE_SECONDS[ctx.spec.rotation.celigo.auto_purge]
        if seconds is None:
            return None
        return datetime.now(UTC) + min(timedelta(seconds=seconds), celigo.client.MAX_AUTO_PURGE)

    async def _celigo_requesting(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        state = rot["celigo"]
        stored = await self._find_stored(ctx, rot, Flow.CELIGO)
        if stored is not None:
            annotations = stored["metadata"].get("annotations") or {}
            state["pending"] = {
                "id": annotations.get(ANNOTATION_CREDENTIAL_ID),
                "secretName": stored["metadata"]["name"],
            }
            state["created"] = None
            rot["step"] = Step.STORED.value
            return
        client = self._celigo_client(await self._current_token(ctx, rot), ctx.spec.region)
        name = self._token_name(ctx, rot["id"])
        if rot["id"] not in self._attempted:
            # A process that died mid-request: a token of this rotation (in the journal, or by its name after
            # a lost create answer) never reached a Secret. Its value may have been shown once: revoke it.
            if not state.get("created"):
                try:
                    lost = next((t for t in await client.list_access_tokens() if t.name == name), None)
                except celigo.CeligoError as exc:
                    raise self._celigo_wait(exc, "listing tokens") from None
                if lost is not None and not lost.revoked:
                    state["created"] = {"id": lost.id}
            if state.get("created"):
                await self._discard_unstored(ctx, rot, Flow.CELIGO, result)
            rot["id"] = secrets.token_hex(4)
            self._attempted.add(rot["id"])
            await self._persist(ctx, rot)
            name = self._token_name(ctx, rot["id"])
        created = state.get("created") or {}
        value: str | None = None
        if not created:
            try:
                made = await client.create_access_token(
                    name,
                    description="Created by celigo-operator for the baton-celigo connector.",
                    auto_purge_at=self._auto_purge_at(ctx),
                )
            except (celigo.errors.Forbidden, celigo.errors.NotFound) as exc:
                self._celigo_unsupported(ctx, rot, exc, result)
                return
            except celigo.CeligoError as exc:
                raise self._celigo_wait(exc, "token create") from None
            expires = made.record.auto_purge_at
            created = {"id": made.record.id, "expiresAt": format_time(expires) if expires else None}
            value = made.value
            # Journal first: killed before the Secret exists, the next process revokes this token.
            state["created"] = created
            await self._persist(ctx, rot)
        if value is None:
            try:
                # Not in any public doc: it may be refused or absent. Then the token is revoked at once.
                value = await client.display_access_token(created["id"])
            except (celigo.errors.Forbidden, celigo.errors.NotFound, celigo.errors.MalformedResponse) as exc:
                await self._discard_unstored(ctx, rot, Flow.CELIGO, result)
                self._celigo_unsupported(
                    ctx,
                    rot,
                    exc,
                    result,
                    f"Celigo created token {created['id']} but would not show its value (GET "
                    f"/v1/accesstokens/{{id}}/display answered {exc.status_code or 'no value'}); the operator "
                    "revoked that token at once, so none it made is left live.",
                )
                return
            except celigo.CeligoError as exc:
                raise self._celigo_wait(exc, "reading the new token") from None
        try:
            secret_name = await self._store(
                ctx, rot, Flow.CELIGO, {manifests.ENV_ACCESS_TOKEN: value}, created["id"]
            )
        except KubeError as exc:
            await self._discard_unstored(ctx, rot, Flow.CELIGO, result)
            raise Wait(f"Storing the new Celigo token failed ({exc.reason}); it was revoked.", backoff=True) from None
        state["pending"] = {"id": created["id"], "secretName": secret_name, "expiresAt": created.get("expiresAt")}
        state["created"] = None
        rot["step"] = Step.STORED.value

    async def _celigo_stored(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        state = rot["celigo"]
        pending = state.get("pending") or {}
        secret = await self.kube.get_secret(ctx.owner.namespace, pending.get("secretName") or "")
        token = _decode(secret, manifests.ENV_ACCESS_TOKEN) if secret else None
        if not token:
            self._abandon(
                ctx, rot, Flow.CELIGO, "the stored new token disappeared before it was used", result
            )
            return
        checked = await self.health.check_celigo(ctx.spec.region, token, inventory=False)
        if checked.transient:
            raise Wait(f"Celigo could not verify the new token: {checked.reachable.message}", backoff=True)
        if not checked.token_accepted:
            if int(rot.get("attempts") or 0) + 1 < VERIFY_ATTEMPTS:
                raise Wait(f"Celigo refused the new token: {checked.reachable.message}", backoff=True)
            await self._revoke(ctx, rot, Flow.CELIGO, pending.get("id"), "the refused new token")
            await self._delete_owned(ctx, pending)
            self._abandon(
                ctx,
                rot,
                Flow.CELIGO,
                "Celigo refused the new token; it was revoked, the old one stays",
                result,
            )
            return
        _promote(
            rot,
            state,
            pending,
            ctx.spec.rotation.celigo.token_id,
            result,
            "The Celigo token from the source Secret has no spec.rotation.celigo.tokenId: revoke it in "
            "Celigo yourself.",
        )

    async def _celigo_rolling_out(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        if not ctx.rolled:
            raise Wait("waiting for the connector pods to run the new token")
        previous = rot["celigo"].get("previous") or {}
        if not previous.get("id"):
            self._finish(ctx, rot, Flow.CELIGO, result)
            return
        client = self._celigo_client(await self._current_token(ctx, rot), ctx.spec.region)
        try:
            old = await client.get_access_token(previous["id"])
        except celigo.errors.NotFound:
            old = None
        except celigo.CeligoError as exc:
            raise self._celigo_wait(exc, "reading the previous token") from None
        if old is None or old.revoked:
            await self._delete_owned(ctx, previous)
            self._finish(ctx, rot, Flow.CELIGO, result)
            return
        rot["step"] = Step.REVOKING.value

    async def _celigo_revoking(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        previous = rot["celigo"].get("previous") or {}
        client = self._celigo_client(await self._current_token(ctx, rot), ctx.spec.region)
        try:
            await client.revoke_access_token(previous["id"])
        except celigo.errors.NotFound:
            pass
        except celigo.CeligoError as exc:
            raise self._celigo_wait(exc, "revoking the previous token") from None
        await self._delete_owned(ctx, previous)
        self._finish(ctx, rot, Flow.CELIGO, result)

    # -------------------------------------------------------------------------- conditions, expiry

    def _condition(self, rot: Mapping[str, Any], flows: list[Flow], c1_configured: bool = True) -> Cond:
        step = rot.get("step") or Step.IDLE.value
        celigo_state = rot.get("celigo") or {}
        if step != Step.IDLE.value:
            if rot.get("lastError") and rot.get("nextAttemptAt"):
                return Cond.false(
                    cond.ROTATION,
                    "RotationBackoff",
                    f"{rot.get('flow')} rotation at step {step} failed {rot.get('attempts')} time(s): "
                    f"{rot.get('lastError')} Next attempt at {rot.get('nextAttemptAt')}; the old credential stays live.",
                )
            return Cond.unknown(cond.ROTATION, "InProgress", f"{rot.get('flow')} rotation at step {step}.")
        if Flow.CELIGO in flows and celigo_state.get("unsupported"):
            why = celigo_state.get("lastMessage") or (
                "Celigo refused the accesstokens API to this token (403/404)."
            )
            return Cond.false(
                cond.ROTATION,
                "RotationUnsupported",
                f"{why} Celigo token rotation is off until spec.rotation.celigo.enabled is turned off and on; "
                "rotate the token by hand in the source Secret.",
            )
        if Flow.CONDUCTORONE in flows and not c1_configured:
            return Cond.false(
                cond.ROTATION,
                "ConductorOneNotConfigured",
                "spec.rotation.conductorOne is enabled but spec.conductorOne (app id, connector id, API "
                "credentials Secret) is not set: nothing can be rotated.",
            )
        failed = [f for f in flows if (rot.get(_FLOW_KEY[f]) or {}).get("lastResult") == "Failed"]
        if failed:
            message = (rot.get(_FLOW_KEY[failed[0]]) or {}).get("lastMessage")
            return Cond.false(
                cond.ROTATION, "RotationFailed", f"The last {failed[0].value} rotation failed: {message}"
            )
        source = (
            " The operator owns the ConductorOne credential: the source Secret's ConductorOne keys are ignored."
            if rot.get("credentialSource") == "Operator"
            else ""
        )
        return Cond.true(
            cond.ROTATION, "Idle", f"No rotation running ({', '.join(f.value for f in flows)}).{source}"
        )

    def _warning_window(self, spec: CeligoConnectorSpec) -> float:
        raw = spec.rotation.expiry_warning
        return api.parse_duration(raw) if raw else self.settings.expiry_warning

    async def _expiry(self, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        """Read the credentials' expiry when the health check is due; CredentialsExpiring and an Event."""
        if ctx.due:
            await self._read_expiry(ctx, rot)
        window = self._warning_window(ctx.spec)
        now = datetime.now(UTC)
        seen = False
        soon: list[str] = []
        for flow, label in (
            (Flow.CONDUCTORONE, "ConductorOne credential"),
            (Flow.CELIGO, "Celigo API token"),
        ):
            expires = parse_time((rot.get(_FLOW_KEY[flow]) or {}).get("expiresAt"))
            if expires is None:
                continue
            seen = True
            if expires - now <= timedelta(seconds=window):
                soon.append(f"the {label} expires at {format_time(expires)}")
        if not seen:
            result.drop.append(cond.CREDENTIALS_EXPIRING)
            return
        if soon:
            joined = "; ".join(soon)
            message = f"{joined[0].upper()}{joined[1:]}: rotate it before then."
            last = cond.find(ctx.status.get("conditions"), cond.CREDENTIALS_EXPIRING)
            if last is None or last.get("status") != "True":
                result.notes.append(Event("Warning", "CredentialsExpiring", message))
            result.conditions.append(Cond.true(cond.CREDENTIALS_EXPIRING, "ExpiresSoon", message))
        else:
            result.conditions.append(
                Cond.false(cond.CREDENTIALS_EXPIRING, "NotExpiring", "No known credential expires soon.")
            )

    async def _read_expiry(self, ctx: Context, rot: dict[str, Any]) -> None:
        spec = ctx.spec
        c1 = spec.conductor_one
        c1_state = rot.get("conductorOne") or {}
        # The operator's credential is the one in use only while its flow is on; else the source Secret's.
        owned_c1 = (c1_state.get("current") or {}).get("id") if spec.rotation.conductor_one.enabled else None
        c1_id = owned_c1 or spec.rotation.conductor_one.initial_credential_id
        if c1 is not None and c1_id:
            try:
                client = await self._api_client(ctx)
                credential = await client.get_credential(c1.app_id, c1.connector_id, c1_id)
                rot["conductorOne"] = {
                    **c1_state,
                    "expiresAt": format_time(credential.expires_at) if credential.expires_at else None,
                    "expiryCheckedAt": utcnow(),
                }
            except (Wait, errors.ConductorOneError) as exc:
                log.info("could not read the ConductorOne credential's expiry: %s", exc)
        tok_state = rot.get("celigo") or {}
        owned_token = (tok_state.get("current") or {}).get("id") if spec.rotation.celigo.enabled else None
        token_id = owned_token or spec.rotation.celigo.token_id
        if token_id and not tok_state.get("unsupported"):
            try:
                record = await self._celigo_client(
                    await self._current_token(ctx, rot), spec.region
                ).get_access_token(token_id)
                rot["celigo"] = {
                    **tok_state,
                    "expiresAt": format_time(record.auto_purge_at) if record.auto_purge_at else None,
                    "expiryCheckedAt": utcnow(),
                }
            except (Wait, celigo.CeligoError) as exc:
                log.info("could not read the Celigo token's expiry: %s", exc)

    # -------------------------------------------------------------------------------- finalizer

    @staticmethod
    def operator_credentials(rot: Mapping[str, Any]) -> list[str]:
        """ConductorOne credential ids the operator created and has not revoked."""
        state = rot.get("conductorOne") or {}
        ids = []
        for key in ("current", "pending"):
            entry = state.get(key) or {}
            if entry.get("id") and entry.get("secretName"):
                ids.append(str(entry["id"]))
        created = state.get("created") or {}  # made, its secret not stored: revoke it too
        if created.get("id"):
            ids.append(str(created["id"]))
        previous = state.get("previous") or {}
        if previous.get("id") and previous.get("secretName"):
            ids.append(str(previous["id"]))
        return ids

    async def _finalizer(self, ctx: Context, rot: Mapping[str, Any]) -> None:
        """Hold the resource's deletion only while it owns a ConductorOne credential the operator created."""
        meta = ctx.body.get("metadata") or {}
        present = FINALIZER in (meta.get("finalizers") or [])
        needed = bool(self.operator_credentials(rot))
        if needed and not present:
            await self._set_finalizer(ctx.owner, True)

    async def _set_finalizer(self, owner: Owner, present: bool) -> None:
        for _ in range(5):
            latest = await self.kube.get_connector(owner.namespace, owner.name)
            if latest is None:
                return
            meta = latest["metadata"]
            current = list(meta.get("finalizers") or [])
            wanted = [f for f in current if f != FINALIZER] + ([FINALIZER] if present else [])
            if wanted == current:
                return
            try:
                await self.kube.patch_connector_metadata(
                    owner.namespace,
                    owner.name,
                    {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]},
                )
                return
            except KubeError as exc:
                if not exc.conflict:
                    raise

    async def finalize(self, body: Mapping[str, Any]) -> Event | None:
        """On deletion: revoke the ConductorOne credentials the operator created, then let go. Raises Wait
        to be retried; after the configured timeout it gives up with a Warning and lets go anyway."""
        meta = body.get("metadata") or {}
        if FINALIZER not in (meta.get("finalizers") or []):
            return None
        owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
        rot = journal(body.get("status") or {})
        ids = self.operator_credentials(rot)
        note: Event | None = None
        try:
            spec = CeligoConnectorSpec.model_validate(body.get("spec") or {})
            ctx = Context(
                owner=owner,
                spec=spec,
                body=body,
                status=dict(body.get("status") or {}),
                rolled=False,
                due=False,
            )
            if ids:
                if spec.conductor_one is None:
                    raise Wait("spec.conductorOne is gone: the operator cannot reach ConductorOne")
                client = await self._api_client(ctx)
                c1 = spec.conductor_one
                for credential_id in ids:
                    try:
                        await client.revoke_credential(c1.app_id, c1.connector_id, credential_id)
                    except errors.NotFound:
                        pass
                note = Event(
                    "Normal",
                    "CredentialRevoked",
                    f"Revoked {len(ids)} ConductorOne credential(s) the operator created.",
                )
        except (Wait, errors.ConductorOneError, ValueError) as exc:
            deleted = parse_time(meta.get("deletionTimestamp")) or datetime.now(UTC)
            raw = None
            try:
                raw = CeligoConnectorSpec.model_validate(
                    body.get("spec") or {}
                ).rotation.revoke_on_delete_timeout
            except ValueError:
                pass
            timeout = api.parse_duration(raw) if raw else self.settings.revoke_timeout
            if datetime.now(UTC) - deleted < timedelta(seconds=timeout):
                raise Wait(f"revoking the operator's ConductorOne credential failed: {exc}") from None
            note = Event(
                "Warning",
                "RevokeGaveUp",
                f"Could not revoke the ConductorOne credential(s) {', '.join(ids)} within {timeout:g}s ({exc}); "
                "letting the resource go. Revoke them in ConductorOne.",
            )
        await self._set_finalizer(owner, False)
        return note
