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
import traceback
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
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.observe import Observed, observe
from celigo_operator.outcome import Checkpoint, Event, Outcome, dump, read_status, rotation_model
from celigo_operator.policy import check_spec
from celigo_operator.reading import Snapshot, read
from celigo_operator.rotation import Context, Result, RotationSettings, Rotator
from celigo_operator.verify import Verified, verify
from celigo_operator.waves import WaveGate

log = logging.getLogger(__name__)
#: The reason of a pass whose stage raised (the Reconciled condition, the Event, the errors metric's label).
RECONCILE_FAILED = "ReconcileFailed"
#: The pipeline's stages, as failures name them ("status": writing the outcome, after the pass).
STAGES = ("read", "verify", "apply", "observe", "rotate", "health", "status")
UNOBSERVED = Cond.unknown(cond.CONNECTOR_AVAILABLE, RECONCILE_FAILED, "The Deployment could not be observed.")
#: A health check this close to due counts as due: the scheduler wakes the connector at its due time, so this
#: only absorbs clock granularity.
DUE_SLACK = 0.5


class StageFailures:
    """The stages of one pass that raised. Reported by stage and exception type only: an exception's text may
    hold a value (an HTTP client quotes the header it refuses), so it never reaches a log, status or Event."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        self.key = f"{meta.get('namespace')}/{meta.get('name')}"
        self.failed: dict[str, str] = {}  # stage -> exception type

    def add(self, stage: str, exc: BaseException) -> None:
        assert stage in STAGES, stage
        kind = type(exc).__name__
        self.failed.setdefault(stage, kind)
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"
        log.warning("%s: the %s stage failed (%s at %s); retried with backoff", self.key, stage, kind, where)

    def condition(self) -> Cond | None:
        if not self.failed:
            return None
        what = ", ".join(f"the {stage} stage ({kind})" for stage, kind in self.failed.items())
        return Cond.false(
            cond.RECONCILED,
            RECONCILE_FAILED,
            f"Reconciling failed in {what}; the operator retries with backoff and the other stages still ran. "
            "The operator log has where it failed.",
        )


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
        `persist` is the status writer's checkpoint for the rotation journal.

        Never raises: a stage that fails is reported as Reconciled=False ReconcileFailed (`StageFailures`) and
        the stages that do not need its result still run, so a failing health check or rotation step never
        stops the drift repair of the children."""
        failures = StageFailures(body)
        try:
            snap = await read(self.kube, body)  # 1. read
        except Exception as exc:
            failures.add("read", exc)
            return self.failed(body, failures)
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

        try:
            verified = await verify(snap, self.health, self.hmac_key, due)  # 2. verify before anything uses it
        except Exception as exc:
            failures.add("verify", exc)
            verified = Verified(None, None, snap.credentials_status)  # nothing new verified: keep the running set
        if verified.condition is not None:
            computed.append(verified.condition)
        if verified.celigo is not None and not due:  # what verify saw of Celigo stands until the health stage
            computed.append(verified.celigo.reachable)
        credentials = verified.status

        deployment, upgrade = snap.deployment, None  # 3-4. desired, apply, prune
        if problem is not None:
            computed.append(problem)
        elif spec.suspend:
            computed.append(
                Cond.true(cond.RECONCILED, "Suspended", "spec.suspend is true: the children are left as they are.")
            )
        elif verified.held:  # a region change Celigo did not confirm: the Deployment stays as it is
            computed += verified.held
        else:
            try:
                applied = await self.applier.apply(owner, spec, verified.credentials, credentials, snap.deployment)
            except Exception as exc:
                failures.add("apply", exc)
            else:
                computed.append(applied.condition)
                credentials, deployment, upgrade = applied.credentials, applied.deployment, applied.upgrade
                events += applied.events
        try:
            credentials = await self.applier.prune(owner, credentials, deployment)
        except Exception as exc:
            failures.add("apply", exc)
        status.credentials = _present(credentials, snap.stored.credentials)

        try:
            observed: Observed | None = await observe(self.kube, owner, deployment)  # 5. observe
        except Exception as exc:
            failures.add("observe", exc)
            observed = None
        available = observed.available if observed is not None else UNOBSERVED
        if observed is not None:
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
            try:
                rotated = await self._rotate(snap, status, verified.credentials, available, due, persist)
            except Exception as exc:
                failures.add("rotate", exc)
            else:
                computed += rotated.conditions
                drop += rotated.drop
                events += rotated.notes

        if due:  # 7. health
            try:
                computed += await self._health(spec, owner.uid, owner.namespace, verified, status)
            except Exception as exc:
                failures.add("health", exc)
            else:
                self.health.schedule.checked(owner.uid, interval, self.config.health_jitter)
        if spec.conductor_one is None:
            drop.append(cond.SYNCED)
        failed = failures.condition()
        computed += [failed] if failed is not None else []  # last: it overrides the apply stage's Reconciled
        return self._finish(snap, status, computed, drop, events, deployment, upgrade)

    async def _health(
        self, spec: CeligoConnectorSpec, uid: str, namespace: str, verified: Verified, status: api.CeligoConnectorStatus
    ) -> list[Cond]:
        """The health stage: Celigo (unless verify just asked it) and ConductorOne, as conditions."""
        computed: list[Cond] = []
        celigo = verified.celigo
        if celigo is None and verified.credentials is not None:
            celigo = await self.health.check_celigo(spec.region, verified.credentials.access_token, uid=uid)
        if celigo is not None:
            computed.append(celigo.reachable)
            if celigo.credentials is not None and verified.condition is None:
                computed.append(celigo.credentials)
            if celigo.inventory is not None:
                status.inventory = api.Inventory.model_validate(celigo.inventory)
        if spec.conductor_one is not None:
            api_secret = await self.kube.get_secret(namespace, spec.conductor_one.credentials_secret_ref.name)
            computed.append(await self.health.check_conductorone(spec, namespace, api_secret))
        status.last_check_time = utcnow()
        return computed

    def failed(self, body: Mapping[str, Any], failures: StageFailures) -> Outcome:
        """The outcome of a pass that could not get going (its read failed) or whose status write failed: the
        stored status with Reconciled=False ReconcileFailed, so Ready cannot stay True."""
        meta = body.get("metadata") or {}
        snap = Snapshot(
            owner=Owner(name=meta.get("name", ""), namespace=meta.get("namespace", ""), uid=meta.get("uid", "")),
            body=body,
            generation=meta.get("generation"),
            stored=read_status(body.get("status")),
        )
        failed = failures.condition()
        return self._finish(snap, snap.stored.model_copy(deep=True), [failed] if failed else [], [], [])

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
