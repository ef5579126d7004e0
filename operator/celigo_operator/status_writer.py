"""The status writer: the only module that writes a CeligoConnector's status.

It writes two things, both typed (`api.CeligoConnectorStatus` / `api.RotationStatus`, dumped by alias
without None values, sent as the JSON merge patch from what is stored):

* rotation journal checkpoints, while a pass runs: the rotation step hands `Pass.checkpoint` the journal
  and continues only once it is stored. Each write is conditioned on the resourceVersion this pass last
  saw; on a conflict the resource is re-read, and the write is retried only if the stored journal is still
  the one this pass started from (a change of metadata, e.g. kopf's annotations, does not matter), so a
  pass never writes a journal step over one it did not see.
* the final status of the pass, only when it changed (a change of only lastCheckTime/checkedAt is written at
  most every `status_refresh`, so an idle connector costs about one status write an hour).

Comparing the status before and after each write is also where the Events of the pass are posted and the
metrics move: Ready, health checks, and rotations (one finished journal flow, or one source-Secret credential
change, counted once, here).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celigo_operator import api, metrics
from celigo_operator import conditions as cond
from celigo_operator.config import OperatorConfig
from celigo_operator.kube import Kube, KubeError
from celigo_operator.outcome import Event, Outcome, dump, merge_patch, rotation_model, strip_none

log = logging.getLogger(__name__)
EVENT_COMPONENT = "celigo-operator"  # Events' reporting component (kubectl describe's "From")
Logger = logging.Logger | logging.LoggerAdapter[Any]
_IDLE = (None, "Idle")


def _age(timestamp: str | None, now: datetime) -> float:
    then = cond.parse_time(timestamp)
    return float("inf") if then is None else (now - then).total_seconds()


def _without_check_times(status: Mapping[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in status.items() if k != "lastCheckTime"}
    if isinstance(result.get("inventory"), Mapping):
        result["inventory"] = {k: v for k, v in result["inventory"].items() if k != "checkedAt"}
    return result


def status_to_write(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], refresh: float, now: datetime | None = None
) -> dict[str, Any] | None:
    """The merge patch worth writing to turn the stored status `old` into `new`, or None. A change of only
    lastCheckTime/checkedAt is written at most every `refresh` seconds."""
    old, new = strip_none(dict(old or {})), strip_none(dict(new))
    patch = merge_patch(old, new)
    if not patch:
        return None
    if not merge_patch(_without_check_times(old), _without_check_times(new)):
        if _age(old.get("lastCheckTime"), now or datetime.now(UTC)) < refresh:
            return None
    return patch


#: Reasons of a rollout under way: not news (the action that started it has its own Event, and its end is a
#: transition of its own).
QUIET_REASONS = frozenset({"Progressing"})


def transition_events(old: Sequence[Mapping[str, Any]] | None, new: Sequence[Mapping[str, Any]]) -> list[Event]:
    """The Event of the condition transitions from the stored status to the new one (pure): at most one per
    pass, however many conditions moved together. What counts: Ready's every change, a condition turning
    False/Unknown, and a recovery of one that was there before; a rollout still in progress does not. The
    Event is a Warning if anything went wrong, named after Ready's reason when Ready moved (the first failing
    condition's), else after the first condition that moved."""
    moved = []
    for cur, before in cond.transitions(old, new):
        if cur["type"] == cond.CREDENTIALS_EXPIRING:
            continue  # inverted polarity: the rotation step posts its own Warning when it turns True
        if cur["type"] == cond.ROTATION and cur["status"] == "Unknown":
            continue  # a rotation in progress is not news; its steps and outcome have their own Events
        if cur["status"] != "True" and cur["reason"] in QUIET_REASONS:
            continue
        if cur["type"] == cond.READY or cur["status"] != "True" or before is not None:
            moved.append(cur)
    if not moved:
        return []
    lead = next((c for c in moved if c["type"] == cond.READY), moved[0])
    kind = "Normal" if all(c["status"] == "True" for c in moved) else "Warning"
    message = "; ".join(
        f"{c['type']}={c['status']}" + (f": {c['message']}" if c.get("message") else "") for c in moved
    )
    return [Event(kind, lead["reason"], message)]


def rotations_finished(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[bool, str | None]]:
    """(succeeded, when) for each credential change that `old` -> `new` completes or starts (pure): a journal
    flow that went back to Idle, or a source-Secret credential change (a new credentials version while no
    journal flow is rolling one out)."""
    done: list[tuple[bool, str | None]] = []
    before, after = old.get("rotation") or {}, new.get("rotation") or {}
    if before.get("step") not in _IDLE and after.get("step") in _IDLE and before.get("flow"):
        key = "conductorOne" if before["flow"] == "ConductorOne" else "celigo"
        flow = after.get(key) or {}
        ok = flow.get("lastResult") == "Succeeded"
        done.append((ok, flow.get("lastRotatedAt") if ok else None))
    was, now = old.get("credentials") or {}, new.get("credentials") or {}
    if (
        now.get("rotatedAt")
        and now.get("rotatedAt") != was.get("rotatedAt")
        and was.get("version")
        and after.get("step") != "RollingOut"  # a journal flow's new credential: counted when the flow ends
    ):
        done.append((True, now["rotatedAt"]))
    return done


@dataclass
class Pass:
    """One reconcile pass of one resource, as the writer sees it: the status as stored (as read at the start,
    then as this pass wrote it) and the resourceVersion the next write is conditioned on."""

    writer: StatusWriter
    namespace: str
    name: str
    uid: str
    stored: dict[str, Any]
    resource_version: str | None
    body: Mapping[str, Any] = field(repr=False, default_factory=dict)

    async def checkpoint(self, rotation: Mapping[str, Any]) -> None:
        """Persist the rotation journal before the caller continues (validated against the schema)."""
        await self.writer._checkpoint(self, dump(rotation_model(rotation)))


