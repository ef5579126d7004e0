"""Operator upgrades that change connector pod templates roll in waves, never all connectors at once.

Each connector Deployment records two hashes: what the user asked for (spec + credentials version) and the
pod template the operator built from it. Comparing them with what the operator would build now says why a
Deployment differs: the user changed something (roll now), somebody edited the live object (repair now), or
a new operator build makes a different template from the same inputs (an upgrade: wait for a wave slot).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from celigo_operator import api
from celigo_operator import conditions as cond
from celigo_operator.conditions import Cond
from celigo_operator.outcome import Event

ANNOTATION_INPUTS = f"{api.GROUP}/inputs-hash"
ANNOTATION_TEMPLATE = f"{api.GROUP}/template-hash"

Change = Literal["none", "user", "drift", "operator"]


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def classify(actual_annotations: Mapping[str, str] | None, inputs: str, template: str, matches: bool) -> Change:
    """Why the live Deployment differs from the desired one (pure)."""
    if matches:
        return "none"
    recorded = actual_annotations or {}
    if recorded.get(ANNOTATION_INPUTS) != inputs:
        # A Deployment from before these annotations existed has no record: an upgrade, to be safe.
        return "operator" if ANNOTATION_INPUTS not in recorded else "user"
    if recorded.get(ANNOTATION_TEMPLATE) == template:
        return "drift"
    return "operator"


@dataclass
class WaveGate:
    """At most `size` connectors roll for an operator upgrade at a time; a failed one halts the wave."""

    size: int = 2
    stall_after: float = 600.0  # a connector not available this long after its upgrade started stalls the wave
    rolling: dict[str, float] = field(default_factory=dict)
    halted_by: dict[str, str] = field(default_factory=dict)  # uid -> namespace/name
    waiting: dict[str, str] = field(default_factory=dict)  # uid -> namespace/name, refused a slot

    def wait(self, uid: str, who: str) -> None:
        """`uid` asked for a slot and got none: it is woken when one frees (no re-check on a timer)."""
        self.waiting[uid] = who

    def open(self) -> bool:
        """A waiting connector could start now."""
        return not self.halted_by and len(self.rolling) < max(1, self.size)

    def stall_deadline(self, uid: str) -> float | None:
        """When `uid`'s upgrade counts as stalled (monotonic), while it rolls."""
        started = self.rolling.get(uid)
        return None if started is None else started + self.stall_after

    def may_start(self, uid: str) -> bool:
        if uid in self.rolling:
            return True
        return not self.halted_by and len(self.rolling) < max(1, self.size)

    def start(self, uid: str, now: float | None = None) -> None:
        self.waiting.pop(uid, None)
        self.rolling.setdefault(uid, time.monotonic() if now is None else now)

    def finished(self, uid: str) -> None:
        """The connector is available on the new template: its slot frees, and a halt it caused lifts."""
        self.rolling.pop(uid, None)
        self.halted_by.pop(uid, None)

    def stalled(self, uid: str, now: float | None = None) -> bool:
        started = self.rolling.get(uid)
        return started is not None and (time.monotonic() if now is None else now) - started >= self.stall_after

    def halt(self, uid: str, who: str) -> None:
        self.halted_by[uid] = who

    def forget(self, uid: str) -> None:
        self.waiting.pop(uid, None)
        self.rolling.pop(uid, None)
        self.halted_by.pop(uid, None)

    def track(self, uid: str, who: str, available: Cond) -> tuple[Cond | None, Event | None]:
        """After a pass observed the connector (ConnectorAvailable): free its slot once the upgraded connector
        is available, halt the wave if it fails. Returns OperatorUpgrade (None: not rolling) and an Event."""
        if uid not in self.rolling:
            return None, None
        if available.status == "True" or available.reason == "ScaledToZero":
            self.finished(uid)
            return None, None
        failing = available.reason in ("CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError")
        if failing or self.stalled(uid):
            first = uid not in self.halted_by
            self.halt(uid, who)
            stalled = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Stalled",
                f"The new operator release does not become available here ({available.reason}): the upgrade wave "
                "is halted until this connector recovers.",
            )
            return stalled, Event("Warning", "UpgradeStalled", stalled.message) if first else None
        return Cond.false(cond.OPERATOR_UPGRADE, "Rolling", "Rolling to the new operator release."), None

    def position(self) -> str:
        if self.halted_by:
            return f"halted by {', '.join(sorted(self.halted_by.values()))}"
        return f"{len(self.rolling)}/{self.size} upgrade slots in use"
