"""SIGKILL the operator at every step of every rotation flow; after a restart exactly one live, working
credential is in the connector Secret and none is lost.

The fake holds the request that follows each step (the step is already in status by then), so the kill lands
exactly there. The parameter list is derived from the rotation enum; a step without a kill point fails.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from celigo_operator.conductorone.auth import TOKEN_PATH
from celigo_operator.conductorone.client import ROTATE_PATH
from celigo_operator.rotation import FLOW_STEPS, Flow, Step
from celigo_testkit.fake_celigo import Fault
from celigo_testkit.fake_conductorone import Fault as C1Fault
from e2e.test_rotation_support import (
    Setup,
    connector_values,
    live_c1_credentials,
    rotate_now,
    rotating_connector,
    rotation,
    wait_idle,
)

from support.world import World, world

ENV = {
    "CELIGO_OPERATOR_CELIGO_TIMEOUT": "1",
    "CELIGO_OPERATOR_ROTATION_BACKOFF_BASE": "1",
    "CELIGO_OPERATOR_ROTATION_BACKOFF_MAX": "2",
}
_restarts = itertools.count()


def _c1_base(s: Setup) -> str:
    return f"/api/v1/apps/{s.app}/connectors/{s.connector}/credentials"


#: The request each step is followed by, as a fault that holds it until `gate` is set.
KILL_POINTS: dict[tuple[Flow, Step], Callable[[Setup, threading.Event], Any]] = {
    (Flow.CONDUCTORONE, Step.REQUESTING): lambda s, g: C1Fault(path_prefix=ROTATE_PATH, method="POST", hold=g),
    (Flow.CONDUCTORONE, Step.STORED): lambda s, g: C1Fault(
        path_prefix=TOKEN_PATH, method="POST", client_kind="connector", hold=g
    ),
    (Flow.CONDUCTORONE, Step.ROLLING_OUT): lambda s, g: C1Fault(
        path_prefix=f"{_c1_base(s)}/{s.initial_credential}", method="GET", hold=g
    ),
    (Flow.CONDUCTORONE, Step.REVOKING): lambda s, g: C1Fault(
        path_prefix=f"{_c1_base(s)}/{s.initial_credential}", method="POST", hold=g
    ),
    (Flow.CELIGO, Step.REQUESTING): lambda s, g: Fault(path_prefix="/v1/accesstokens", method="POST", gate=g),
    (Flow.CELIGO, Step.STORED): lambda s, g: Fault(
        path_prefix="/v1/tokenInfo", gate=g, match_token=lambda t, old=s.token: t != old
    ),
    (Flow.CELIGO, Step.ROLLING_OUT): lambda s, g: Fault(
        path_prefix=f"/v1/accesstokens/{s.token_id}", method="GET", gate=g
    ),
    (Flow.CELIGO, Step.REVOKING): lambda s, g: Fault(
        path_prefix=f"/v1/accesstokens/{s.token_id}", method="PUT", gate=g
    ),
}
CASES = [(flow, step) for flow, steps in FLOW_STEPS.items() for step in steps]


def test_every_step_of_every_flow_has_a_kill_point() -> None:
    assert set(FLOW_STEPS) == set(Flow)
    assert {step for steps in FLOW_STEPS.values() for step in steps} == set(Step) - {Step.IDLE}
    assert set(KILL_POINTS) == set(CASES), "a rotation step has no kill test"


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-rot-kill")), **ENV) as w:
        yield w


@pytest.fixture(autouse=True)
def _clear_faults(w: World) -> Iterator[None]:
    yield
    w.celigo.clear_faults()
    w.c1.clear_faults()
    if w.operator is None or not w.operator.running:
        w.start_operator(log_name=f"operator-{next(_restarts)}.log", **ENV)


def _inject(w: World, flow: Flow, fault: Any) -> Any:
    return w.c1.inject(fault) if flow is Flow.CONDUCTORONE else w.celigo.inject(fault)


@pytest.mark.parametrize(("flow", "step"), CASES, ids=[f"{f.value}-{s.value}" for f, s in CASES])
def test_kill_at_step(w: World, flow: Flow, step: Step) -> None:
    s = rotating_connector(w, c1=flow is Flow.CONDUCTORONE, celigo=flow is Flow.CELIGO)
    gate = threading.Event()
    fault = _inject(w, flow, KILL_POINTS[(flow, step)](s, gate))
    value = rotate_now(w, s.ns)
    try:
        assert fault.arrived.wait(30), f"the request after {step} never came\n{w.log_tail()}"
        rot = rotation(w, s.ns)
        assert (rot["flow"], rot["step"]) == (flow.value, step.value), rot  # persisted before the request
        assert w.operator is not None
        w.operator.kill()
    finally:
        gate.set()  # the held request now completes on the server, as if its answer was lost on the way
    w.start_operator(log_name=f"operator-{next(_restarts)}.log", **ENV)
    key = "conductorOne" if flow is Flow.CONDUCTORONE else "celigo"
    rot = wait_idle(w, s.ns, value, key)
    values = connector_values(w, s.ns)
    current = rot[key]["current"]
    if flow is Flow.CONDUCTORONE:
        client = values["BATON_CLIENT_ID"]
        assert w.c1.is_valid_client(client), "the pods' credential must work"
        assert not w.c1.is_valid_client(s.initial_client), "the old credential is revoked"
        live = {c["clientId"]: c["id"] for c in live_c1_credentials(w, s)}
        assert live.get(client) == current["id"]
        orphans = set(live) - {client}
        if step is Step.REQUESTING:
            # The rotate whose answer died with the operator may have minted a credential nobody can use:
            # reported, never silently lost track of.
            assert len(orphans) <= 1
            assert any(e["reason"] == "RotationOutcomeUnknown" for e in w.events(s.ns))
        else:
            assert orphans == set()
        stored = w.core.read_namespaced_secret(current["secretName"], s.ns).data
        assert set(stored) == {"BATON_CLIENT_ID", "BATON_CLIENT_SECRET"}
    else:
        token = values["BATON_CELIGO_ACCESS_TOKEN"]
        account = w.celigo.account("us")
        record = w.celigo.token_record(token)
        assert not record["revoked"] and record["_id"] == current["id"]
        assert w.celigo.token_record(s.token)["revoked"], "the old token is revoked"
        ours = [
            r for r in account.access_tokens.values()
            if (r["name"] or "").startswith(f"celigo-operator {s.ns}/") and not r["revoked"]
        ]
        assert [r["_id"] for r in ours] == [current["id"]], "exactly one live token made by the operator"
    assert values["BATON_CLIENT_ID"] and values["BATON_CELIGO_ACCESS_TOKEN"]
    w.wait_ready(s.ns, timeout=30)
