"""The event-driven controller (issue 15): no kopf timers, no polling, no finalizer unless the operator holds
a ConductorOne credential, a source Secret change rolled from its watch event.

The operator runs with a one-hour tick interval: nothing here may depend on a periodic re-read. Deadlines are
generous and only bound how long a test waits; speed is the benchmark's business, not these tests'.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from celigo_testkit.fake_celigo import Fault
from celigo_testkit.harness import wait_for
from e2e.test_rotation_support import connector_values

from support.world import World, world

NO_TICKS = {"CELIGO_OPERATOR_TICK_INTERVAL": "3600"}


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-events")), CELIGO_OPERATOR_CELIGO_TIMEOUT="1", **NO_TICKS) as w:
        yield w


def ours(w: World, mark: int) -> list[Any]:
    """The operator's requests since `mark`, without its long-running watches and Lease renewals."""
    return [
        r
        for r in w.emu.request_log[mark:]
        if ("celigo-operator" in r.user_agent or r.user_agent.startswith("kopf"))
        and r.verb != "watch"
        and r.resource != "leases"
    ]


def quiet(w: World, settle: float = 2.0, timeout: float = 60.0) -> None:
    """Wait until the operator has sent nothing for `settle` seconds (what is still in flight finishes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mark = len(w.emu.request_log)
        time.sleep(settle)
        if not ours(w, mark):
            return
    raise AssertionError("the operator never went quiet")


def template_version(w: World, ns: str) -> str | None:
    dep = w.deployment(ns)
    return None if dep is None else dep["spec"]["template"]["metadata"]["annotations"].get(
        "celigo-operator.io/credentials-version"
    )


def ready_connector(w: World, **spec: Any) -> tuple[str, dict]:
    ns = w.namespace("ev")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, **spec)
    return ns, w.wait_ready(ns, timeout=60)


def test_a_connector_carries_no_finalizer(w: World) -> None:
    _ns, obj = ready_connector(w)
    assert not obj["metadata"].get("finalizers"), obj["metadata"].get("finalizers")


def test_a_source_secret_change_reaches_the_pod_template_from_its_watch_event(w: World) -> None:
    ns, obj = ready_connector(w)
    before = obj["status"]["credentials"]["version"]
    assert template_version(w, ns) == before
    w.put_secret(ns, w.credentials())
    # A one-hour tick: only the Secret's watch event can bring this about.
    wait_for(lambda: template_version(w, ns) not in (None, before), 60, what="pod template on the new credentials")
    wait_for(lambda: w.get(ns)["status"]["credentials"]["version"] == template_version(w, ns), 60, what="status")


def test_a_change_whose_first_check_fails_is_retried_and_rolled_once(w: World) -> None:
    ns, _obj = ready_connector(w)
    dep_name = w.deployment(ns)["metadata"]["name"]
    new = w.credentials()
    token = new["BATON_CELIGO_ACCESS_TOKEN"]
    # Enough failures to outlast the client's own retries: the first check of the new set fails.
    fault = w.celigo.inject(Fault(path_prefix="/v1/tokenInfo", status=503, times=4, match_token=lambda t: t == token))
    mark = len(w.emu.request_log)
    w.put_secret(ns, new)
    wait_for(lambda: connector_values(w, ns)["BATON_CELIGO_ACCESS_TOKEN"] == token, 60, what="rolled after the retry")
    w.wait_ready(ns, timeout=60)
    assert fault.hits == 4, "the first check failed"
    updates = [r for r in w.emu.request_log[mark:] if r.verb == "update" and r.resource == "deployments"]
    assert [r.name for r in updates] == [dep_name], "rolled exactly once"
    reasons = [e.get("reason") for e in sorted(w.events(ns), key=lambda e: e.get("eventTime") or "")]
    assert "VerificationPending" in reasons, reasons
    # In order: the set was verified (pending, then valid) before the Deployment was updated.
    assert reasons.index("VerificationPending") < len(reasons) - 1


def test_pods_kept_pending_are_not_polled(w: World) -> None:
    ns = w.namespace("ev")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, nodeSelector={"celigo-operator.io/test-no-such-node": "true"})
    w.wait_condition(ns, "celigo", "ConnectorAvailable", "False", "Progressing", timeout=60)

    def unschedulable() -> bool:  # the scheduler's verdict: the pod's last change until the 600 s deadline
        return any(
            c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
            for pod in w.pods(ns) for c in (pod.get("status") or {}).get("conditions") or []
        )

    wait_for(unschedulable, 60, what="the pod Pending as Unschedulable")
    quiet(w)
    mark = len(w.emu.request_log)
    time.sleep(8)  # the old operator re-read every Progressing connector every 2 s
    sent = ours(w, mark)
    assert sent == [], Counter((r.verb, r.resource) for r in sent)
    assert w.condition(ns, "celigo", "ConnectorAvailable")["reason"] == "Progressing"


def test_idle_connectors_cost_no_requests(w: World) -> None:
    ns = w.namespace("ev")
    w.put_secret(ns, w.credentials())
    for i in range(5):
        w.create_connector(ns, f"c{i}")
    for i in range(5):
        w.wait_ready(ns, f"c{i}", timeout=60)
    quiet(w)
    mark = len(w.emu.request_log)
    time.sleep(10)
    sent = ours(w, mark)
    assert sent == [], Counter((r.verb, r.resource) for r in sent)