class StatusWriter:
    def __init__(self, kube: Kube, config: OperatorConfig) -> None:
        self.kube = kube
        self.config = config
        # namespace/name -> the resourceVersion this writer's last status write produced: the watch event
        # echoing it needs no reconcile.
        self.written: dict[str, str] = {}

    def begin(self, body: Mapping[str, Any]) -> Pass:
        meta = body["metadata"]
        return Pass(
            writer=self,
            namespace=meta["namespace"],
            name=meta["name"],
            uid=meta["uid"],
            stored=strip_none(dict(body.get("status") or {})),
            resource_version=meta.get("resourceVersion"),
            body=body,
        )

    async def _checkpoint(self, p: Pass, rotation: dict[str, Any]) -> None:
        old = dict(p.stored.get("rotation") or {})
        patch = merge_patch(old, rotation)
        if not patch:
            return
        for _ in range(5):
            try:
                written = await self.kube.patch_connector_status(
                    p.namespace, p.name, {"rotation": patch}, resource_version=p.resource_version
                )
                break
            except KubeError as exc:
                if not exc.conflict:
                    raise
            latest = await self.kube.get_connector(p.namespace, p.name)
            if latest is None or latest["metadata"].get("uid") != p.uid:
                raise KubeError(404, "NotFound", "the resource is gone", kind=api.KIND, name=p.name)
            if strip_none((latest.get("status") or {}).get("rotation") or {}) != old:
                raise KubeError(
                    409,
                    "StaleJournal",
                    "the rotation journal changed since this pass read it; the next pass goes on from it",
                    kind=api.KIND,
                    name=p.name,
                )
            p.resource_version = latest["metadata"].get("resourceVersion")
        else:
            raise KubeError(409, "Conflict", "the resource kept changing", kind=api.KIND, name=p.name)
        p.resource_version = (written.get("metadata") or {}).get("resourceVersion") or p.resource_version
        self.written[f"{p.namespace}/{p.name}"] = p.resource_version or ""
        before = dict(p.stored)
        p.stored["rotation"] = rotation
        self._count_rotations(p, before, p.stored)

    async def publish(self, p: Pass, outcome: Outcome, logger: Logger) -> None:
        """Write the pass's final status if it changed, move the metrics, post the pass's Events."""
        new = dump(outcome.status)
        conditions = new.get("conditions")
        metrics.observe_status(p.namespace, p.name, new)
        checked = new.get("lastCheckTime")
        if checked and checked != p.stored.get("lastCheckTime"):
            healthy = all(
                (c := cond.find(conditions, t)) is None or c["status"] == "True"
                for t in (cond.CREDENTIALS_VALID, cond.CELIGO_REACHABLE)
            )
            metrics.health_checked(p.namespace, p.name, healthy)
        transitions = transition_events(p.stored.get("conditions"), conditions or [])
        patch = status_to_write(p.stored, new, self.config.status_refresh)
        # The Events go out together with the status write and the pass ends once both are stored: a reader
        # who sees the new status finds no writes still to come (a failed write is retried by the next pass,
        # which may post a transition again: at least once, never lost).
        events = self.post(p.body, [*outcome.events, *transitions], logger)
        if patch is None:
            await events
            return
        results = await asyncio.gather(events, self._write(p, new), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def post(self, body: Mapping[str, Any], events: Sequence[Event], logger: Logger) -> None:
        """Post Events about the resource (transitions and actions only; messages carry no secrets), all at
        once, and return when they are stored."""

        async def one(event: Event) -> None:
            logger.info("%s: %s", event.reason, event.message)
            try:
                await self.kube.create_event(body, event.type, event.reason, event.message, EVENT_COMPONENT)
            except KubeError as exc:  # an Event is a courtesy: never fail the pass for one
                logger.warning("posting Event %s failed: %s", event.reason, exc.reason)

        await asyncio.gather(*(one(e) for e in events))

    async def _write(self, p: Pass, new: dict[str, Any]) -> None:
        """The final status: the whole pass was computed from a fresh read, so on a conflict it is written
        over what is stored now (re-diffed), unless a checkpoint of another pass moved the journal."""
        for _ in range(5):
            patch = merge_patch(p.stored, new)
            if not patch:
                return
            try:
                written = await self.kube.patch_connector_status(
                    p.namespace, p.name, patch, resource_version=p.resource_version
                )
                break
            except KubeError as exc:
                if not exc.conflict:
                    raise
            latest = await self.kube.get_connector(p.namespace, p.name)
            if latest is None or latest["metadata"].get("uid") != p.uid:
                return
            stored = strip_none(dict(latest.get("status") or {}))
            if stored.get("rotation") != p.stored.get("rotation"):
                log.info("%s/%s: the journal moved under this pass; the next pass writes", p.namespace, p.name)
                return
            p.stored, p.resource_version = stored, latest["metadata"].get("resourceVersion")
        else:
            return
        p.resource_version = (written.get("metadata") or {}).get("resourceVersion") or p.resource_version
        self.written[f"{p.namespace}/{p.name}"] = p.resource_version or ""
        before, p.stored = p.stored, new
        self._count_rotations(p, before, new)

    @staticmethod
    def _count_rotations(p: Pass, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        for ok, when in rotations_finished(old, new):
            metrics.rotated(p.namespace, p.name, ok, cond.parse_time(when) if when else None)
