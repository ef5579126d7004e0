"""Create/get/list/update contract: metadata, names, namespaces, concurrency, paging, selectors."""

from __future__ import annotations

import base64
import re

import httpx

from .conftest import WIDGETS, configmap, widget

CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"


def test_create_sets_server_metadata(api: httpx.Client) -> None:
    r = api.post(CMS, json=configmap("a", {"k": "v"}), headers={"User-Agent": "my-tool/1.2 (linux)"})
    assert r.status_code == 201
    meta = r.json()["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["resourceVersion"].isdigit()
    assert meta["managedFields"][0]["manager"] == "my-tool"
    assert meta["managedFields"][0]["operation"] == "Update"
    assert "generation" not in meta  # ConfigMaps have no generation; custom resources do
    got = api.get(f"{CMS}/a").json()
    assert got == r.json()


def test_field_manager_param_wins_over_user_agent(api: httpx.Client) -> None:
    r = api.post(CMS, params={"fieldManager": "celigo-operator"}, json=configmap("a"))
    assert [m["manager"] for m in r.json()["metadata"]["managedFields"]] == ["celigo-operator"]


def test_resource_version_is_one_global_counter(api: httpx.Client) -> None:
    rv1 = int(api.post(CMS, json=configmap("a")).json()["metadata"]["resourceVersion"])
    rv2 = int(api.post(SECRETS, json={"metadata": {"name": "s"}}).json()["metadata"]["resourceVersion"])
    rv3 = int(api.post(CMS, json=configmap("b")).json()["metadata"]["resourceVersion"])
    assert rv1 < rv2 < rv3
    lst = api.get(CMS).json()
    assert int(lst["metadata"]["resourceVersion"]) >= rv3


def test_generate_name(api: httpx.Client) -> None:
    r = api.post(CMS, json={"metadata": {"generateName": "job-"}, "data": {}})
    assert r.status_code == 201
    name = r.json()["metadata"]["name"]
    assert re.fullmatch(r"job-[bcdfghjklmnpqrstvwxz2456789]{5}", name)
    assert r.json()["metadata"]["generateName"] == "job-"
    r = api.post(CMS, json={"metadata": {"generateName": "job-", "name": "explicit"}})
    assert r.json()["metadata"]["name"] == "explicit"


def test_no_name_nor_generate_name_is_422(api: httpx.Client) -> None:
    r = api.post(CMS, json={"metadata": {}})
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "name or generateName is required" in body["message"]


def test_invalid_dns_name_is_422(api: httpx.Client) -> None:
    r = api.post(CMS, json=configmap("Bad_Name"))
    assert r.status_code == 422
    body = r.json()
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name":'
    )
    assert "RFC 1123 subdomain" in body["message"]
    assert body["details"]["kind"] == "ConfigMap"
    assert api.post("/api/v1/namespaces", json={"metadata": {"name": "a.b"}}).status_code == 422


