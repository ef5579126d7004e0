"""Watch contract: initial state, resume, selectors, timeout, bookmarks, expiry, finalizer deletion."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from celigo_testkit.kube import Fault, KubeEmulator

from .conftest import WIDGETS, configmap, fast_settings, watch_events, widget

CMS = "/api/v1/namespaces/default/configmaps"
MERGE = {"Content-Type": "application/merge-patch+json"}


def later(delay: float, fn: object) -> threading.Thread:
    t = threading.Timer(delay, fn)  # type: ignore[arg-type]
    t.start()
    return t


def test_without_resource_version_synthetic_added_first(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    api.post(CMS, json=configmap("b"))
    for params in ({}, {"resourceVersion": "0"}):
        events = watch_events(api, CMS, timeoutSeconds=1, **params)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "a"),
            ("ADDED", "b"),
        ]
        assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"


def test_resume_from_resource_version_only_later_changes(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    rv = api.get(CMS).json()["metadata"]["resourceVersion"]
    api.post(CMS, json=configmap("b"))
    api.patch(f"{CMS}/a", content=json.dumps({"data": {"x": "1"}}), headers=MERGE)
    api.delete(f"{CMS}/b")
    events = watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_live_events_and_timeout_ends_stream(api: httpx.Client) -> None:
    rv = api.get(CMS).json()["metadata"]["resourceVersion"]
    t = later(0.02, lambda: api.post(CMS, json=configmap("live")))
    start = time.monotonic()
    events = watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=2)
    t.join()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "live")]
    assert time.monotonic() - start < 5  # ended by timeoutSeconds, not by the client


def test_label_selector_entering_and_leaving(api: httpx.Client) -> None:
    rv = api.get(CMS).json()["metadata"]["resourceVersion"]
    api.post(CMS, json=configmap("a"))
    api.patch(f"{CMS}/a", content=json.dumps({"metadata": {"labels": {"sel": "yes"}}}), headers=MERGE)
    api.patch(f"{CMS}/a", content=json.dumps({"data": {"k": "v"}}), headers=MERGE)
    api.patch(f"{CMS}/a", content=json.dumps({"metadata": {"labels": {"sel": "no"}}}), headers=MERGE)
    events = watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=1, labelSelector="sel=yes")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[-1]["object"]["metadata"]["labels"] == {"sel": "no"}


def test_field_selector_on_name(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    api.post(CMS, json=configmap("b"))
    events = watch_events(api, CMS, timeoutSeconds=1, fieldSelector="metadata.name=b")
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


def test_bookmarks_carry_only_resource_version() -> None:
    with (
        KubeEmulator(settings=fast_settings(bookmark_interval=0.05)) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}) as api,
    ):
        rv = api.get(CMS).json()["metadata"]["resourceVersion"]
        t = later(
            0.02, lambda: api.post("/api/v1/namespaces/default/secrets", json={"metadata": {"name": "s"}})
        )
        events = watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=2, allowWatchBookmarks=True)
        t.join()
        bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
        assert bookmarks, events
        obj = bookmarks[0]["object"]
        assert obj == {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
        }
        assert int(obj["metadata"]["resourceVersion"]) > int(rv)
        no_bm = watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=1)
        assert all(e["type"] != "BOOKMARK" for e in no_bm)


def test_too_old_resource_version_is_200_with_expired_error_event() -> None:
    with (
        KubeEmulator(settings=fast_settings(watch_history=3)) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}) as api,
    ):
        old_rv = api.get(CMS).json()["metadata"]["resourceVersion"]
        for i in range(6):
            api.post(CMS, json=configmap(f"c{i}"))
        events = watch_events(api, CMS, resourceVersion=old_rv, timeoutSeconds=5)
        assert len(events) == 1
        assert events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"].startswith(f"too old resource version: {old_rv} (")


def test_removing_last_finalizer_emits_deleted_not_modified(api: httpx.Client, widget_crd: dict) -> None:
    api.post(WIDGETS, json={**widget("w"), "metadata": {"name": "w", "finalizers": ["x.io/f"]}})
    api.delete(f"{WIDGETS}/w")
    rv = api.get(WIDGETS).json()["metadata"]["resourceVersion"]
    api.patch(f"{WIDGETS}/w", content=json.dumps({"metadata": {"finalizers": None}}), headers=MERGE)
    events = watch_events(api, WIDGETS, resourceVersion=rv, timeoutSeconds=1)
    assert [e["type"] for e in events] == ["DELETED"]
    assert events[0]["object"]["kind"] == "Widget"


def test_noop_write_emits_no_event(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a", {"k": "v"}))
    rv = api.get(CMS).json()["metadata"]["resourceVersion"]
    api.patch(f"{CMS}/a", content=json.dumps({"data": {"k": "v"}}), headers=MERGE)
    assert watch_events(api, CMS, resourceVersion=rv, timeoutSeconds=1) == []


def test_injected_expired_and_dropped_watches(emu: KubeEmulator, api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    emu.faults.add(Fault(resource="configmaps", expire_watch=True, status=None))
    events = watch_events(api, CMS, timeoutSeconds=5)
    assert [e["type"] for e in events] == ["ERROR"] and events[0]["object"]["code"] == 410
    emu.faults.add(Fault(resource="configmaps", drop_watch=True, status=None))
    got: list[dict] = []
    try:
        with api.stream("GET", CMS, params={"watch": "true", "timeoutSeconds": "30"}) as r:
            for line in r.iter_lines():
                if line:
                    got.append(json.loads(line))
    except httpx.HTTPError:
        pass  # the connection was cut, as a dropped watch looks to a client
    assert [e["type"] for e in got] == ["ADDED"]
    # faults are consumed: the next watch is normal
    assert [e["type"] for e in watch_events(api, CMS, timeoutSeconds=1)] == ["ADDED"]


def test_watch_many_objects(api: httpx.Client) -> None:
    for i in range(50):
        api.post(CMS, json=configmap(f"m{i:03d}"))
    events = watch_events(api, "/api/v1/configmaps", timeoutSeconds=1)
    assert len(events) == 50


def test_send_initial_events_ends_with_marked_bookmark(api: httpx.Client) -> None:
    api.post(CMS, json=configmap("a"))
    events = watch_events(
        api,
        CMS,
        timeoutSeconds=1,
        sendInitialEvents=True,
        allowWatchBookmarks=True,
        resourceVersionMatch="NotOlderThan",
    )
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_client_leaving_mid_stream_is_not_an_error(
    emu: KubeEmulator, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    api.post(CMS, json=configmap("a"))
    with api.stream(
        "GET", CMS, params={"watch": "true", "timeoutSeconds": "30", "allowWatchBookmarks": "true"}
    ) as r:
        next(r.iter_lines())
    for i in range(20):
        api.post(CMS, json=configmap(f"after{i}"))
    assert len(watch_events(api, CMS, timeoutSeconds=1)) == 21
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors == []
