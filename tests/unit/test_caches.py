"""The watch-fed caches: newer resourceVersions win whichever path brought them, DELETED drops, a miss goes
to the API, hits are copies, and managedFields are not kept."""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client as k8s

from celigo_operator.caches import DEPLOYMENTS, SECRETS, CachedKube, slim


def obj(name: str, rv: str, uid: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv, **extra}}


def kube() -> CachedKube:
    return CachedKube(k8s.ApiClient(k8s.Configuration()), workers=1)


def test_newer_wins_and_deleted_drops() -> None:
    k = kube()
    k.observe(DEPLOYMENTS, None, obj("d", "5"))
    k.observe(DEPLOYMENTS, "MODIFIED", obj("d", "4"))  # older: ignored
    assert k.store[DEPLOYMENTS]["ns/d"]["metadata"]["resourceVersion"] == "5"
    k.observe(DEPLOYMENTS, "MODIFIED", obj("d", "7"))
    assert k.store[DEPLOYMENTS]["ns/d"]["metadata"]["resourceVersion"] == "7"
    k.observe(DEPLOYMENTS, "ADDED", obj("d", "2", uid="u2"))  # a new object of the same name
    assert k.store[DEPLOYMENTS]["ns/d"]["metadata"]["uid"] == "u2"
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
    assert k.store[SECRETS]["ns/s"]["metadata"]["name"] == "s"
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
