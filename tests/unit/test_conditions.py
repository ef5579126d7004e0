"""Condition bookkeeping: API conventions, Ready as the summary, Events only on transitions."""

from __future__ import annotations

from celigo_operator import conditions as c
from celigo_operator.conditions import Cond


def test_ready_is_true_only_when_all_inputs_are_true() -> None:
    conds = {
        c.CREDENTIALS_VALID: Cond.true(c.CREDENTIALS_VALID, "Valid"),
        c.CONNECTOR_AVAILABLE: Cond.true(c.CONNECTOR_AVAILABLE, "Available"),
    }
    assert c.ready(conds).status == "True"
    conds[c.CONNECTOR_AVAILABLE] = Cond.false(c.CONNECTOR_AVAILABLE, "CrashLoopBackOff", "pod x")
    ready = c.ready(conds)
    assert (ready.status, ready.reason, ready.message) == ("False", "CrashLoopBackOff", "pod x")


def test_ready_takes_the_first_failing_input_in_order() -> None:
    conds = {
        c.CONNECTOR_AVAILABLE: Cond.false(c.CONNECTOR_AVAILABLE, "Progressing"),
        c.CREDENTIALS_VALID: Cond.false(c.CREDENTIALS_VALID, "SecretNotFound"),
    }
    assert c.ready(conds).reason == "SecretNotFound"


def test_rotation_and_expiry_never_change_ready() -> None:
    conds = {
        c.CREDENTIALS_VALID: Cond.true(c.CREDENTIALS_VALID, "Valid"),
        c.ROTATION: Cond.false(c.ROTATION, "RotationUnsupported"),
        c.CREDENTIALS_EXPIRING: Cond.true(c.CREDENTIALS_EXPIRING, "ExpiresSoon"),
    }
    assert c.ready(conds).status == "True"


def test_unknown_input_makes_ready_unknown() -> None:
    assert c.ready({c.CELIGO_REACHABLE: Cond.unknown(c.CELIGO_REACHABLE, "NotChecked")}).status == "Unknown"


def test_transition_time_moves_only_when_status_changes() -> None:
    first = c.merge(None, [Cond.false(c.READY, "A", "m")], 1, "2026-01-01T00:00:00Z")
    same = c.merge(first, [Cond.false(c.READY, "B", "n")], 2, "2026-01-02T00:00:00Z")
    assert same[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert same[0]["reason"] == "B" and same[0]["observedGeneration"] == 2
    flipped = c.merge(same, [Cond.true(c.READY, "Ready")], 2, "2026-01-03T00:00:00Z")
    assert flipped[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"


def test_merge_keeps_other_types_sorts_and_drops() -> None:
    existing = c.merge(None, [Cond.true(c.SYNCED, "SyncDone"), Cond.true(c.READY, "Ready")], 1, "t0")
    merged = c.merge(existing, [Cond.true(c.CREDENTIALS_VALID, "Valid")], 1, "t1")
    assert [x["type"] for x in merged] == [c.READY, c.CREDENTIALS_VALID, c.SYNCED]
    dropped = c.merge(merged, [], 1, "t2", drop=[c.SYNCED])
    assert [x["type"] for x in dropped] == [c.READY, c.CREDENTIALS_VALID]


def test_transitions_report_status_or_reason_changes_only() -> None:
    old = c.merge(None, [Cond.false(c.READY, "A")], 1, "t0")
    assert c.transitions(old, c.merge(old, [Cond.false(c.READY, "A", "other message")], 1, "t1")) == []
    changes = c.transitions(old, c.merge(old, [Cond.false(c.READY, "B")], 1, "t1"))
    assert [(new["reason"], prev["reason"]) for new, prev in changes] == [("B", "A")]
    assert len(c.transitions(None, old)) == 1