def test_create_twice_is_409_already_exists(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    r = api.post(CMS, json=configmap("a"))
    assert r.status_code == 409
    body = r.json()
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'
    assert body["details"] == {"name": "a", "kind": "configmaps"}


def test_get_missing_is_404_not_found(api: httpx.Client) -> None:
    r = api.get(f"{SECRETS}/x")
    assert r.status_code == 404
    assert r.json()["message"] == 'secrets "x" not found'
    assert r.json()["details"] == {"name": "x", "kind": "secrets"}
    r = api.get("/apis/apps/v1/namespaces/default/deployments/x")
    assert r.json()["message"] == 'deployments.apps "x" not found'
    assert r.json()["details"] == {"name": "x", "group": "apps", "kind": "deployments"}


def test_namespace_from_url_mismatch_is_400_missing_is_404(api: httpx.Client) -> None:
    r = api.post(CMS, json=configmap("a", namespace="other"))
    assert r.status_code == 400
    assert (
        r.json()["message"]
        == "the namespace of the provided object does not match the namespace sent on the request"
    )
    r = api.post("/api/v1/namespaces/nowhere/configmaps", json=configmap("a"))
    assert r.status_code == 404
    assert r.json()["message"] == 'namespaces "nowhere" not found'
    r = api.post(CMS, json=configmap("b"))
    assert r.json()["metadata"]["namespace"] == "default"


def test_secret_string_data_and_type(api: httpx.Client) -> None:
    r = api.post(
        SECRETS,
        json={
            "metadata": {"name": "s"},
            "data": {"a": base64.b64encode(b"old").decode()},
            "stringData": {"a": "new", "b": "bee"},
        },
    )
    assert r.status_code == 201
    s = r.json()
    assert s["type"] == "Opaque"
    assert "stringData" not in s
    assert base64.b64decode(s["data"]["a"]) == b"new"
    assert base64.b64decode(s["data"]["b"]) == b"bee"


def test_list_items_kind_only_for_custom_resources(api: httpx.Client, widget_crd: dict) -> None:
    api.post(CMS, json=configmap("a"))
    api.post(WIDGETS, json=widget("w"))
    cms = api.get(CMS).json()
    assert cms["kind"] == "ConfigMapList" and cms["apiVersion"] == "v1"
    assert "kind" not in cms["items"][0] and "apiVersion" not in cms["items"][0]
    ws = api.get(WIDGETS).json()
    assert ws["kind"] == "WidgetList"
    assert ws["items"][0]["kind"] == "Widget" and ws["items"][0]["apiVersion"] == "example.com/v1"


def test_list_all_namespaces_and_paging(api: httpx.Client) -> None:
    api.post("/api/v1/namespaces", json={"metadata": {"name": "other"}})
    for i in range(5):
        api.post(CMS, json=configmap(f"c{i}"))
    api.post("/api/v1/namespaces/other/configmaps", json=configmap("z"))
    assert len(api.get("/api/v1/configmaps").json()["items"]) == 6
    page = api.get(CMS, params={"limit": 2}).json()
    assert [i["metadata"]["name"] for i in page["items"]] == ["c0", "c1"]
    assert page["metadata"]["remainingItemCount"] == 3
    names = [i["metadata"]["name"] for i in page["items"]]
    while page["metadata"].get("continue"):
        page = api.get(CMS, params={"limit": 2, "continue": page["metadata"]["continue"]}).json()
        names += [i["metadata"]["name"] for i in page["items"]]
    assert names == [f"c{i}" for i in range(5)]
    assert "remainingItemCount" not in page["metadata"]


def test_label_and_field_selectors(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a", labels={"app": "x", "tier": "web"}))
    api.post(CMS, json=configmap("b", labels={"app": "y"}))
    api.post(CMS, json=configmap("c"))

    def names(**params: str) -> list[str]:
        r = api.get(CMS, params=params)
        assert r.status_code == 200, r.text
        return [i["metadata"]["name"] for i in r.json()["items"]]

    assert names(labelSelector="app=x") == ["a"]
    assert names(labelSelector="app") == ["a", "b"]
    assert names(labelSelector="app in (x,y),tier!=web") == ["b"]
    assert names(labelSelector="!app") == ["c"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.namespace=default,metadata.name!=a") == ["b", "c"]
    r = api.get(SECRETS, params={"fieldSelector": "spec.foo=1"})
    assert r.status_code == 400
    assert "field label not supported: spec.foo" in r.json()["message"]
    assert api.get(SECRETS, params={"fieldSelector": "type=Opaque"}).status_code == 200
    # kinds without their own field label conversion answer with the generic metav1 message
    r = api.get(CMS, params={"fieldSelector": "spec.foo=1"})
    assert r.status_code == 400
    assert (
        r.json()["message"]
        == '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    r = api.get(CMS, params={"labelSelector": "a in (b"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


def test_event_field_selectors_used_by_describe(api: httpx.Client) -> None:
    ev = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Widget", "name": "w", "namespace": "default", "uid": "u-1"},
        "reason": "Made",
        "type": "Normal",
    }
    assert api.post("/api/v1/namespaces/default/events", json=ev).status_code == 201
    params = {
        "fieldSelector": "involvedObject.name=w,involvedObject.namespace=default,"
        "involvedObject.kind=Widget,involvedObject.uid=u-1"
    }
    assert len(api.get("/api/v1/namespaces/default/events", params=params).json()["items"]) == 1
    params = {"fieldSelector": "involvedObject.name=other"}
    assert api.get("/api/v1/namespaces/default/events", params=params).json()["items"] == []


def test_put_with_stale_resource_version_is_409(api: httpx.Client) -> None:
    cm = api.post(CMS, json=configmap("a", {"v": "1"})).json()
    cm["data"] = {"v": "2"}
    assert api.put(f"{CMS}/a", json=cm).status_code == 200
    cm["data"] = {"v": "3"}
    r = api.put(f"{CMS}/a", json=cm)
    assert r.status_code == 409
    assert r.json()["reason"] == "Conflict"
    assert r.json()["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your '
        "changes to the latest version and try again"
    )


def test_put_builtin_without_rv_is_unconditional_but_cr_needs_it(api: httpx.Client, widget_crd: dict) -> None:
    api.post(CMS, json=configmap("a"))
    assert api.put(f"{CMS}/a", json=configmap("a", {"x": "1"})).status_code == 200
    api.post(WIDGETS, json=widget("w"))
    r = api.put(f"{WIDGETS}/w", json=widget("w", "m"))
    assert r.status_code == 422
    assert r.json()["message"] == (
        'Widget.example.com "w" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'
    )


def test_put_name_mismatch_is_400_and_missing_is_404(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    r = api.put(f"{CMS}/a", json=configmap("b"))
    assert r.status_code == 400
    assert r.json()["message"] == "the name of the object (b) does not match the name on the URL (a)"
    assert api.put(f"{CMS}/nope", json=configmap("nope")).status_code == 404


def test_cluster_scoped_objects_have_no_namespace(api: httpx.Client) -> None:
    r = api.post(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json={"metadata": {"name": "r", "namespace": "ignored"}, "rules": []},
    )
    assert r.status_code == 201
    assert "namespace" not in r.json()["metadata"]


def test_plain_kinds_are_stored(api: httpx.Client) -> None:
    paths = {
        "/api/v1/namespaces/default/serviceaccounts": {"metadata": {"name": "sa"}},
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles": {
            "metadata": {"name": "r"},
            "rules": [],
        },
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings": {
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [],
        },
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets": {
            "metadata": {"name": "p"},
            "spec": {"maxUnavailable": 1},
        },
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies": {
            "metadata": {"name": "n"},
            "spec": {"podSelector": {}},
        },
        "/apis/coordination.k8s.io/v1/namespaces/default/leases": {
            "metadata": {"name": "l"},
            "spec": {
                "holderIdentity": "me",
                "leaseDurationSeconds": 15,
                "renewTime": "2026-01-01T00:00:00.000000Z",
            },
        },
    }
    for path, body in paths.items():
        r = api.post(path, json=body)
        assert r.status_code == 201, (path, r.text)
        assert api.get(f"{path}/{body['metadata']['name']}").status_code == 200
    lease = api.get("/apis/coordination.k8s.io/v1/namespaces/default/leases/l").json()
    assert lease["spec"]["holderIdentity"] == "me"


