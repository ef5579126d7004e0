"""Contract: behaviours where the emulator once differed from a real kube-apiserver (issue 14's list).

- A write that removes the last finalizer of an object being deleted deletes it; the answer (and the DELETED
  watch event) is the object in its final state, without the finalizer.
- A custom resource body is decoded as unstructured JSON: no kind → 400 (Object 'Kind' is missing), an
  apiVersion other than the served one (or none) → 400, another kind → 422 from ValidateTypeMeta; a
  built-in body naming a kind no scheme knows → 400 from the typed decoder.
- ``includeObject=Object`` in a Table request embeds each full object; ``Metadata`` (default) a
  PartialObjectMetadata; ``None`` nothing.
- Discovery lists subresources as their own entries.
"""

from __future__ import annotations

import httpx

from .conftest import WIDGETS, configmap, watch_events, widget

CMS = "/api/v1/namespaces/default/configmaps"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
MERGE = {"Content-Type": "application/merge-patch+json"}


def test_removing_the_last_finalizer_answers_the_final_state(api: httpx.Client) -> None:
    cm = api.post(CMS, json=configmap("f", finalizers=["example.com/hold"])).json()
    deleting = api.delete(f"{CMS}/f").json()
    assert deleting["metadata"]["deletionTimestamp"]
    r = api.patch(f"{CMS}/f", json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert r.status_code == 200
    final = r.json()
    assert "finalizers" not in final["metadata"]
    assert final["metadata"]["deletionTimestamp"] == deleting["metadata"]["deletionTimestamp"]
    assert final["metadata"]["uid"] == cm["metadata"]["uid"]
    assert int(final["metadata"]["resourceVersion"]) > int(deleting["metadata"]["resourceVersion"])
    assert api.get(f"{CMS}/f").status_code == 404
    events = watch_events(api, CMS, resourceVersion=deleting["metadata"]["resourceVersion"], timeoutSeconds=1)
    assert [e["type"] for e in events] == ["DELETED"]
    assert "finalizers" not in events[0]["object"]["metadata"]
    assert events[0]["object"]["metadata"]["resourceVersion"] == final["metadata"]["resourceVersion"]


def test_custom_resource_without_kind_is_400(api: httpx.Client, widget_crd: dict) -> None:
    body = widget("w")
    del body["kind"]
    r = api.post(WIDGETS, json=body)
    assert r.status_code == 400
    assert r.json()["reason"] == "BadRequest"
    assert r.json()["message"].startswith(
        "the object provided is unrecognized (must be of type Widget): Object 'Kind' is missing in '{"
    )
    body = widget("w")
    del body["apiVersion"], body["kind"]
    assert api.post(WIDGETS, json=body).status_code == 400


def test_custom_resource_without_or_with_another_api_version_is_400(
    api: httpx.Client, widget_crd: dict
) -> None:
    body = widget("w")
    del body["apiVersion"]
    r = api.post(WIDGETS, json=body)
    assert r.status_code == 400
    assert r.json()["message"] == (
        "the API version in the data () does not match the expected API version (example.com/v1)"
    )
    r = api.post(WIDGETS, json={**widget("w"), "apiVersion": "example.com/v2"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "the API version in the data (example.com/v2) does not match the expected API version (example.com/v1)"
    )


def test_custom_resource_with_another_kind_is_invalid(api: httpx.Client, widget_crd: dict) -> None:
    r = api.post(WIDGETS, json={**widget("w"), "kind": "Gadget"})
    assert r.status_code == 422
    assert (
        r.json()["message"]
        == 'Widget.example.com "w" is invalid: kind: Invalid value: "Gadget": must be Widget'
    )
    assert r.json()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "Gadget": must be Widget', "field": "kind"}
    ]
    assert api.get(f"{WIDGETS}/w").status_code == 404


def test_builtin_with_an_unknown_kind_is_400(api: httpx.Client) -> None:
    r = api.post(CMS, json={**configmap("c"), "kind": "Gadget"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Gadget in version "v1" cannot be handled as a ConfigMap: no kind "Gadget" is registered for version'
        ' "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"'
    )
    # kind and apiVersion may be left out of a built-in body: the typed decoder defaults them
    assert api.post(CMS, json={"metadata": {"name": "c"}}).status_code == 201


def test_table_include_object(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("t", {"k": "v"}))
    full = api.get(CMS, headers=TABLE, params={"includeObject": "Object"}).json()
    obj = full["rows"][0]["object"]
    assert obj["data"] == {"k": "v"} and obj["metadata"]["name"] == "t"
    one = api.get(f"{CMS}/t", headers=TABLE, params={"includeObject": "Object"}).json()
    assert one["rows"][0]["object"]["data"] == {"k": "v"}
    meta = api.get(CMS, headers=TABLE).json()["rows"][0]["object"]
    assert meta["kind"] == "PartialObjectMetadata" and "data" not in meta
    none = api.get(CMS, headers=TABLE, params={"includeObject": "None"}).json()["rows"][0]
    assert "object" not in none
    assert api.get(CMS, headers=TABLE, params={"includeObject": "All"}).status_code == 400


def test_discovery_lists_subresources(api: httpx.Client) -> None:
    core = {r["name"]: r for r in api.get("/api/v1").json()["resources"]}
    assert core["namespaces/finalize"]["verbs"] == ["update"]
    assert core["namespaces/status"]["verbs"] == ["get", "patch", "update"]
    assert core["pods/status"]["kind"] == "Pod"
    apps = {r["name"]: r for r in api.get("/apis/apps/v1").json()["resources"]}
    scale = apps["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "replicasets/scale" in apps and "deployments/status" in apps


def _pb_field(num: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are shorter than 128 bytes)."""
    assert len(payload) < 128
    return bytes([num << 3 | 2, len(payload)]) + payload


def test_delete_with_protobuf_delete_options(api: httpx.Client) -> None:
    """Typed clients (Helm's release storage) send DeleteOptions as protobuf; a real server decodes them."""
    api.post(CMS, json=configmap("p"))
    options = _pb_field(4, b"Foreground") + _pb_field(2, _pb_field(1, b"not-the-uid"))
    type_meta = _pb_field(1, b"v1") + _pb_field(2, b"DeleteOptions")
    body = b"k8s\x00" + _pb_field(1, type_meta) + _pb_field(2, options)
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    r = api.request("DELETE", f"{CMS}/p", content=body, headers=headers)
    assert r.status_code == 409  # the uid precondition was read from the protobuf body
    assert "Precondition failed: UID in precondition: not-the-uid" in r.json()["message"]
    options = _pb_field(4, b"Background")
    body = b"k8s\x00" + _pb_field(1, type_meta) + _pb_field(2, options)
    r = api.request("DELETE", f"{CMS}/p", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "Success"
    assert api.get(f"{CMS}/p").status_code == 404
