"""Why a Deployment differs, and the wave gate for operator upgrades (pure)."""

from __future__ import annotations

from celigo_operator.waves import ANNOTATION_INPUTS, ANNOTATION_TEMPLATE, WaveGate, classify, digest


def recorded(inputs: str = "i1", template: str = "t1") -> dict[str, str]:
    return {ANNOTATION_INPUTS: inputs, ANNOTATION_TEMPLATE: template}


def test_classify() -> None:
    assert classify(recorded(), "i1", "t1", matches=True) == "none"
    assert classify(recorded(), "i2", "t2", matches=False) == "user"
    assert classify(recorded(), "i1", "t1", matches=False) == "drift"
    assert classify(recorded(), "i1", "t2", matches=False) == "operator"
    assert classify({}, "i1", "t1", matches=False) == "operator"
    assert classify(None, "i1", "t1", matches=True) == "none"


def test_digest_is_order_independent_and_short() -> None:
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2}) and len(digest({})) == 16


def test_gate_limits_concurrency_and_halts_on_failure() -> None:
    gate = WaveGate(size=2, stall_after=10)
    assert gate.may_start("a") and gate.may_start("b")
    gate.start("a", now=0)
    gate.start("b", now=0)
    assert not gate.may_start("c") and gate.may_start("a")
    gate.finished("a")
    assert gate.may_start("c")
    assert not gate.stalled("b", now=5) and gate.stalled("b", now=10)
    gate.halt("b", "ns/b")
    assert not gate.may_start("c") and gate.may_start("b")
    assert "halted by ns/b" in gate.position()
    gate.finished("b")
    assert gate.may_start("c") and not gate.halted_by
