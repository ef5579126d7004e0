"""One reconcile pass, in one direction, for create, update, resume and timer ticks alike:

    read (reading) -> verify (verify) -> desired + apply + prune (apply, manifests) -> observe (observe)
      -> rotation step (rotation) -> health (health) -> one typed Outcome

Each stage gets what the stages before it produced and hands on its own result; none reaches back. The pass
writes children (apply) and, through the status writer's checkpoint, the rotation journal; it never writes
the status itself: it returns the `Outcome` (typed status, Events) and the status writer writes what changed.
Killed at any line, the next pass converges to the same state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.apply import Applier
from celigo_operator.conditions import Cond, utcnow
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import ConnectorCredentials
from celigo_operator.observe import observe
from celigo_operator.outcome import Checkpoint, Event, Outcome, dump, rotation_model
from celigo_operator.policy import check_spec
from celigo_operator.reading import Snapshot, read
from celigo_operator.rotation import Context, Result, RotationSettings, Rotator
from celigo_operator.verify import verify
from celigo_operator.waves import WaveGate

log = logging.getLogger(__name__)
#: A health check this close to due counts as due: the scheduler wakes the connector at its due time, so this
#: only absorbs clock granularity.
DUE_SLACK = 0.5


def _present(model: api.CredentialsStatus, stored: api.CredentialsStatus | None) -> api.CredentialsStatus | None:
    """An empty credentials status is no credentials status (nothing to write)."""
    return stored if stored is None and not dump(model) else model


class Reconciler:
    """Holds the operator-wide collaborators; `reconcile(body)` is the one entry point."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        hmac_key: bytes,
        health: HealthChecker,
        rotation: RotationSettings | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.hmac_key = hmac_key
        self.health = health
        self.waves = WaveGate(size=config.upgrade_wave_size, stall_after=config.upgrade_stall_after)
        self.applier = Applier(kube, config, hmac_key, self.waves)
        self.rotator = Rotator(kube, config, health, rotation or RotationSettings.from_env())

    async def reconcile(
        self, body: Mapping[str, Any], *, check_now: bool = False, persist: Checkpoint | None = None
    ) -> Outcome:
        """Converge one resource. `check_now` forces the Celigo/ConductorOne checks (create, update);
        `persist` is the status writer's checkpoint for the rotation journal."""
        snap = await read(self.kube, body)  # 1. read
        status = snap.stored.model_copy(deep=True)
        computed: list[Cond] = []
        drop: list[str] = []
        events: list[Event] = []
        if snap.spec is None:
            computed.append(Cond.false(cond.RECONCILED, "InvalidSpec", snap.invalid or "invalid spec"))
            return self._finish(snap, status, computed, drop, events)
        spec, owner = snap.spec, snap.owner

        problem = check_spec(spec, self.config)
        interval = self.health.interval(spec) if problem is None else 300.0
        if check_now:
            self.health.schedule.forget(owner.uid)
        else:
            self.health.schedule.spread(owner.uid, interval)
        due = self.health.schedule.due(owner.uid, slack=DUE_SLACK)

        verified = await verify(snap, self.health, self.hmac_key, due)  # 2. verify before anything uses it
        if verified.condition is not None:
            computed.append(verified.condition)
        credentials = verified.status

        deployment, upgrade = snap.deployment, None  # 3-4. desired, apply, prune
        if problem is not None:
            computed.append(problem)
        elif spec.suspend:
            computed.append(
                Cond.true(cond.RECONCILED, "Suspended", "spec.suspend is true: the children are left as they are.")
            )
        else:
            applied = await self.applier.apply(owner, spec, verified.credentials, credentials, snap.deployment)
            computed.append(applied.condition)
            credentials, deployment, upgrade = applied.credentials, applied.deployment, applied.upgrade
            events += applied.events
        credentials = await self.applier.prune(owner, credentials, deployment)
        status.credentials = _present(credentials, snap.stored.credentials)

        observed = await observe(self.kube, owner, deployment)  # 5. observe
        status.connector = observed.connector
        computed.append(observed.available)
        stalled, event = self.waves.track(owner.uid, f"{owner.namespace}/{owner.name}", observed.available)
        upgrade = stalled or upgrade
        events += [event] if event is not None else []
        if upgrade is not None:
            computed.append(upgrade)
        else:
            drop.append(cond.OPERATOR_UPGRADE)

        if problem is None and not spec.suspend:  # 6. the rotation step
            rotated = await self._rotate(snap, status, verified.credentials, observed.available, due, persist)
            computed += rotated.conditions
            drop += rotated.drop
            events += rotated.notes

        if due:  # 7. health
            celigo = verified.celigo
            if celigo is None and verified.credentials is not None:
                celigo = await self.health.check_celigo(spec.region, verified.credentials.access_token, uid=owner.uid)
            if celigo is not None:
                computed.append(celigo.reachable)
                if celigo.credentials is not None and verified.condition is None:
                    computed.append(celigo.credentials)
                if celigo.inventory is not None:
                    status.inventory = api.Inventory.model_validate(celigo.inventory)
            if spec.conductor_one is not None:
                api_secret = await self.kube.get_secret(owner.namespace, spec.conductor_one.credentials_secret_ref.name)
                computed.append(await self.health.check_conductorone(spec, owner.namespace, api_secret))
            status.last_check_time = utcnow()
            self.health.schedule.checked(owner.uid, interval, self.config.health_jitter)
        if spec.conductor_one is None:
            drop.append(cond.SYNCED)
        return self._finish(snap, status, computed, drop, events, deployment, upgrade)

    async def _rotate(
        self,
        snap: Snapshot,
        status: api.CeligoConnectorStatus,
        running: ConnectorCredentials | None,
        available: Cond,
        due: bool,
        persist: Checkpoint | None,
    ) -> Result:
        """Advance the rotation journal by as many steps as can go now (each persisted by the writer)."""
        assert snap.spec is not None
        creds = status.credentials or api.CredentialsStatus.model_validate({})
        rolled = (
            running is not None
            and (available.status == "True" or available.reason == "ScaledToZero")  # no pod uses the old set
            and creds.version == manifests.credentials_version(self.hmac_key, running)
            and creds.last_rotation_result == "Succeeded"
        )
        view: dict[str, Any] = {
            "rotation": dump(status.rotation) if status.rotation is not None else {},
            "conditions": [dump(c) for c in snap.stored.conditions or []],
        }
        ctx = Context(
            owner=snap.owner, spec=snap.spec, body=snap.body, status=view, rolled=rolled, due=due, persist=persist
        )
        try:
            rotated = await self.rotator.advance(ctx)
        except KubeError as exc:
            rotated = Result(conditions=[Cond.unknown(cond.ROTATION, "JournalWriteFailed", f"Kubernetes API: {exc}")])
        if view.get("rotation"):
            status.rotation = rotation_model(view["rotation"])
        return rotated

    def next_due(self, uid: str, body: Mapping[str, Any], status: api.CeligoConnectorStatus) -> float | None:
        """When this connector must be looked at again with nothing else happening (monotonic seconds): its
        next health check (which also refreshes lastCheckTime, re-checks a rejected credential and reads
        expiries), a rotation's backoff or schedule, an upgrade's stall timeout. None: nothing timed."""
        times: list[float] = []
        health = self.health.schedule.next_due.get(uid)
        if health is not None:
            times.append(health)
        stall = self.waves.stall_deadline(uid)
        if stall is not None:
            times.append(stall)
        try:
            spec = CeligoConnectorSpec.model_validate(body.get("spec") or {})
        except ValueError:
            spec = None
        if spec is not None and status.rotation is not None:
            when = self.rotator.next_due(spec, dump(status.rotation))
            if when is not None:
                times.append(time.monotonic() + max(0.0, (when - datetime.now(UTC)).total_seconds()))
        return min(times) if times else None

    def _finish(
        self,
        snap: Snapshot,
        status: api.CeligoConnectorStatus,
        computed: list[Cond],
        drop: list[str],
        events: list[Event],
        deployment: dict[str, Any] | None = None,
        upgrade: Cond | None = None,
    ) -> Outcome:
        """Conditions merged (lastTransitionTime kept unless the status changed) and Ready. The Events of their
        transitions are the status writer's, from the old and new status."""
        now = utcnow()
        old = [dump(c) for c in snap.stored.conditions or []]
        merged = cond.merge(old, computed, snap.generation, now, drop=drop)
        current = {c["type"]: Cond(c["type"], c["status"], c["reason"], c.get("message", "")) for c in merged}
        merged = cond.merge(merged, [cond.ready(current)], snap.generation, now)
        status.conditions = [api.Condition.model_validate(c) for c in merged]
        status.observed_generation = snap.generation
        return Outcome(status=status, events=events, deployment=deployment, upgrade=upgrade)
