"""The simulated workload controller does work per change, not per stored object (issue 14, "O(changes)").

These tests drive the controller by hand (`process(now)` with a made-up clock) on an emulator that is never
started, so they count work instead of timing it and do not depend on the machine's speed.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator

import pytest

from celigo_testkit.kube import EmulatorSettings, KubeEmulator, errors
from celigo_testkit.kube.core import WriteContext
from celigo_testkit.kube.store import Store
from celigo_testkit.kube.workload import DEPLOYMENTS, PODS, REPLICASETS, WorkloadController

from .conftest import deployment

N = 300
NS = "default"
CTX = WriteContext(manager="test")


@pytest.fixture
def idle() -> Iterator[KubeEmulator]:
    """An emulator whose loop never runs: the test calls the controller and the GC itself."""
    emu = KubeEmulator(settings=EmulatorSettings(rollout_delay=1.0, min_ready_seconds_scale=0.0))
    yield emu


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0


def settle(wl: WorkloadController, clock: Clock, *, limit: int = 10_000) -> None:
    """Run the controller until nothing is due before the rollout delay has passed (timers included)."""
    for _ in range(limit):
        due = wl.process(clock.now)
        if due is None or due > clock.now + 5.0:  # only far timers (progress deadlines) left
            return
        clock.now = max(clock.now, due)
    raise AssertionError("the workload controller did not settle")


def create(emu: KubeEmulator, resource: str, body: dict) -> dict:
    info = emu.server.core.registry.by_group_resource(resource)
    assert info is not None
    return emu.server.core.create(info, NS, body, CTX)


def available(emu: KubeEmulator, name: str) -> bool:
    dep = emu.server.store.get(DEPLOYMENTS, NS, name)
    return dep is not None and (dep.get("status") or {}).get("availableReplicas") == 1


def world(emu: KubeEmulator, clock: Clock, n: int) -> WorkloadController:
    wl = emu.workload
    for i in range(n):
        create(emu, "secrets", {"metadata": {"name": f"s{i:03d}"}, "stringData": {"k": "v"}})
        body = deployment(f"d{i:03d}", replicas=1)
        body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": f"s{i:03d}"}}]
        create(emu, DEPLOYMENTS, body)
    settle(wl, clock)
    assert all(available(emu, f"d{i:03d}") for i in range(n))
    return wl


def test_one_change_among_300_deployments_examines_a_bounded_number_of_objects(idle: KubeEmulator) -> None:
    clock = Clock()
    wl = world(idle, clock, N)
    assert len(idle.server.store.items(PODS, NS)) == N
    core = idle.server.core
    old = core.store.get(DEPLOYMENTS, NS, "d150")
    assert old is not None
    new = copy.deepcopy(old)
    new["spec"]["template"]["metadata"]["annotations"] = {"v": "2"}
    wl.examined = 0
    core.update(core.registry.by_group_resource(DEPLOYMENTS), old, new, CTX, None)  # type: ignore[arg-type]
    settle(wl, clock)
    core.collect_garbage()
    settle(wl, clock)
    pods = [p for p in idle.server.store.items(PODS, NS) if p["metadata"]["name"].startswith("d150-")]
    assert [p["metadata"]["annotations"] for p in pods] == [{"v": "2"}]  # rolled: the new pod only
    assert available(idle, "d150")
    # A rolling update of one Deployment (new ReplicaSet, surge pod, old one scaled down) touches a few
    # objects a few times each. Re-syncing the world would examine at least N Deployments per pass.
    assert 0 < wl.examined <= 120, wl.examined

    # A Secret change makes the kubelet recheck the pods that read it (CreateContainerConfigError), only them.
    wl.examined = 0
    create(idle, "configmaps", {"metadata": {"name": "unrelated"}, "data": {"a": "b"}})
    old = core.store.get("secrets", NS, "s007")
    assert old is not None
    new = copy.deepcopy(old)
    new["data"] = {"k": "dzI="}  # "w2"
    core.update(core.registry.by_group_resource("secrets"), old, new, CTX, None)  # type: ignore[arg-type]
    settle(wl, clock)
    assert 1 <= wl.examined <= 5, wl.examined


def test_a_failing_deployment_does_not_block_the_others_and_is_retried_with_backoff(
    idle: KubeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = idle.server.core
    real_create = core.create
    clock = Clock()
    refused_at: list[float] = []

    def create_refusing(info, namespace, body, ctx):  # type: ignore[no-untyped-def]
        name = body["metadata"].get("name", "")
        if info.group_resource == REPLICASETS and name.startswith("a-bad-") and len(refused_at) < 5:
            refused_at.append(clock.now)
            raise errors.ApiError(422, "Invalid", f'ReplicaSet.apps "{name}" is invalid')
        return real_create(info, namespace, body, ctx)

    monkeypatch.setattr(core, "create", create_refusing)
    wl = idle.workload
    create(idle, DEPLOYMENTS, deployment("a-bad", replicas=1))  # sorts first: the old full pass stopped here
    create(idle, DEPLOYMENTS, deployment("b-good", replicas=1))
    for _ in range(1000):
        if len(refused_at) >= 5 and available(idle, "b-good"):
            break
        due = wl.process(clock.now)
        assert due is not None
        clock.now = max(clock.now, due)
    assert available(idle, "b-good") and not available(idle, "a-bad")
    delays = [b - a for a, b in itertools.pairwise(refused_at)]
    assert delays == sorted(delays) and all(0 < d <= WorkloadController.BACKOFF_MAX for d in delays), delays
    settle(wl, clock)
    assert available(idle, "a-bad")  # the refusals stopped: the next retry rolls it out


def test_store_lists_a_namespace_and_an_owners_children_in_name_order() -> None:
    store = Store(history=10)
    owner = "uid-owner"
    for ns, name in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "x")]:
        refs = [{"uid": owner, "controller": True}] if name in ("z", "a", "x") else []
        store.put(
            "pods",
            {"metadata": {"namespace": ns, "name": name, "uid": f"u-{ns}-{name}", "ownerReferences": refs}},
        )
    assert [o["metadata"]["name"] for o in store.items("pods", "b")] == ["a", "z"]
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.items("pods")] == [
        ("a", "x"),
        ("a", "y"),
        ("b", "a"),
        ("b", "z"),
    ]
    assert [o["metadata"]["name"] for _, o in store.dependents(owner)] == ["x", "a", "z"]
    assert store.dangling_owners() == [owner]  # named, but no object has that uid
    store.put("deployments.apps", {"metadata": {"namespace": "a", "name": "o", "uid": owner}})
    assert store.dangling_owners() == []
    store.remove("pods", "b", "a")
    assert [o["metadata"]["name"] for _, o in store.dependents(owner)] == ["x", "z"]
    store.remove("deployments.apps", "a", "o")
    assert store.dangling_owners() == [owner]
    store.remove("pods", "a", "x")
    store.remove("pods", "b", "z")
    assert store.dangling_owners() == [] and store.dependents(owner) == []
    assert store.items("pods", "b") == []
