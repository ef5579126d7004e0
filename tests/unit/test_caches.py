"""The watch-fed caches: newer resourceVersions win whichever path brought them, DELETED drops, a miss goes
to the API, hits are copies, and managedFields (and a Deployment's status conditions) are not kept."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes import client as k8s

from celigo_operator import manifests
from celigo_operator.caches import CONNECTORS, DEPLOYMENTS, PODS, SECRETS, CachedKube, slim


def obj(name: str, rv: str, uid: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv, **extra}}


def kube() -> CachedKube:
    return CachedKube(k8s.ApiClient(k8s.Configuration()), workers=1)


def test_newer_wins_and_deleted_drops() -> None:
    k = kube()
    k.observe(DEPLOYMENTS, None, obj("d", "5"))
    k.observe(DEPLOYMENTS, "MODIFIED", obj("d", "4"))  # older: ignored
    assert k.peek(DEPLOYMENTS, "ns", "d")["metadata"]["resourceVersion"] == "5"
    k.observe(DEPLOYMENTS, "MODIFIED", obj("d", "7"))
    assert k.peek(DEPLOYMENTS, "ns", "d")["metadata"]["resourceVersion"] == "7"
    k.observe(DEPLOYMENTS, "ADDED", obj("d", "2", uid="u2"))  # a new object of the same name
    assert k.peek(DEPLOYMENTS, "ns", "d")["metadata"]["uid"] == "u2"
    k.observe(DEPLOYMENTS, "DELETED", obj("d", "8", uid="u2"))
    assert "ns/d" not in k.store[DEPLOYMENTS]
    k.close()


def test_hits_are_copies_and_misses_go_to_the_api() -> None:
    k = kube()
    calls: list[str] = []

    async def from_api(self: Any, namespace: str, name: str) -> dict | None:
        calls.append(name)
        return None

    k.observe(SECRETS, None, obj("s", "1", labels={"celigo-operator.io/credentials": "true"}))
    hit = asyncio.run(k.get_secret("ns", "s"))
    assert hit is not None
    hit["metadata"]["name"] = "changed"
    assert k.peek(SECRETS, "ns", "s")["metadata"]["name"] == "s"
    import celigo_operator.kube as kube_module

    original = kube_module.Kube.get_secret
    kube_module.Kube.get_secret = from_api  # type: ignore[method-assign]
    try:
        assert asyncio.run(k.get_secret("ns", "other")) is None
    finally:
        kube_module.Kube.get_secret = original  # type: ignore[method-assign]
    assert calls == ["other"]
    assert k.hits[SECRETS] == 1
    k.close()


def test_slim_drops_managed_fields_and_last_applied() -> None:
    body = obj(
        "d",
        "1",
        managedFields=[{"manager": "x"}],
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "1"},
    )
    out = slim(body)
    assert "managedFields" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"keep": "1"}
    assert "managedFields" in body["metadata"], "the input is not changed"


def test_pods_are_kept_slim_and_found_by_labels_without_a_request() -> None:
    k = kube()
    k.synced = True
    labels = {"app.kubernetes.io/name": "baton-celigo", "app.kubernetes.io/instance": "a-baton-celigo"}
    waiting = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3, "name": "c", "image": "x"}
    pod = obj("p1", "3", labels=labels, managedFields=[{"m": 1}])
    pod["spec"] = {"containers": [{"name": "c", "env": [{"name": "X", "value": "big"}]}]}
    pod["status"] = {"phase": "Running", "containerStatuses": [waiting]}
    k.observe(PODS, "ADDED", pod)
    k.observe(PODS, None, obj("p2", "4", labels={**labels, "app.kubernetes.io/instance": "other"}))
    found = asyncio.run(k.list_pods("ns", "app.kubernetes.io/name=baton-celigo,app.kubernetes.io/instance=a-baton-celigo"))
    assert [p["metadata"]["name"] for p in found] == ["p1"]
    assert "spec" not in found[0] and "managedFields" not in found[0]["metadata"]
    assert found[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    k.observe(PODS, "DELETED", obj("p1", "5"))
    assert asyncio.run(k.list_pods("ns", "app.kubernetes.io/instance=a-baton-celigo")) == []
    assert "ns" in k.pods_in and k.pods_in["ns"] == {"ns/p2"}
    k.close()


def test_a_synced_deployment_cache_answers_a_miss_and_distrusts_what_kopf_never_confirmed() -> None:
    k = kube()
    k.synced = True
    assert asyncio.run(k.get_deployment("ns", "absent")) is None  # no request: the cache is synced
    k.observe(DEPLOYMENTS, None, obj("d", "5"), confirm=False)  # as the startup list brings it
    k.unconfirmed[DEPLOYMENTS].add("ns/d")
    k.confirm_by = time.monotonic() + 60
    assert asyncio.run(k.get_deployment("ns", "d")) is not None  # within the grace: trusted
    k.confirm_by = time.monotonic() - 1
    import celigo_operator.kube as kube_module

    calls: list[str] = []

    async def from_api(self: Any, namespace: str, name: str) -> dict | None:
        calls.append(name)
        return None

    original = kube_module.Kube.get_deployment
    kube_module.Kube.get_deployment = from_api  # type: ignore[method-assign]
    try:
        assert asyncio.run(k.get_deployment("ns", "d")) is None  # kopf's listing never showed it: gone
    finally:
        kube_module.Kube.get_deployment = original  # type: ignore[method-assign]
    assert "ns/d" not in k.store[DEPLOYMENTS]
    k.observe(DEPLOYMENTS, None, obj("e", "1"))  # confirmed by a kopf event: trusted
    assert asyncio.run(k.get_deployment("ns", "e")) is not None
    k.close()


def test_the_connector_cache_keeps_our_own_newer_write() -> None:
    k = kube()
    k.observe(CONNECTORS, "ADDED", obj("c", "10"))
    k._put(CONNECTORS, "ns/c", obj("c", "12", annotations={"written": "by us"}))  # a status patch's answer
    k.observe(CONNECTORS, "MODIFIED", obj("c", "11"))  # the watch catching up: older, ignored
    got = asyncio.run(k.connector("ns", "c"))
    assert got is not None and got["metadata"]["resourceVersion"] == "12"
    k.close()


def test_deployments_keep_their_spec_metadata_and_rollout_counts_only() -> None:
    k = kube()
    k.synced = True
    dep = obj("d", "3", managedFields=[{"manager": "kube-controller-manager"}], labels={"a": "b"}, generation=2)
    dep["spec"] = {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}
    dep["status"] = {
        "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1,
        "conditions": [{"type": "Available", "status": "True", "message": "Deployment has minimum availability."}],
    }
    k.observe(DEPLOYMENTS, "ADDED", dep)
    got = asyncio.run(k.get_deployment("ns", "d"))
    assert got is not None
    assert got["spec"] == dep["spec"] and got["metadata"]["labels"] == {"a": "b"}
    assert "managedFields" not in got["metadata"]
    assert got["status"] == {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    assert manifests.rollout(got) == manifests.rollout(dep)
    assert "conditions" in dep["status"] and "managedFields" in dep["metadata"], "the event is not changed"
    got["spec"]["replicas"] = 5  # a copy: the next read is as stored
    assert asyncio.run(k.get_deployment("ns", "d"))["spec"]["replicas"] == 1  # type: ignore[index]
    k.close()
