"""Bad input, fault injection and the request log."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from celigo_testkit.kube import Fault, KubeEmulator

from .conftest import WIDGETS, configmap, widget

CMS = "/api/v1/namespaces/default/configmaps"


def test_malformed_json_is_400(api: httpx.Client) -> None:
    r = api.post(CMS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["kind"] == "Status" and r.json()["reason"] == "BadRequest"
    api.post(CMS, json=configmap("a"))
    r = api.patch(f"{CMS}/a", content=b"{nope", headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 400


def test_wrong_content_type_is_415(api: httpx.Client) -> None:
    r = api.post(CMS, content=json.dumps(configmap("a")), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    body = r.json()
    assert body["reason"] == "UnsupportedMediaType"
    assert body["message"].startswith(
        "the body of the request was in an unknown format - accepted media types"
    )


def test_yaml_body_is_accepted(api: httpx.Client) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"
    r = api.post(CMS, content=body, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and r.json()["data"] == {"k": "v"}


def test_kind_mismatch_is_400(api: httpx.Client) -> None:
    r = api.post(CMS, json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})
    assert r.status_code == 400


def test_garbage_resource_version_answers_like_the_real_server(api: httpx.Client) -> None:
    # kube-apiserver answers 500 with the storage field error and no reason (kubernetes/kubernetes#139485)
    for params in ({"watch": "true", "resourceVersion": "abc"}, {"resourceVersion": "abc"}):
        r = api.get(CMS, params=params)
        assert r.status_code == 500
        assert r.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": '
            "invalid syntax",
            "code": 500,
        }


def test_method_not_allowed(api: httpx.Client) -> None:
    r = api.put(CMS, json=configmap("a"))
    assert r.status_code == 405
    assert r.json()["reason"] == "MethodNotAllowed"


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable"), (504, "Timeout")]
)
def test_fault_status_codes(emu: KubeEmulator, api: httpx.Client, status: int, reason: str) -> None:
    emu.faults.add(Fault(method="GET", resource="configmaps", status=status))
    r = api.get(CMS)
    assert r.status_code == status and r.json()["reason"] == reason
    assert api.get(CMS).status_code == 200  # times=1 consumed


def test_fault_429_with_retry_after(emu: KubeEmulator, api: httpx.Client) -> None:
    emu.faults.add(Fault(resource="configmaps", status=429, retry_after=3, times=2))
    for _ in range(2):
        r = api.get(CMS)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "3"
        assert r.json()["reason"] == "TooManyRequests"
        assert r.json()["details"]["retryAfterSeconds"] == 3
    assert api.get(CMS).status_code == 200


def test_fault_409_on_writes_only_matching_name(
    emu: KubeEmulator, api: httpx.Client, widget_crd: dict
) -> None:
    api.post(WIDGETS, json=widget("w"))
    api.post(WIDGETS, json=widget("other"))
    emu.faults.add(Fault(method="PATCH", resource="widgets", name="w", status=409))
    merge = {"Content-Type": "application/merge-patch+json"}
    assert api.patch(f"{WIDGETS}/other", json={"spec": {"size": "m"}}, headers=merge).status_code == 200
    r = api.patch(f"{WIDGETS}/w", json={"spec": {"size": "m"}}, headers=merge)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert api.get(f"{WIDGETS}/w").json()["spec"]["size"] == "s"  # nothing was written


def test_slow_response_fault(emu: KubeEmulator, api: httpx.Client) -> None:
    emu.faults.add(Fault(resource="configmaps", status=None, delay=0.3))
    start = time.monotonic()
    assert api.get(CMS).status_code == 200
    assert time.monotonic() - start >= 0.3


def test_forever_fault_until_cleared(emu: KubeEmulator, api: httpx.Client) -> None:
    emu.faults.add(Fault(resource="configmaps", status=500, times=None))
    assert [api.get(CMS).status_code for _ in range(3)] == [500, 500, 500]
    emu.faults.clear()
    assert api.get(CMS).status_code == 200


def test_request_log_records_rbac_verbs(emu: KubeEmulator, api: httpx.Client, widget_crd: dict) -> None:
    emu.clear_request_log()
    merge = {"Content-Type": "application/merge-patch+json"}
    api.post(WIDGETS, json=widget("w"), headers={"User-Agent": "tester/1.0"})
    api.get(f"{WIDGETS}/w")
    api.get(WIDGETS)
    api.get(WIDGETS, params={"watch": "true", "timeoutSeconds": "1"})
    api.patch(f"{WIDGETS}/w/status", json={"status": {"phase": "x"}}, headers=merge)
    w = api.get(f"{WIDGETS}/w").json()
    api.put(f"{WIDGETS}/w", json=w)
    api.delete(f"{WIDGETS}/w")
    api.delete(WIDGETS)
    api.get("/api/v1/namespaces/default/secrets/missing")
    log = emu.request_log
    got = [(r.verb, r.api_group, r.resource, r.subresource, r.namespace, r.name) for r in log]
    assert got == [
        ("create", "example.com", "widgets", "", "default", ""),
        ("get", "example.com", "widgets", "", "default", "w"),
        ("list", "example.com", "widgets", "", "default", ""),
        ("watch", "example.com", "widgets", "", "default", ""),
        ("patch", "example.com", "widgets", "status", "default", "w"),
        ("get", "example.com", "widgets", "", "default", "w"),
        ("update", "example.com", "widgets", "", "default", "w"),
        ("delete", "example.com", "widgets", "", "default", "w"),
        ("deletecollection", "example.com", "widgets", "", "default", ""),
        ("get", "", "secrets", "", "default", "missing"),
    ]
    assert log[0].user_agent == "tester/1.0" and log[0].status_code == 201
    assert log[-1].status_code == 404
    assert log[0].method == "POST" and log[0].path == WIDGETS


def test_create_across_all_namespaces_is_405(api: httpx.Client) -> None:
    r = api.post("/api/v1/configmaps", json=configmap("a"))
    assert r.status_code == 405
    assert r.json()["reason"] == "MethodNotAllowed"


def test_non_string_label_values_are_decoder_errors(api: httpx.Client) -> None:
    from .conftest import deployment

    d = deployment("d")
    d["spec"]["selector"]["matchLabels"] = {"app": False}
    r = api.post("/apis/apps/v1/namespaces/default/deployments", json=d)
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal bool into Go struct'
        " field LabelSelector.spec.selector.matchLabels of type string"
    )
    r = api.post(CMS, json={"metadata": {"name": "a", "labels": {"n": 1}}})
    assert r.status_code == 400 and "ObjectMeta.metadata.labels of type string" in r.json()["message"]
    r = api.post(CMS, json={"metadata": {"name": "a"}, "data": {"k": True}})
    assert r.status_code == 400 and "ConfigMap.data of type string" in r.json()["message"]
    api.post(CMS, json=configmap("ok"))
    r = api.patch(
        f"{CMS}/ok",
        json={"metadata": {"annotations": {"a": 2}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 400
