"""What converging costs the API server (issue 15): at most 8 requests per CeligoConnector, all verbs and
Events included, counted in the API server's request log (the emulator's, or the real server's audit log).
Reads of what the operator watches (the connector, its Deployment and pods, the source Secret) come from
its caches; Events are posted once per transition, however many conditions moved together."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from celigo_testkit.harness import wait_for
from e2e.test_events_controller import ours, quiet

from support.world import World, world

BUDGET = 8


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-budget")), CELIGO_OPERATOR_TICK_INTERVAL="3600") as w:
        yield w


def by_verb(requests: list[Any], n: int) -> dict[str, float]:
    counts = Counter(f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}" for r in requests)
    return {k: round(v / n, 2) for k, v in sorted(counts.items())}


def test_converging_costs_at_most_eight_requests_per_resource(w: World) -> None:
    n = 6
    ns = w.namespace("budget")
    w.put_secret(ns, w.credentials())
    quiet(w)
    mark = len(w.emu.request_log)
    for i in range(n):
        w.create_connector(ns, f"c{i}")
    for i in range(n):
        w.wait_ready(ns, f"c{i}", timeout=60)
    for i in range(n):  # converged: the first deployment's clean-up is recorded too
        w.wait_condition(ns, f"c{i}", "Ready", "True", timeout=60)
    quiet(w)
    sent = [r for r in ours(w, mark) if r.namespace == ns]
    print(f"\nrequests per resource to converge: {len(sent) / n:.2f} {by_verb(sent, n)}")
    assert len(sent) / n <= BUDGET, by_verb(sent, n)
    # Nothing but the connector's own writes and children: no read of what the operator watches.
    reads = [r for r in sent if r.verb in ("get", "list")]
    assert not reads, by_verb(reads, n)


def test_events_are_one_per_transition(w: World) -> None:
    ns = w.namespace("budget")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    w.wait_ready(ns, timeout=60)
    quiet(w)
    reasons = sorted(e.get("reason") for e in w.events(ns))
    # The Deployment created; Ready (the rollout in progress in between is not news).
    assert reasons == ["Created", "Ready"], reasons


def test_a_credentials_secret_not_read_every_pass_is_still_recreated_when_a_pod_needs_it(w: World) -> None:
    ns = w.namespace("budget")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    secret = w.wait_ready(ns, timeout=60)["status"]["credentials"]["secretName"]
    w.core.delete_namespaced_secret(secret, ns)
    for pod in w.pods(ns):  # a new pod cannot start without it (CreateContainerConfigError)
        w.core.delete_namespaced_pod(pod["metadata"]["name"], ns)
    wait_for(lambda: [s for s in w.owned_secrets(ns) if s["metadata"]["name"] == secret], 60, what="secret restored")
    w.wait_condition(ns, "celigo", "ConnectorAvailable", "True", timeout=60)
    w.wait_ready(ns, timeout=60)
