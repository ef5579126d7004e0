"""A minimal kopf operator runs end to end against the emulator (kopf logs in from the kubeconfig)."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kopf
import kubernetes
import pytest

from celigo_testkit.kube import KubeEmulator

from .conftest import WIDGET_CRD, WIDGETS, wait_for, widget

CMS = "/api/v1/namespaces/default/configmaps"


def build_registry(api_url: str, token: str, kubeconfig: Path, calls: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        """kopf.login_via_client, but with an explicit kubeconfig path.

        The kubernetes client reads $KUBECONFIG once, at import time, so a test cannot point kopf's
        default login at a per-test file; the kubeconfig is still parsed by the kubernetes loader.
        """
        cfg = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
        header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")
        scheme, _, tok = (header or "").partition(" ")
        return kopf.ConnectionInfo(
            server=cfg.host, ca_path=cfg.ssl_ca_cert, scheme=scheme, token=tok, default_namespace="default"
        )

    headers = {"Authorization": f"Bearer {token}"}

    @kopf.on.create("example.com", "v1", "widgets", registry=registry)
    def created(spec: Any, name: str, body: Any, patch: Any, **_: Any) -> None:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-cm"},
            "data": {"size": spec["size"]},
        }
        kopf.adopt(cm, owner=body)
        r = httpx.post(f"{api_url}{CMS}", json=cm, headers=headers)
        r.raise_for_status()
        patch.status["phase"] = "Created"
        kopf.info(body, reason="Created", message=f"ConfigMap {name}-cm")
        calls.append(f"create:{name}")

    @kopf.on.update("example.com", "v1", "widgets", registry=registry)
    def updated(spec: Any, name: str, patch: Any, **_: Any) -> None:
        r = httpx.patch(
            f"{api_url}{CMS}/{name}-cm",
            json={"data": {"size": spec["size"]}},
            headers={**headers, "Content-Type": "application/merge-patch+json"},
        )
        r.raise_for_status()
        patch.status["phase"] = "Updated"
        calls.append(f"update:{name}:{spec['size']}")

    @kopf.on.delete("example.com", "v1", "widgets", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        calls.append(f"delete:{name}")

    return registry


@pytest.fixture
def kopf_operator(emu: KubeEmulator, tmp_path: Path) -> Iterator[list[str]]:
    """Run kopf.operator() in its own thread and loop, logged in from the emulator's kubeconfig."""
    kubeconfig = emu.write_kubeconfig(tmp_path / "kubeconfig")
    calls: list[str] = []
    registry = build_registry(emu.url, emu.token, kubeconfig, calls)
    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = 30
    settings.posting.level = 20
    settings.networking.error_backoffs = [0.05, 0.1]  # retry injected API errors quickly
    stop = threading.Event()
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    settings=settings,
                    namespaces=["default"],
                    standalone=True,
                    stop_flag=stop,
                    ready_flag=ready,
                )
            )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="kopf", daemon=True)
    thread.start()
    assert ready.wait(20), errors
    try:
        yield calls
    finally:
        stop.set()
        thread.join(20)
        assert not thread.is_alive()
    assert not errors, errors


def test_kopf_create_update_delete(emu: KubeEmulator, api: httpx.Client, kopf_operator: list[str]) -> None:
    assert (
        api.post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=copy.deepcopy(WIDGET_CRD)
        ).status_code
        == 201
    )
    w = api.post(WIDGETS, json=widget("w1")).json()

    def created() -> dict | None:
        obj = api.get(f"{WIDGETS}/w1").json()
        return obj if (obj.get("status") or {}).get("phase") == "Created" else None

    obj = wait_for(created)
    cm = api.get(f"{CMS}/w1-cm").json()
    assert cm["data"] == {"size": "s"}
    assert cm["metadata"]["ownerReferences"][0]["uid"] == w["metadata"]["uid"]
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]

    def created_event() -> bool:
        # kopf posts Events from a background queue: one may land just after the status patch.
        events = api.get(
            "/api/v1/namespaces/default/events",
            params={"fieldSelector": "involvedObject.name=w1,involvedObject.kind=Widget"},
        ).json()
        return any(e["reason"] == "Created" for e in events["items"])

    assert wait_for(created_event)

    api.patch(
        f"{WIDGETS}/w1",
        json={"spec": {"size": "m"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    wait_for(lambda: (api.get(f"{WIDGETS}/w1").json().get("status") or {}).get("phase") == "Updated")
    assert api.get(f"{CMS}/w1-cm").json()["data"] == {"size": "m"}

    assert api.delete(f"{WIDGETS}/w1").status_code == 200
    wait_for(lambda: api.get(f"{WIDGETS}/w1").status_code == 404)
    wait_for(lambda: api.get(f"{CMS}/w1-cm").status_code == 404)
    assert kopf_operator == ["create:w1", "update:w1:m", "delete:w1"]
    verbs = {(r.verb, r.resource, r.subresource) for r in emu.request_log if r.user_agent.startswith("kopf")}
    assert ("watch", "widgets", "") in verbs
    assert ("patch", "widgets", "status") in verbs
    assert ("create", "events", "") in verbs


def test_kopf_retries_through_injected_faults(
    emu: KubeEmulator, api: httpx.Client, kopf_operator: list[str]
) -> None:
    from celigo_testkit.kube import Fault

    watch_fault = emu.faults.add(Fault(resource="widgets", drop_watch=True, status=None))
    status_fault = emu.faults.add(Fault(method="PATCH", resource="widgets", subresource="status", status=500))
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert api.post(crds, json=copy.deepcopy(WIDGET_CRD)).status_code == 201
    api.post(WIDGETS, json=widget("w2"))
    wait_for(lambda: (api.get(f"{WIDGETS}/w2").json().get("status") or {}).get("phase") == "Created")
    assert watch_fault.hits == 1 and status_fault.hits == 1
    status_patches = [
        r.status_code for r in emu.request_log if r.subresource == "status" and r.method == "PATCH"
    ]
    assert status_patches[0] == 500 and status_patches[-1] == 200
    watches = [r for r in emu.request_log if r.verb == "watch" and r.resource == "widgets"]
    assert len(watches) >= 2  # kopf watched again after the dropped connection
