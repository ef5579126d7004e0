"""An update the API server refuses (422 on the Deployment replace) leaves the running Deployment running, and
every retry of the pass still sees it: ConnectorAvailable stays Available, never "NotDeployed ... does not
exist" (the refused write used to drop the Deployment from the operator's cache, and the retries then
observed no Deployment).

The cluster and the fakes are real HTTP (the emulator, or the real control plane with CELIGO_TEST_KUBE=real)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_testkit.harness import wait_for

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-apply-failed"))) as w:
        yield w


def test_a_refused_update_keeps_observing_the_running_deployment(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    w.wait_ready(ns, timeout=120)
    before = w.deployment(ns)
    assert before is not None
    name = before["metadata"]["name"]

    mark = len(w.emu.request_log)
    # Accepted by the CRD schema and the pod policy, refused by the API server's Deployment validation (a
    # container resource must be a standard one or a qualified extended resource name).
    w.patch_spec(ns, "celigo", {"resources": {"limits": {"gpu": "1"}}})
    w.wait_condition(ns, "celigo", "Reconciled", "False", "ApplyFailed", timeout=120)

    def tries() -> int:  # the operator's Deployment writes (a replace, or a create where it saw none)
        return sum(
            1
            for r in w.writes_since(mark)
            if r.resource == "deployments"
            and r.namespace == ns
            and r.verb in ("create", "update")
            and "celigo-operator" in r.user_agent
        )

    # ApplyFailed is retried with backoff; by the third try the second pass's status is written.
    wait_for(lambda: tries() >= 3, 120, what="three passes tried the refused update")
    available = w.condition(ns, "celigo", "ConnectorAvailable")
    assert available is not None
    assert (available["status"], available["reason"]) == ("True", "Available"), available
    assert (w.get(ns)["status"].get("connector") or {}).get("deployment") == name
    after = w.deployment(ns)
    assert (
        after is not None and after["metadata"]["generation"] == before["metadata"]["generation"]
    )  # nothing rolled
