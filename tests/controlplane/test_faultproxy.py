"""The fault-injecting proxy in front of the real kube-apiserver (what replaces the emulator's fault injection
on the real server): pass-through, injected 500/429 answers, drops, delays, watch cuts and expired watches."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from celigo_testkit import controlplane
from celigo_testkit.faultproxy import FaultProxy, ProxyFault

pytestmark = pytest.mark.realkube


@pytest.fixture(scope="module")
def proxy(cp: controlplane.ControlPlane) -> Iterator[FaultProxy]:
    with FaultProxy(cp) as p:
        yield p


@pytest.fixture
def h(proxy: FaultProxy, cp: controlplane.ControlPlane) -> Iterator[httpx.Client]:
    import ssl

    proxy.clear()
    with httpx.Client(
        base_url=proxy.url,
        headers={"Authorization": f"Bearer {cp.admin_token}"},
        verify=ssl.create_default_context(cafile=str(cp.ca_file)),
        timeout=20,
    ) as client:
        yield client


def test_passes_requests_through(h: httpx.Client) -> None:
    resp = h.get("/api/v1/namespaces/default")
    assert resp.status_code == 200 and resp.json()["metadata"]["name"] == "default"
    assert h.get("/api/v1/namespaces/nope").status_code == 404


def test_injected_answers_then_through(proxy: FaultProxy, h: httpx.Client) -> None:
    proxy.inject(ProxyFault(method="GET", path_contains="/namespaces/default", status=429, retry_after=2))
    proxy.inject(ProxyFault(method="GET", path_contains="/namespaces/default", status=500))
    first = h.get("/api/v1/namespaces/default")
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.json()["reason"] == "TooManyRequests"
    assert h.get("/api/v1/namespaces/default").status_code == 500
    assert h.get("/api/v1/namespaces/default").status_code == 200


def test_drop_and_delay(proxy: FaultProxy, h: httpx.Client) -> None:
    proxy.inject(ProxyFault(path_contains="/namespaces/kube-system", drop=True))
    with pytest.raises(httpx.TransportError):
        h.get("/api/v1/namespaces/kube-system")
    proxy.inject(ProxyFault(path_contains="/namespaces/kube-public", delay=1.0))
    start = time.monotonic()
    assert h.get("/api/v1/namespaces/kube-public").status_code == 200
    assert time.monotonic() - start >= 1.0


def test_watch_cut(proxy: FaultProxy, h: httpx.Client) -> None:
    proxy.inject(ProxyFault(watch=True, cut_after=1.0))
    # from a list's resourceVersion: with etcd 3.4 (no progress notifications) a watch "from now" on a quiet
    # resource can be refused for a while (504 Too large resource version)
    rv = h.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]
    start = time.monotonic()
    params = {"watch": "1", "timeoutSeconds": "30", "resourceVersion": rv}
    with pytest.raises(httpx.TransportError):  # the stream ends without its final chunk
        with h.stream("GET", "/api/v1/namespaces", params=params) as resp:
            assert resp.status_code == 200
            for _ in resp.iter_lines():
                pass
    assert 0.9 <= time.monotonic() - start < 20


def test_watch_expired(proxy: FaultProxy, h: httpx.Client) -> None:
    proxy.inject(ProxyFault(watch=True, path_contains="/namespaces", expire=True))
    params = {"watch": "1", "timeoutSeconds": "30", "resourceVersion": "1"}
    with h.stream("GET", "/api/v1/namespaces", params=params) as resp:
        assert resp.status_code == 200
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [e["type"] for e in events] == ["ERROR"]
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    # the next watch goes through
    rv = h.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]
    with h.stream("GET", "/api/v1/namespaces", params={**params, "resourceVersion": rv, "timeoutSeconds": "1"}) as resp:
        assert resp.status_code == 200
