"""Serving, authentication and discovery contract."""

from __future__ import annotations

import httpx
import pytest

from celigo_testkit.kube import KubeEmulator


def test_serves_on_loopback_with_token(emu: KubeEmulator, api: httpx.Client) -> None:
    assert emu.url.startswith("http://127.0.0.1:")
    assert api.get("/version").json()["major"] == "1"


def test_missing_or_wrong_token_is_401_status(emu: KubeEmulator) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = httpx.get(f"{emu.url}/api/v1/namespaces", headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401
        assert emu.token not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/nothing",
        "/api/v1/foos",
        "/apis/apps/v1/widgets",
        "/apis/nope.io/v1/x",
        "/api/v1/secrets/named-without-namespace",
        "/api/v1/namespaces/default/pods/p/log",
    ],
)
def test_unserved_path_is_plain_text_404(api: httpx.Client, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.strip() == "404 page not found"


def test_core_discovery(api: httpx.Client) -> None:
    assert api.get("/api").json()["versions"] == ["v1"]
    doc = api.get("/api/v1").json()
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    for name in ("namespaces", "secrets", "configmaps", "events", "pods", "serviceaccounts", "services"):
        assert name in by_name, name
    pods = by_name["pods"]
    assert pods["namespaced"] and pods["kind"] == "Pod" and "po" in pods["shortNames"]
    assert "all" in pods["categories"]
    assert set(pods["verbs"]) >= {"create", "delete", "get", "list", "patch", "update", "watch"}
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["namespaces"]["namespaced"] is False
    assert "ns" in by_name["namespaces"]["shortNames"]


def test_group_discovery(api: httpx.Client) -> None:
    groups = {g["name"]: g for g in api.get("/apis").json()["groups"]}
    for g in (
        "apps",
        "events.k8s.io",
        "coordination.k8s.io",
        "apiextensions.k8s.io",
        "rbac.authorization.k8s.io",
        "policy",
        "networking.k8s.io",
    ):
        assert g in groups, g
    assert groups["apps"]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    group = api.get("/apis/apps").json()
    assert group["kind"] == "APIGroup" and group["name"] == "apps"
    apps = {r["name"]: r for r in api.get("/apis/apps/v1").json()["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert "deployments/scale" in apps and "deployments/status" in apps
    assert apps["deployments/scale"]["kind"] == "Scale"
    crds = {r["name"]: r for r in api.get("/apis/apiextensions.k8s.io/v1").json()["resources"]}
    assert set(crds["customresourcedefinitions"]["shortNames"]) == {"crd", "crds"}
    leases = {r["name"] for r in api.get("/apis/coordination.k8s.io/v1").json()["resources"]}
    assert "leases" in leases


def test_crd_appears_in_discovery(api: httpx.Client, widget_crd: dict) -> None:
    groups = {g["name"] for g in api.get("/apis").json()["groups"]}
    assert "example.com" in groups
    res = {r["name"]: r for r in api.get("/apis/example.com/v1").json()["resources"]}
    assert res["widgets"]["kind"] == "Widget" and res["widgets"]["shortNames"] == ["wd"]
    assert res["widgets"]["categories"] == ["all"] and res["widgets"]["singularName"] == "widget"
    assert "widgets/status" in res


def test_crd_status_is_established(api: httpx.Client, widget_crd: dict) -> None:
    crd = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").json()
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["storedVersions"] == ["v1"]


def test_crd_delete_unregisters(api: httpx.Client, widget_crd: dict) -> None:
    from .conftest import WIDGETS, wait_for, widget

    assert api.post(WIDGETS, json=widget("w1")).status_code == 201
    r = api.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert r.status_code == 200
    wait_for(lambda: api.get("/apis/example.com/v1").status_code == 404)
    assert api.get(WIDGETS).status_code == 404


def test_default_namespaces_exist(api: httpx.Client) -> None:
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    ns = api.get("/api/v1/namespaces/default").json()
    assert ns["status"]["phase"] == "Active"
