"""The scheduler step of the simulated workload: simulated nodes (labels, taints, allocatable resources), pods
that fit none of them staying Pending with kube-scheduler's condition and message, and scheduling once a node
fits (a node added, or resources freed). By default there is one roomy node that fits everything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from celigo_testkit.kube import KubeEmulator
from celigo_testkit.kube.types import SimNode

from .conftest import deployment, fast_settings, wait_for

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
AFFINITY_MSG = (
    "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are"
    " available: 1 Preemption is not helpful for scheduling."
)


@pytest.fixture
def small() -> Iterator[KubeEmulator]:
    """One node with 1 cpu and 1Gi, a taint-free worker labelled pool=general."""
    node = SimNode(
        name="worker-1", labels={"pool": "general"}, allocatable={"cpu": "1", "memory": "1Gi", "pods": "110"}
    )
    with KubeEmulator(settings=fast_settings(nodes=[node])) as e:
        yield e


@pytest.fixture
def sapi(small: KubeEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=small.url, headers={"Authorization": f"Bearer {small.token}"}, timeout=10
    ) as c:
        yield c


def pod(name: str, cpu: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def scheduled(api: httpx.Client, name: str) -> dict | None:
    p = api.get(f"{PODS}/{name}").json()
    conds = {c["type"]: c for c in (p.get("status") or {}).get("conditions") or []}
    return p if conds.get("PodScheduled", {}).get("status") == "True" else None


def unschedulable(api: httpx.Client, name: str) -> dict | None:
    p = api.get(f"{PODS}/{name}").json()
    conds = {c["type"]: c for c in (p.get("status") or {}).get("conditions") or []}
    c = conds.get("PodScheduled") or {}
    return c if c.get("reason") == "Unschedulable" else None


def test_default_node_fits_everything(api: httpx.Client, emu: KubeEmulator) -> None:
    big = pod("big", cpu="64", nodeSelector={"kubernetes.io/os": "linux"})
    api.post(PODS, json=big)
    p = wait_for(lambda: scheduled(api, "big"))
    assert p["spec"]["nodeName"] == "emulated-node"
    assert p["metadata"]["generation"] == 1  # binding is not a spec update
    assert p["status"]["hostIP"] == "10.0.0.10"
    assert [n.name for n in emu.workload.nodes] == ["emulated-node"]


def test_node_selector_that_no_node_matches_stays_pending(sapi: httpx.Client, small: KubeEmulator) -> None:
    sapi.post(DEPLOYS, json=_with_selector({"disk": "ssd"}))
    pods = wait_for(lambda: sapi.get(PODS, params={"labelSelector": "app=nofit"}).json()["items"])
    name = pods[0]["metadata"]["name"]
    cond = wait_for(lambda: unschedulable(sapi, name))
    assert cond == {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": cond["lastTransitionTime"],
        "reason": "Unschedulable",
        "message": AFFINITY_MSG,
    }
    p = sapi.get(f"{PODS}/{name}").json()
    assert (
        p["status"]["phase"] == "Pending" and "nodeName" not in p["spec"] and "startTime" not in p["status"]
    )
    events = sapi.get(
        "/api/v1/namespaces/default/events", params={"fieldSelector": f"involvedObject.name={name}"}
    )
    failed = [e for e in events.json()["items"] if e["reason"] == "FailedScheduling"]
    assert failed and failed[0]["type"] == "Warning" and failed[0]["message"] == AFFINITY_MSG
    d = sapi.get(f"{DEPLOYS}/nofit").json()
    assert not (d.get("status") or {}).get("availableReplicas")

    small.workload.add_node(SimNode(name="worker-ssd", labels={"disk": "ssd"}, address="10.0.0.11"))
    p = wait_for(lambda: scheduled(sapi, name))
    assert p["spec"]["nodeName"] == "worker-ssd" and p["status"]["hostIP"] == "10.0.0.11"
    wait_for(lambda: (sapi.get(f"{DEPLOYS}/nofit").json().get("status") or {}).get("availableReplicas") == 1)


def _with_selector(selector: dict[str, str]) -> dict[str, Any]:
    d = deployment("nofit", replicas=1)
    d["spec"]["template"]["spec"]["nodeSelector"] = selector
    return d


def test_required_node_affinity(sapi: httpx.Client) -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["gpu"]}]}
                ]
            }
        }
    }
    sapi.post(PODS, json=pod("aff", affinity=affinity))
    assert wait_for(lambda: unschedulable(sapi, "aff"))["message"] == AFFINITY_MSG
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"
    ][0]["values"] = ["general"]
    sapi.post(PODS, json=pod("aff2", affinity=affinity))
    assert wait_for(lambda: scheduled(sapi, "aff2"))["spec"]["nodeName"] == "worker-1"


def test_insufficient_cpu_until_resources_are_freed(sapi: httpx.Client) -> None:
    sapi.post(PODS, json=pod("first", cpu="600m"))
    wait_for(lambda: scheduled(sapi, "first"))
    sapi.post(PODS, json=pod("second", cpu="600m"))
    cond = wait_for(lambda: unschedulable(sapi, "second"))
    assert cond["message"] == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption"
        " victims found for incoming pod."
    )
    sapi.post(PODS, json=pod("small", cpu="300m"))  # what is left still fits a smaller pod
    wait_for(lambda: scheduled(sapi, "small"))
    sapi.delete(f"{PODS}/first")
    assert wait_for(lambda: scheduled(sapi, "second"))["spec"]["nodeName"] == "worker-1"


def test_insufficient_memory_and_too_many_pods(small: KubeEmulator, sapi: httpx.Client) -> None:
    body = pod("mem")
    body["spec"]["containers"][0]["resources"] = {"requests": {"memory": "2Gi"}}
    sapi.post(PODS, json=body)
    assert wait_for(lambda: unschedulable(sapi, "mem"))["message"].startswith(
        "0/1 nodes are available: 1 Insufficient memory."
    )
    small.workload.set_nodes([SimNode(name="tiny", allocatable={"cpu": "1", "memory": "8Gi", "pods": "1"})])
    wait_for(lambda: scheduled(sapi, "mem"))
    sapi.post(PODS, json=pod("more"))
    assert wait_for(lambda: unschedulable(sapi, "more"))["message"].startswith(
        "0/1 nodes are available: 1 Too many pods."
    )


def test_taints_need_tolerations(small: KubeEmulator, sapi: httpx.Client) -> None:
    small.workload.set_nodes(
        [SimNode(name="ops-1", taints=[{"key": "dedicated", "value": "ops", "effect": "NoSchedule"}])]
    )
    sapi.post(PODS, json=pod("plain"))
    assert wait_for(lambda: unschedulable(sapi, "plain"))["message"] == (
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: ops}. preemption: 0/1 nodes are"
        " available: 1 Preemption is not helpful for scheduling."
    )
    tolerant = pod(
        "tolerant",
        tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    )
    sapi.post(PODS, json=tolerant)
    assert wait_for(lambda: scheduled(sapi, "tolerant"))["spec"]["nodeName"] == "ops-1"


def test_several_nodes_count_their_reasons() -> None:
    nodes = [
        SimNode(name="a", labels={"pool": "x"}),
        SimNode(name="b", allocatable={"cpu": "1", "memory": "1Gi", "pods": "110"}),
        SimNode(name="c", allocatable={"cpu": "1", "memory": "1Gi", "pods": "110"}),
    ]
    with KubeEmulator(settings=fast_settings(nodes=nodes)) as e:
        with httpx.Client(base_url=e.url, headers={"Authorization": f"Bearer {e.token}"}, timeout=10) as c:
            c.post(PODS, json=pod("p", cpu="2", nodeSelector={"pool": "x"}))
            assert wait_for(lambda: scheduled(c, "p"))["spec"]["nodeName"] == "a"
            c.post(PODS, json=pod("r", cpu="2", nodeSelector={"pool": "y"}))
            assert wait_for(lambda: unschedulable(c, "r"))["message"] == (
                "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3"
                " nodes are available: 3 Preemption is not helpful for scheduling."
            )
            c.post(PODS, json=pod("s", cpu="5000", nodeSelector={"kubernetes.io/os": "linux"}))
            assert wait_for(lambda: unschedulable(c, "s"))["message"] == (
                "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No"
                " preemption victims found for incoming pod."
            )


def test_no_nodes_at_all() -> None:
    with KubeEmulator(settings=fast_settings(nodes=[])) as e:
        with httpx.Client(base_url=e.url, headers={"Authorization": f"Bearer {e.token}"}, timeout=10) as c:
            c.post(PODS, json=pod("p"))
            assert wait_for(lambda: unschedulable(c, "p"))["message"] == "no nodes available to schedule pods"