def test_deployment_defaults_stored(api: httpx.Client) -> None:
    from .conftest import deployment

    d = api.post("/apis/apps/v1/namespaces/default/deployments", json=deployment("d", image="busybox")).json()
    assert d["spec"]["strategy"]["type"] == "RollingUpdate"
    assert d["spec"]["revisionHistoryLimit"] == 10
    assert d["spec"]["progressDeadlineSeconds"] == 600
    pod = d["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Always" and pod["dnsPolicy"] == "ClusterFirst"
    assert pod["securityContext"] == {}
    assert pod["containers"][0]["imagePullPolicy"] == "Always"
    assert pod["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
    assert d["metadata"]["generation"] == 1
    assert "status" not in d or d["status"] == {}


def test_label_and_annotation_rules(api: httpx.Client, widget_crd: dict) -> None:
    r = api.post(CMS, json=configmap("a", labels={"app": "x" * 64}))
    assert r.status_code == 422
    assert r.json()["message"].startswith('ConfigMap "a" is invalid: metadata.labels: Invalid value: "xxx')
    assert "must be no more than 63 bytes" in r.json()["message"]
    r = api.post(CMS, json=configmap("a", labels={"app": "has space"}))
    assert r.status_code == 422 and "a valid label must be an empty string" in r.json()["message"]
    r = api.post(CMS, json=configmap("a", labels={"Bad_Prefix/x": "v"}))
    assert r.status_code == 422 and "prefix part a lowercase RFC 1123 subdomain" in r.json()["message"]
    r = api.post(CMS, json=configmap("a", annotations={"a/b/c": "v"}))
    assert r.status_code == 422 and "a qualified name must consist of" in r.json()["message"]
    r = api.post(CMS, json=configmap("a", annotations={"big": "x" * (256 * 1024)}))
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueTooLong",
        "message": "Too long: may not be more than 262144 bytes",
        "field": "metadata.annotations",
    }
    ok = {"app.kubernetes.io/name": "x", "empty": ""}
    assert (
        api.post(CMS, json=configmap("a", labels=ok, annotations={"UPPER.ok/Key": "any value"})).status_code
        == 201
    )
    r = api.post(WIDGETS, json={**widget("w"), "metadata": {"name": "w", "labels": {"k": "-bad"}}})
    assert r.status_code == 422 and r.json()["details"]["kind"] == "Widget"
