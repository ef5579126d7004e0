"""The rotation state machine: one journal in status.rotation, every step persisted before the next begins.

Two opt-in flows share the journal (one runs at a time): ConductorOne connector credentials and the Celigo API
token. They are one generic flow over two providers (`providers.py`), driven by the step table `STEPS`:

    Idle -> Requesting -> Stored -> RollingOut -> Revoking -> Idle

* Requesting: a new credential is minted; its id goes into the journal (`created`) before its value is read or
  stored, and its value into an operator-owned Secret (named after the rotation id) before anything else,
  because ConductorOne shows a secret only once. Made but unusable (no value, not storable): revoked at once.
* Stored: the new value is safe in Kubernetes; it is verified (a ConductorOne token / Celigo tokenInfo).
* RollingOut: the journal's `current` now names the new credential, so the next pass builds the connector
  Secret from it and rolls the pods; the step waits until every pod runs that set.
* Revoking: the previous credential is revoked (unless the API already did), then the flow is Idle again.

Killed anywhere, the operator resumes from the journal: the value of a credential the pods may use is always in
a Secret, and the old credential is revoked only after the pods moved off it. A rotation found at Requesting
that this process did not start was interrupted: a credential it journaled (or, Celigo, one found by the
rotation's name) is revoked; a ConductorOne rotate whose answer was lost may have minted a credential nobody
can see again, which is reported (`OrphanPossible`, an Event); then a fresh rotation id starts over.

The machine never writes status itself: `ctx.persist` is the status writer's checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from celigo_operator import api
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.clients import Clients
from celigo_operator.conditions import Cond, format_time, parse_time, utcnow
from celigo_operator.config import OperatorConfig, RotationSettings
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube, KubeError
from celigo_operator.outcome import Event
from celigo_operator.rotation import expiry, finalizer
from celigo_operator.rotation.journal import (
    ANNOTATION_CREDENTIAL_ID,
    FLOW_ENV,
    FLOW_KEY,
    VERIFY_ATTEMPTS,
    Context,
    Flow,
    Result,
    Step,
    Wait,
    backoff_delay,
    build_owned_secret,
    decode,
    enabled_flows,
    journal,
    owned_secret_name,
)
from celigo_operator.rotation.providers import (
    AnswerLost,
    ConductorOne,
    Provider,
    Refused,
    Unsupported,
    Unusable,
    providers,
)

log = logging.getLogger(__name__)

StepHandler = Callable[["Rotator", Provider, Context, dict[str, Any], Result], Awaitable[None]]


def _promote(rot: dict[str, Any], state: dict[str, Any], provider: Provider, ctx: Context, result: Result) -> None:
    """The verified new credential becomes current; the one it replaces is remembered for revocation (the
    source Secret's own only when its id was given, else the user is told to revoke it), then roll out."""
    pending = state.get("pending") or {}
    previous = state.get("current")
    initial_id = provider.initial_id(ctx.spec)
    if not previous and initial_id:
        previous = {"id": initial_id}
    elif not previous:
        result.notes.append(Event("Normal", "SourceCredentialKept", provider.kept))
    state.update(current={**pending, "rotatedAt": utcnow()}, previous=previous, pending=None)
    state["expiresAt"] = pending.get("expiresAt")
    rot["step"] = Step.ROLLING_OUT.value


class Rotator:
    """Runs the journal for one resource at a time; holds the providers."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        health: HealthChecker,
        settings: RotationSettings,
        clients: Clients | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.health = health
        self.settings = settings
        self.providers = providers(kube, clients or health.clients, health, settings)
        # Rotation ids whose mint this process may have sent: one found in the journal at Requesting that is
        # not here was interrupted by a restart, so its outcome is unknown.
        self._attempted: set[str] = set()

    # ----------------------------------------------------------------------------------- the machine

    async def advance(self, ctx: Context) -> Result:
        """Start what is due and run steps until one must wait; persist each step before the next."""
        result = Result()
        flows = enabled_flows(ctx.spec)
        rot = journal(ctx.status)
        for flow in set(Flow) - set(flows):
            state = rot.get(FLOW_KEY[flow]) or {}
            if state.get("unsupported") or state.get("requested"):
                # Turning a flow off (and on again) is how a user asks to try an unsupported API again.
                rot[FLOW_KEY[flow]] = {**state, "unsupported": None, "requested": None}
        if not flows and rot.get("step") in (None, Step.IDLE.value):
            result.drop += [cond.ROTATION]
            await expiry.expiry(ctx, rot, result, self.providers, self.settings)
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
                    rot.setdefault(FLOW_KEY[flow], {})
                    self._abandon(rot, flow, "rotation was disabled; nothing was revoked", result)
                    await self._persist(ctx, rot)
                    continue
                if not self._backoff_over(rot, now):
                    raise Wait(rot.get("lastError") or "waiting", backoff=False)
                await STEPS[step](self, self.providers[flow], ctx, rot, result)
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
                    Event("Warning", "RotationRetrying", f"{wait.message} Attempt {attempts}; next in {delay:g}s.")
                )
                await self._persist(ctx, rot)
        await finalizer.hold(self.kube, ctx, rot)
        result.conditions.append(self._condition(rot, flows, ctx.spec.conductor_one is not None))
        if rot.get("step") in (None, Step.IDLE.value):
            await expiry.expiry(ctx, rot, result, self.providers, self.settings)
        ctx.status["rotation"] = rot
        return result

    def next_due(self, spec: CeligoConnectorSpec, rot: Mapping[str, Any]) -> datetime | None:
        """The earliest time the journal has something timed to do: a backoff ending or a schedule coming due
        (the scheduler wakes the connector then; nothing re-reads it in between)."""
        times = [t for t in (parse_time(rot.get("nextAttemptAt")),) if t is not None]
        for flow in enabled_flows(spec):
            state = rot.get(FLOW_KEY[flow]) or {}
            raw = self.providers[flow].schedule(spec)
            base = parse_time(state.get("lastRotatedAt") or state.get("enabledAt"))
            if raw and base and not state.get("requested") and not state.get("unsupported"):
                times.append(base + timedelta(seconds=api.parse_duration(raw)))
        return min(times) if times else None

    def _triggers(self, ctx: Context, rot: dict[str, Any], flows: list[Flow], now: datetime) -> bool:
        """Mark flows requested by the rotate-now annotation (each new value once) or their schedule."""
        changed = False
        annotations = (ctx.body.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(api.ROTATE_NOW_ANNOTATION)
        for flow in flows:
            state = rot.setdefault(FLOW_KEY[flow], {})
            if not state.get("enabledAt"):
                state["enabledAt"] = format_time(now)
                changed = True
        if value and value != rot.get("rotateNow"):
            rot["rotateNow"] = value
            for flow in flows:
                if not rot[FLOW_KEY[flow]].get("unsupported"):
                    rot[FLOW_KEY[flow]].update(requested=True, requestedBy="Annotation")
            changed = True
        for flow in flows:
            state = rot[FLOW_KEY[flow]]
            raw = self.providers[flow].schedule(ctx.spec)
            schedule = api.parse_duration(raw) if raw else None
            base = parse_time(state.get("lastRotatedAt") or state.get("enabledAt"))
            if schedule and base and not state.get("requested") and not state.get("unsupported"):
                if now >= base + timedelta(seconds=schedule):
                    state.update(requested=True, requestedBy="Schedule")
                    changed = True
        return changed

    def _start(self, ctx: Context, rot: dict[str, Any], flows: list[Flow], now: datetime) -> bool:
        for flow in flows:
            state = rot[FLOW_KEY[flow]]
            if not state.get("requested") or state.get("unsupported"):
                continue
            if flow is Flow.CONDUCTORONE and ctx.spec.conductor_one is None:
                continue
            if not self._backoff_over(rot, now):
                return False
            rotation_id = self._new_id()
            rot.update(
                step=Step.REQUESTING.value,
                flow=flow.value,
                id=rotation_id,
                trigger=state.get("requestedBy") or "Annotation",
                startedAt=format_time(now),
            )
            return True
        return False

    def _new_id(self) -> str:
        rotation_id = secrets.token_hex(4)
        self._attempted.add(rotation_id)
        return rotation_id

    @staticmethod
    def _backoff_over(rot: Mapping[str, Any], now: datetime) -> bool:
        when = parse_time(rot.get("nextAttemptAt"))
        return when is None or now >= when

    @staticmethod
    def _finish(rot: dict[str, Any], flow: Flow, result: Result, outcome: str = "Succeeded") -> None:
        state = rot[FLOW_KEY[flow]]
        state.update(
            lastRotatedAt=utcnow(), lastResult=outcome, requested=None, previous=None, pending=None, lastMessage=None
        )
        rot.update(step=Step.IDLE.value, attempts=0, nextAttemptAt=None, lastError=None, trigger=None)
        result.notes.append(Event("Normal", "RotationSucceeded", f"{flow.value} credential rotated ({outcome})."))

    @staticmethod
    def _abandon(rot: dict[str, Any], flow: Flow, why: str, result: Result, outcome: str = "Failed") -> None:
        state = rot[FLOW_KEY[flow]]
        state.update(lastResult=outcome, requested=None, pending=None, lastMessage=why)
        if outcome == "Unsupported":
            state["unsupported"] = True
        rot.update(step=Step.IDLE.value, trigger=None)
        result.notes.append(Event("Warning", "RotationFailed", f"{flow.value} rotation stopped: {why}"))

    async def _persist(self, ctx: Context, rot: dict[str, Any]) -> None:
        """Hand the journal to the status writer: the next step begins only after it is stored."""
        ctx.status["rotation"] = rot
        if ctx.persist is None:
            raise KubeError(500, "NoWriter", "no status writer to persist the journal", kind=api.KIND)
        await ctx.persist(rot)

    # --------------------------------------------------------------------------- owned Secrets

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

    async def _delete_owned(self, ctx: Context, entry: Mapping[str, Any]) -> None:
        name = entry.get("secretName")
        if name:
            await self.kube.delete_secret(ctx.owner.namespace, name)

    async def _discard_unstored(self, p: Provider, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        """Revoke the credential the journal says was created but never stored, then forget it (persisted)."""
        state = rot[FLOW_KEY[p.flow]]
        created = state.get("created") or {}
        if created.get("id"):
            await p.revoke(ctx, rot, str(created["id"]), f"the unstored new {p.label}")
        state["created"] = None
        result.notes.append(
            Event(
                "Warning",
                "UnusableCredentialRevoked",
                f"The new {p.label} {created.get('id')} of rotation {rot['id']} was created but its value could not "
                "be read or stored; it was revoked at once. The connector keeps its current credential.",
            )
        )
        await self._persist(ctx, rot)

    # ------------------------------------------------------------------------ the steps, generic

    async def requesting(self, p: Provider, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        state = rot[FLOW_KEY[p.flow]]
        stored = await self.kube.get_secret(ctx.owner.namespace, owned_secret_name(ctx.owner, p.flow, rot["id"]))
        if stored is not None:  # stored by a process that died right after: adopt it
            annotations = stored["metadata"].get("annotations") or {}
            state.update(
                pending={"id": annotations.get(ANNOTATION_CREDENTIAL_ID), "secretName": stored["metadata"]["name"]},
                created=None,
            )
            rot["step"] = Step.STORED.value
            return
        if rot["id"] not in self._attempted:
            # Interrupted by a restart: a credential of this rotation whose value never reached a Secret may
            # be live (its value was shown once). Revoke it, then start over under a new rotation id.
            if not state.get("created"):
                state["created"] = await p.find_lost(ctx, rot, rot["id"])
            if state.get("created"):
                await self._discard_unstored(p, ctx, rot, result)
            elif p.lost_answer_orphans:
                result.notes.append(
                    Event(
                        "Warning",
                        "RotationOutcomeUnknown",
                        f"{p.flow.value} rotation {rot['id']} was interrupted before its answer was stored; "
                        f"{p.flow.value} may hold a credential nobody can use (revoke unknown credentials of this "
                        "connector in the UI). Rotating again; the connector keeps its current credential.",
                    )
                )
                state["lastResult"] = "OrphanPossible"
            rot["id"] = self._new_id()
            await self._persist(ctx, rot)
        elif state.get("created") and not isinstance(p, ConductorOne):
            pass  # made by this process, its value not read yet (a transient failure): read it again below
        elif state.get("created"):
            await self._discard_unstored(p, ctx, rot, result)  # its secret was shown once and is gone
        created = state.get("created") or {}
        values: dict[str, str] | None = None
        if not created:
            try:
                minted = await p.mint(ctx, rot, rot["id"])
            except Unsupported as exc:
                self._abandon(rot, p.flow, exc.message, result, outcome="Unsupported")
                return
            except AnswerLost as exc:
                state["lastResult"] = "OrphanPossible"
                result.notes.append(Event("Warning", "RotationOutcomeUnknown", exc.message))
                rot["id"] = self._new_id()
                raise exc.wait from None
            expires = format_time(minted.expires_at) if minted.expires_at else None
            created = {"id": minted.id, "expiresAt": expires}
            values = minted.values
            # Journal first: killed before the Secret exists, the next process revokes this credential.
            state["created"] = created
            await self._persist(ctx, rot)
        if values is None:
            try:
                values = await p.reveal(ctx, rot, str(created["id"]))
            except Unusable as exc:
                await self._discard_unstored(p, ctx, rot, result)
                if exc.unsupported:
                    self._abandon(rot, p.flow, exc.message, result, outcome="Unsupported")
                    return
                raise Wait(exc.message, backoff=True) from None
        try:
            secret_name = await self._store(ctx, rot, p.flow, values, str(created["id"]))
        except KubeError as exc:
            await self._discard_unstored(p, ctx, rot, result)
            raise Wait(f"Storing the new {p.label} failed ({exc.reason}); it was revoked.", backoff=True) from None
        state["pending"] = {"id": created["id"], "secretName": secret_name, "expiresAt": created.get("expiresAt")}
        state["created"] = None
        rot["step"] = Step.STORED.value

    async def stored(self, p: Provider, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        state = rot[FLOW_KEY[p.flow]]
        pending = state.get("pending") or {}
        secret = await self.kube.get_secret(ctx.owner.namespace, pending.get("secretName") or "")
        values = {env: decode(secret, env) or "" for env in FLOW_ENV[p.flow]}
        if not all(values.values()):
            self._abandon(rot, p.flow, f"the stored new {p.noun} disappeared before it was used", result)
            return
        try:
            await p.verify(ctx, values)
        except Refused as exc:
            if int(rot.get("attempts") or 0) + 1 < VERIFY_ATTEMPTS:  # a brand-new credential may lag a little
                raise Wait(exc.message, backoff=True, retry_after=exc.retry_after) from None
            if pending.get("id"):
                await p.revoke(ctx, rot, str(pending["id"]), f"the refused new {p.noun}")
            await self._delete_owned(ctx, pending)
            self._abandon(rot, p.flow, p.refused, result)
            return
        _promote(rot, state, p, ctx, result)

    async def rolling_out(self, p: Provider, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        if not ctx.rolled:
            raise Wait(f"waiting for the connector pods to run the new {p.noun}")
        previous = rot[FLOW_KEY[p.flow]].get("previous") or {}
        if not previous.get("id"):
            self._finish(rot, p.flow, result)
            return
        if not await p.is_live(ctx, rot, str(previous["id"])):  # the API revoked it already, or someone did
            await self._delete_owned(ctx, previous)
            self._finish(rot, p.flow, result)
            return
        rot["step"] = Step.REVOKING.value

    async def revoking(self, p: Provider, ctx: Context, rot: dict[str, Any], result: Result) -> None:
        previous = rot[FLOW_KEY[p.flow]].get("previous") or {}
        await p.revoke(ctx, rot, str(previous["id"]), f"the previous {p.noun}")
        await self._delete_owned(ctx, previous)
        self._finish(rot, p.flow, result)

    # ------------------------------------------------------------------------------- condition

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
            why = celigo_state.get("lastMessage") or "Celigo refused the accesstokens API to this token (403/404)."
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
        failed = [f for f in flows if (rot.get(FLOW_KEY[f]) or {}).get("lastResult") == "Failed"]
        if failed:
            message = (rot.get(FLOW_KEY[failed[0]]) or {}).get("lastMessage")
            return Cond.false(cond.ROTATION, "RotationFailed", f"The last {failed[0].value} rotation failed: {message}")
        source = (
            " The operator owns the ConductorOne credential: the source Secret's ConductorOne keys are ignored."
            if rot.get("credentialSource") == "Operator"
            else ""
        )
        return Cond.true(cond.ROTATION, "Idle", f"No rotation running ({', '.join(f.value for f in flows)}).{source}")

    # ---------------------------------------------------------------------------------- deletion

    async def finalize(self, body: Mapping[str, Any]) -> Event | None:
        conductorone = self.providers[Flow.CONDUCTORONE]
        assert isinstance(conductorone, ConductorOne)
        return await finalizer.finalize(self.kube, conductorone, self.settings, body)


#: The step table: what each step of the journal does, the same for both flows (the providers differ only
#: in their calls). The kill tests iterate it (through FLOW_STEPS): a step added here gets a kill point or
#: the suite fails.
STEPS: dict[Step, StepHandler] = {
    Step.REQUESTING: Rotator.requesting,
    Step.STORED: Rotator.stored,
    Step.ROLLING_OUT: Rotator.rolling_out,
    Step.REVOKING: Rotator.revoking,
}
#: The steps each flow walks through, in order (Idle is where it rests): both flows, the one table.
FLOW_STEPS: dict[Flow, tuple[Step, ...]] = {flow: tuple(STEPS) for flow in Flow}

