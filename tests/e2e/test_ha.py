"""Two operator replicas with leader election: exactly one acts; when it is SIGKILLed the other takes over,
reconciles what changed in the gap, and nothing is written twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

from celigo_testkit.harness import wait_for

from support.world import world

LEASE = {
    "CELIGO_OPERATOR_LEADER_ELECTION": "true",
    "CELIGO_OPERATOR_LEASE_DURATION": "3",
    "CELIGO_OPERATOR_LEASE_RENEW_DEADLINE": "2",
    "CELIGO_OPERATOR_LEASE_RETRY_PERIOD": "0.5",
}


def holder(w) -> str | None:
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    try:
        resp = k8s.CoordinationV1Api(w.api).read_namespaced_lease(
            "celigo-operator-leader", "celigo-operator", _preload_content=False
        )
    except ApiException:
        return None
    return json.loads(resp.data)["spec"].get("holderIdentity")


def test_one_leader_acts_and_the_other_takes_over(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False) as w:
        a = w.start_operator("a.log", CELIGO_OPERATOR_IDENTITY="replica-a", **LEASE)
        wait_for(lambda: holder(w) == "replica-a", 60, what="replica-a leads")
        b = w.start_operator("b.log", CELIGO_OPERATOR_IDENTITY="replica-b", **LEASE)
        try:
            ns = w.namespace()
            w.put_secret(ns, w.credentials())
            w.create_connector(ns)
            w.operator = a
            w.wait_ready(ns)
            wait_for(lambda: "waiting for Lease" in b.log(), 60, what="replica-b waits")
            assert "Created Deployment" in a.log() and "Created Deployment" not in b.log()

            mark = len(w.emu.request_log)
            a.kill()
            killed = time.monotonic()
            w.patch_spec(ns, "celigo", {"replicas": 2})  # a change made while nobody leads
            wait_for(lambda: holder(w) == "replica-b", 20, interval=0.05, what="replica-b takes over")
            takeover = time.monotonic() - killed
            w.operator = b
            wait_for(lambda: w.get(ns)["status"].get("observedGeneration") == 2, 60, what="gap change reconciled")
            w.wait_ready(ns)
            assert w.deployment(ns)["spec"]["replicas"] == 2
            # Bounded takeover: lease duration (3 s) + retry period (0.5 s), plus scheduling slack.
            assert takeover < 3 + 0.5 + 2.0, takeover
            deployment_writes = [
                r for r in w.writes_since(mark) if r.resource == "deployments" and r.name.startswith("celigo-baton")
                and "celigo-operator" in r.user_agent
            ]
            assert [r.verb for r in deployment_writes] == ["update"], [(r.verb, r.name) for r in deployment_writes]
            creates = [r for r in w.emu.request_log if r.verb == "create" and r.resource == "deployments"]
            assert len(creates) == 1
            print(f"takeover after SIGKILL: {takeover:.2f}s")
        finally:
            a.kill()
            b.stop()


def test_clean_shutdown_hands_over_at_once(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False) as w:
        a = w.start_operator("a.log", CELIGO_OPERATOR_IDENTITY="replica-a", **LEASE)
        wait_for(lambda: holder(w) == "replica-a", 60, what="replica-a leads")
        b = w.start_operator("b.log", CELIGO_OPERATOR_IDENTITY="replica-b", **LEASE)
        try:
            wait_for(lambda: "waiting for Lease" in b.log(), 60, what="replica-b waits")
            a.stop()
            wait_for(lambda: holder(w) == "replica-b", 5, what="released lease taken at once")
        finally:
            a.kill()
            b.stop()
