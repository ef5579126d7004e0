"""Condition bookkeeping following the Kubernetes API conventions (pure).

Each condition keeps its lastTransitionTime until its status changes and carries the generation it was
computed for; Ready summarises the conditions that apply, taking the first failing one's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]

READY = "Ready"
CREDENTIALS_VALID = "CredentialsValid"
RECONCILED = "Reconciled"
CELIGO_REACHABLE = "CeligoReachable"
CONNECTOR_AVAILABLE = "ConnectorAvailable"
SYNCED = "Synced"
ROTATION = "Rotation"
CREDENTIALS_EXPIRING = "CredentialsExpiring"
OPERATOR_UPGRADE = "OperatorUpgrade"

#: The conditions Ready summarises, in the order their reason wins. Rotation, expiry and a pending operator
#: upgrade never change Ready.
READY_INPUTS = (CREDENTIALS_VALID, RECONCILED, CELIGO_REACHABLE, CONNECTOR_AVAILABLE, SYNCED)
#: Display order of every condition type.
ORDER = (READY, *READY_INPUTS, ROTATION, CREDENTIALS_EXPIRING, OPERATOR_UPGRADE)


def utcnow() -> str:
    """RFC 3339 UTC time to the second, as Kubernetes writes it."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    """RFC 3339 (Time or MicroTime, Z or an offset) as an aware datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Cond:
    """A condition as computed by one reconcile, before bookkeeping."""

    type: str
    status: Status
    reason: str
    message: str = ""

    @classmethod
    def true(cls, type_: str, reason: str, message: str = "") -> Cond:
        return cls(type_, "True", reason, message)

    @classmethod
    def false(cls, type_: str, reason: str, message: str = "") -> Cond:
        return cls(type_, "False", reason, message)

    @classmethod
    def unknown(cls, type_: str, reason: str, message: str = "") -> Cond:
        return cls(type_, "Unknown", reason, message)


def ready(conds: Mapping[str, Cond]) -> Cond:
    """Ready is True when every applicable input is True; otherwise the first failing input explains it."""
    for type_ in READY_INPUTS:
        cond = conds.get(type_)
        if cond is not None and cond.status != "True":
            status: Status = "False" if cond.status == "False" else "Unknown"
            return Cond(READY, status, cond.reason, cond.message)
    return Cond.true(READY, "Ready", "The connector is running with valid credentials.")


def merge(
    existing: Sequence[Mapping[str, Any]] | None,
    computed: Iterable[Cond],
    generation: int | None,
    now: str,
    drop: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """New condition list: computed conditions replace their type, others are kept unless dropped.

    lastTransitionTime changes only when the status changes.
    """
    old = {c["type"]: dict(c) for c in existing or []}
    result = {t: c for t, c in old.items() if t not in set(drop)}
    for cond in computed:
        previous = old.get(cond.type)
        changed = previous is None or previous.get("status") != cond.status
        entry: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": now
            if changed or previous is None
            else previous.get("lastTransitionTime", now),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        result[cond.type] = entry
    rank = {t: i for i, t in enumerate(ORDER)}
    return sorted(result.values(), key=lambda c: (rank.get(c["type"], len(rank)), c["type"]))


def transitions(
    existing: Sequence[Mapping[str, Any]] | None, updated: Sequence[Mapping[str, Any]]
) -> list[tuple[dict[str, Any], Mapping[str, Any] | None]]:
    """(new, old) pairs whose status or reason changed: the only moments worth an Event."""
    old = {c["type"]: c for c in existing or []}
    changes = []
    for cond in updated:
        before = old.get(cond["type"])
        if before is None or before.get("status") != cond["status"] or before.get("reason") != cond["reason"]:
            changes.append((dict(cond), before))
    return changes


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)
