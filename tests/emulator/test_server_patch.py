"""PATCH kinds, /status rules, generation and no-op writes."""

from __future__ import annotations

import json

import httpx

from .conftest import WIDGETS, configmap, deployment, widget

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSONP = {"Content-Type": "application/json-patch+json"}
SMP = {"Content-Type": "application/strategic-merge-patch+json"}


def patch(
    api: httpx.Client, path: str, body: object, headers: dict[str, str], **params: str
) -> httpx.Response:
    return api.patch(path, content=json.dumps(body), headers=headers, params=params)


def test_merge_patch_replaces_lists_and_deletes_with_null(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("d"))
    r = patch(
        api,
        f"{DEPLOYS}/d",
        {
            "metadata": {"labels": {"app": None, "x": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b"}]}}},
        },
        MERGE,
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["metadata"]["labels"] == {"x": "1"}
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["b"]


def test_strategic_merge_patch_merges_by_key(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("d"))
    body = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}}}
    d = patch(api, f"{DEPLOYS}/d", body, SMP).json()
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["b", "main"]
    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "main", "env": [{"name": "A", "value": "1"}]}]}}
        }
    }
    d = patch(api, f"{DEPLOYS}/d", body, SMP).json()
    main = next(c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "main")
    assert main["image"] == "nginx:1.27" and main["env"] == [{"name": "A", "value": "1"}]
    body = {"spec": {"template": {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}}}
    d = patch(api, f"{DEPLOYS}/d", body, SMP).json()
    assert [c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["main"]


def test_strategic_merge_finalizers_are_a_set(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a", finalizers=["x/one"]))
    r = patch(api, f"{CMS}/a", {"metadata": {"finalizers": ["x/two", "x/one"]}}, SMP)
    assert r.json()["metadata"]["finalizers"] == ["x/two", "x/one"]


def test_strategic_merge_on_custom_resource_is_415(api: httpx.Client, widget_crd: dict) -> None:
    api.post(WIDGETS, json=widget("w"))
    r = patch(api, f"{WIDGETS}/w", {"spec": {"size": "m"}}, SMP)
    assert r.status_code == 415
    assert r.json()["reason"] == "UnsupportedMediaType"


def test_json_patch_test_failure_and_missing_remove_are_422_generic(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a", {"k": "v"}))
    for ops in (
        [{"op": "test", "path": "/data/k", "value": "other"}],
        [{"op": "remove", "path": "/metadata/finalizers"}],
    ):
        r = patch(api, f"{CMS}/a", ops, JSONP)
        assert r.status_code == 422
        body = r.json()
        assert body["message"] == "the server rejected our request due to an error in our request"
        assert body["details"] == {}
        assert body["reason"] == "Invalid"
    ok = [
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["a/b"]},
    ]
    assert patch(api, f"{CMS}/a", ok, JSONP).json()["metadata"]["finalizers"] == ["a/b"]


def test_json_patch_body_not_array_is_400(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    r = patch(api, f"{CMS}/a", {"op": "add"}, JSONP)
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"


def test_patch_missing_object_is_404(api: httpx.Client) -> None:
    r = patch(api, f"{CMS}/nope", {"data": {"a": "b"}}, MERGE)
    assert r.status_code == 404
    assert r.json()["message"] == 'configmaps "nope" not found'


def test_patch_with_stale_resource_version_is_409(api: httpx.Client) -> None:
    cm = api.post(CMS, json=configmap("a")).json()
    patch(api, f"{CMS}/a", {"data": {"x": "1"}}, MERGE)
    r = patch(
        api,
        f"{CMS}/a",
        {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]}, "data": {"x": "2"}},
        MERGE,
    )
    assert r.status_code == 409


def test_status_subresource_rules(api: httpx.Client, widget_crd: dict) -> None:
    w = api.post(WIDGETS, json={**widget("w"), "status": {"phase": "Ignored"}}).json()
    assert "status" not in w
    # main endpoint ignores status
    w = patch(api, f"{WIDGETS}/w", {"status": {"phase": "Main"}}, MERGE).json()
    assert "status" not in w
    # /status ignores everything but status (labels, finalizers, spec)
    r = patch(
        api,
        f"{WIDGETS}/w/status",
        {
            "status": {"phase": "Ready"},
            "spec": {"size": "l"},
            "metadata": {"labels": {"a": "b"}, "finalizers": ["x/y"]},
        },
        MERGE,
    )
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["status"] == {"phase": "Ready"}
    assert w["spec"]["size"] == "s"
    assert "labels" not in w["metadata"] and "finalizers" not in w["metadata"]
    assert w["metadata"]["generation"] == 1
    status_entry = [m for m in w["metadata"]["managedFields"] if m.get("subresource") == "status"]
    assert status_entry and "f:status" in status_entry[0]["fieldsV1"]
    # PUT on the main endpoint keeps the stored status
    w["status"] = {"phase": "Overwritten"}
    w["spec"]["size"] = "m"
    w = api.put(f"{WIDGETS}/w", json=w).json()
    assert w["status"] == {"phase": "Ready"} and w["spec"]["size"] == "m"
    # PUT on /status changes only status
    w["status"] = {"phase": "Done"}
    w["spec"]["size"] = "l"
    w = api.put(f"{WIDGETS}/w/status", json=w).json()
    assert w["status"] == {"phase": "Done"} and w["spec"]["size"] == "m"


def test_generation_bumps_only_on_spec(api: httpx.Client, widget_crd: dict) -> None:
    w = api.post(WIDGETS, json=widget("w")).json()
    assert w["metadata"]["generation"] == 1
    w = patch(
        api,
        f"{WIDGETS}/w",
        {"metadata": {"labels": {"a": "b"}, "annotations": {"c": "d"}, "finalizers": ["x/y"]}},
        MERGE,
    ).json()
    assert w["metadata"]["generation"] == 1
    w = patch(api, f"{WIDGETS}/w/status", {"status": {"phase": "P"}}, MERGE).json()
    assert w["metadata"]["generation"] == 1
    w = patch(api, f"{WIDGETS}/w", {"spec": {"size": "l"}}, MERGE).json()
    assert w["metadata"]["generation"] == 2
    w = api.delete(f"{WIDGETS}/w").json()
    assert w["metadata"]["generation"] == 3
    assert w["metadata"]["deletionTimestamp"]


def test_noop_write_keeps_resource_version(api: httpx.Client, widget_crd: dict) -> None:
    w = api.post(WIDGETS, json=widget("w")).json()
    rv = w["metadata"]["resourceVersion"]
    same = patch(api, f"{WIDGETS}/w", {"spec": {"size": "s"}}, MERGE, fieldManager="someone-else").json()
    assert same["metadata"]["resourceVersion"] == rv
    same = api.put(f"{WIDGETS}/w", json=w).json()
    assert same["metadata"]["resourceVersion"] == rv
    same = patch(api, f"{WIDGETS}/w", [{"op": "replace", "path": "/spec/size", "value": "s"}], JSONP).json()
    assert same["metadata"]["resourceVersion"] == rv
    changed = patch(api, f"{WIDGETS}/w", {"spec": {"size": "m"}}, MERGE).json()
    assert int(changed["metadata"]["resourceVersion"]) > int(rv)


def test_unknown_patch_content_type_is_415(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    r = patch(api, f"{CMS}/a", {"data": {}}, {"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["reason"] == "UnsupportedMediaType"


def test_server_side_apply_needs_field_manager_and_creates(api: httpx.Client) -> None:
    ssa = {"Content-Type": "application/apply-patch+yaml"}
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata:\n  a: b\n"
    r = api.patch(f"{CMS}/ap", content=body, headers=ssa)
    assert r.status_code == 422
    r = api.patch(f"{CMS}/ap", content=body, headers=ssa, params={"fieldManager": "me"})
    assert r.status_code in (200, 201), r.text
    assert r.json()["data"] == {"a": "b"}
    assert r.json()["metadata"]["managedFields"][0]["operation"] == "Apply"


def test_scale_subresource(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("d", replicas=1))
    scale = api.get(f"{DEPLOYS}/d/scale").json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    r = patch(api, f"{DEPLOYS}/d/scale", {"spec": {"replicas": 3}}, MERGE)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3
    assert api.get(f"{DEPLOYS}/d").json()["spec"]["replicas"] == 3
