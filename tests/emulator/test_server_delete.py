"""Delete semantics: finalizers, Status on delete, garbage collection by uid, namespace termination."""

from __future__ import annotations

import json

import httpx

from celigo_testkit.kube import KubeEmulator

from .conftest import WIDGETS, configmap, wait_for, widget

CMS = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


def test_delete_without_finalizers_returns_success_status(api: httpx.Client) -> None:
    cm = api.post(CMS, json=configmap("a")).json()
    r = api.delete(f"{CMS}/a")
    assert r.status_code == 200
    assert r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "a", "kind": "configmaps", "uid": cm["metadata"]["uid"]},
    }
    assert api.get(f"{CMS}/a").status_code == 404
    assert api.delete(f"{CMS}/a").status_code == 404


def test_delete_with_finalizers_marks_then_removal_deletes(api: httpx.Client, widget_crd: dict) -> None:
    api.post(WIDGETS, json={**widget("w"), "metadata": {"name": "w", "finalizers": ["example.com/keep"]}})
    r = api.delete(f"{WIDGETS}/w")
    assert r.status_code == 200
    obj = r.json()
    assert obj["kind"] == "Widget"
    assert obj["metadata"]["deletionTimestamp"]
    assert obj["metadata"]["deletionGracePeriodSeconds"] == 0
    again = api.delete(f"{WIDGETS}/w").json()
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    r = api.patch(
        f"{WIDGETS}/w",
        content=json.dumps({"metadata": {"finalizers": ["example.com/keep", "new/one"]}}),
        headers=MERGE,
    )
    assert r.status_code == 422
    assert "no new finalizers can be added if the object is being deleted" in r.json()["message"]
    r = api.patch(f"{WIDGETS}/w", content=json.dumps({"metadata": {"finalizers": None}}), headers=MERGE)
    assert r.status_code == 200
    assert api.get(f"{WIDGETS}/w").status_code == 404


def test_garbage_collection_by_owner_uid(emu: KubeEmulator, api: httpx.Client) -> None:
    owner = api.post(CMS, json=configmap("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    api.post(CMS, json=configmap("child", ownerReferences=[ref]))
    fake = {**ref, "uid": "00000000-0000-0000-0000-000000000000"}
    api.post(CMS, json=configmap("orphan-by-name", ownerReferences=[fake]))
    # same name as the owner but a dead uid: collected; the real owner's child stays while the owner lives
    wait_for(lambda: api.get(f"{CMS}/orphan-by-name").status_code == 404)
    assert api.get(f"{CMS}/child").status_code == 200
    api.delete(f"{CMS}/owner")
    wait_for(lambda: api.get(f"{CMS}/child").status_code == 404)


def test_orphan_propagation_keeps_dependents(api: httpx.Client) -> None:
    owner = api.post(CMS, json=configmap("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    api.post(CMS, json=configmap("child", ownerReferences=[ref]))
    api.delete(f"{CMS}/owner", params={"propagationPolicy": "Orphan"})
    child = api.get(f"{CMS}/child").json()
    assert "ownerReferences" not in child["metadata"]


def test_namespace_termination(api: httpx.Client, widget_crd: dict) -> None:
    api.post("/api/v1/namespaces", json={"metadata": {"name": "gone"}})
    api.post("/api/v1/namespaces/gone/configmaps", json=configmap("a"))
    api.post(
        "/apis/example.com/v1/namespaces/gone/widgets",
        json={**widget("w"), "metadata": {"name": "w", "finalizers": ["example.com/keep"]}},
    )
    r = api.delete("/api/v1/namespaces/gone")
    assert r.status_code == 200
    assert r.json()["status"]["phase"] == "Terminating"
    r = api.post("/api/v1/namespaces/gone/configmaps", json=configmap("b"))
    assert r.status_code == 403
    body = r.json()
    assert body["reason"] == "Forbidden"
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    assert "because it is being terminated" in body["message"]
    wait_for(lambda: api.get("/api/v1/namespaces/gone/configmaps/a").status_code == 404)
    w = wait_for(
        lambda: (
            api.get("/apis/example.com/v1/namespaces/gone/widgets/w")
            .json()["metadata"]
            .get("deletionTimestamp")
        )
    )
    assert w
    assert api.get("/api/v1/namespaces/gone").status_code == 200  # waits for the finalizer
    api.patch(
        "/apis/example.com/v1/namespaces/gone/widgets/w",
        content=json.dumps({"metadata": {"finalizers": []}}),
        headers=MERGE,
    )
    wait_for(lambda: api.get("/api/v1/namespaces/gone").status_code == 404)


def test_delete_collection_with_selector(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a", labels={"x": "1"}))
    api.post(CMS, json=configmap("b", labels={"x": "1"}))
    api.post(CMS, json=configmap("c"))
    r = api.delete(CMS, params={"labelSelector": "x=1"})
    assert r.status_code == 200
    assert sorted(i["metadata"]["name"] for i in r.json()["items"]) == ["a", "b"]
    assert [i["metadata"]["name"] for i in api.get(CMS).json()["items"]] == ["c"]


def test_delete_preconditions(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    r = api.request("DELETE", f"{CMS}/a", json={"preconditions": {"uid": "wrong"}})
    assert r.status_code == 409
    assert api.get(f"{CMS}/a").status_code == 200


def test_foreground_deletion_waits_for_dependents(api: httpx.Client) -> None:
    owner = api.post(CMS, json=configmap("owner")).json()
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
    api.post(CMS, json=configmap("child", ownerReferences=[ref], finalizers=["x.io/hold"]))
    r = api.request("DELETE", f"{CMS}/owner", json={"propagationPolicy": "Foreground"})
    assert r.status_code == 200
    assert r.json()["metadata"]["finalizers"] == ["foregroundDeletion"]
    wait_for(lambda: api.get(f"{CMS}/child").json()["metadata"].get("deletionTimestamp"))
    assert api.get(f"{CMS}/owner").status_code == 200  # still waiting for the child's finalizer
    api.patch(f"{CMS}/child", content=json.dumps({"metadata": {"finalizers": None}}), headers=MERGE)
    wait_for(lambda: api.get(f"{CMS}/owner").status_code == 404)


def test_generation_of_custom_resource_without_status_subresource(api: httpx.Client) -> None:
    import copy

    from .conftest import WIDGET_CRD

    crd = copy.deepcopy(WIDGET_CRD)
    del crd["spec"]["versions"][0]["subresources"]
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd).status_code == 201
    w = api.post(WIDGETS, json={**widget("w"), "status": {"phase": "kept"}}).json()
    assert w["status"] == {"phase": "kept"}
    w = api.patch(f"{WIDGETS}/w", content=json.dumps({"status": {"phase": "changed"}}), headers=MERGE).json()
    assert w["metadata"]["generation"] == 2  # without the subresource status is ordinary content
    assert api.get(f"{WIDGETS}/w/status").status_code == 404
