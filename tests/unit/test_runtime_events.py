"""Which watch events queue a connector: a Deployment or Pod event queues its owner only when it changes what a
pass reads (a Deployment's spec, owners, wave annotations and rollout counts; a Pod's problem), so the status
updates a rollout brings cost a pass each only where the connector's status can change. A connector whose
labels or annotations were written after its last check, seen first by a (re)started operator, is checked
now. And kopf's diff base, which the operator does not use, is never built.

The runtime is driven directly: its cache is the real `CachedKube`, filled by the events as kopf would feed it
(its synced state is that of an empty cluster, so no read goes to an API server), and its queue the real
`WorkQueue`, not started, so what was queued is what waits in it.
"""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest
from kubernetes import client as k8s

from celigo_operator import api, manifests, waves
from celigo_operator.caches import CachedKube
from celigo_operator.config import OperatorConfig
from celigo_operator.queue import WorkQueue
from celigo_operator.runtime import NoDiffBase, Runtime, metadata_written_after, refuse_change_handlers

NS, OWNER, OWNER_UID = "team", "conn", "uid-conn"


def runtime() -> Runtime:
    cfg = k8s.Configuration()
    cfg.host = "http://127.0.0.1:9"  # nothing listens: a request would fail the test
    client = k8s.ApiClient(cfg)
    rt = Runtime(config=OperatorConfig(), api_client=client)
    rt.kube = CachedKube(client)
    rt.kube.synced = rt.kube.cached = True  # as after the startup lists of a cluster with nothing in it

    async def process(key: str, check_now: bool) -> bool:
        raise AssertionError("the queue is not started")

    rt.queue = WorkQueue(process, lambda key, delay: None)
    return rt


def deployment(rv: int, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": manifests.child_name(OWNER),
            "namespace": NS,
            "uid": "uid-dep",
            "resourceVersion": str(rv),
            "generation": 1,
            "labels": manifests.common_labels(manifests.Owner(name=OWNER, namespace=NS, uid=OWNER_UID)),
            "annotations": {waves.ANNOTATION_INPUTS: "i1", waves.ANNOTATION_TEMPLATE: "t1"},
            "ownerReferences": [
                {"apiVersion": api.API_VERSION, "kind": api.KIND, "name": OWNER, "uid": OWNER_UID}
            ],
        },
        "spec": {"replicas": 1},
        "status": status,
    }


def pod(rv: int, waiting: str | None = None, restarts: int = 0) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {
            "name": "conn-pod",
            "namespace": NS,
            "uid": "uid-pod",
            "resourceVersion": str(rv),
            "labels": {manifests.LABEL_OWNER_UID: OWNER_UID},
        },
        "status": {"containerStatuses": [{"name": "connector", "restartCount": restarts, "state": state}]},
    }


def feed(rt: Runtime, kind: str, event_type: str, body: dict[str, Any]) -> bool:
    """One watch event; whether it left the owner waiting in the queue (which is emptied after)."""
    rt.child_event(kind, {"type": event_type, "object": copy.deepcopy(body)})
    assert rt.queue is not None
    queued = f"{NS}/{OWNER}" in rt.queue.pending
    rt.queue.pending.clear()
    return queued


def test_a_deployment_event_queues_its_owner_only_when_what_a_pass_reads_changed() -> None:
    rt = runtime()
    rt.keys_by_uid[OWNER_UID] = f"{NS}/{OWNER}"
    assert feed(rt, "deployments", "ADDED", deployment(1))  # not seen before
    assert not feed(rt, "deployments", "MODIFIED", deployment(2))  # a new resourceVersion only
    assert feed(rt, "deployments", "MODIFIED", deployment(3, observedGeneration=1, replicas=1, updatedReplicas=1))
    quiet = deployment(4, observedGeneration=1, replicas=1, updatedReplicas=1, readyReplicas=1,
                       conditions=[{"type": "Progressing", "status": "True", "lastUpdateTime": "2026-01-01T00:00:01Z"}])
    assert not feed(rt, "deployments", "MODIFIED", quiet)  # readyReplicas and a condition: no pass reads them
    revision = copy.deepcopy(quiet)
    revision["metadata"]["resourceVersion"] = "5"
    revision["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    assert not feed(rt, "deployments", "MODIFIED", revision)
    available = copy.deepcopy(revision)
    available["metadata"]["resourceVersion"] = "6"
    available["status"]["availableReplicas"] = 1
    assert feed(rt, "deployments", "MODIFIED", available)
    for changed in ("generation", "labels", "annotations", "ownerReferences"):
        edited = copy.deepcopy(available)
        edited["metadata"]["resourceVersion"] = "7"
        meta = edited["metadata"]
        if changed == "generation":
            meta["generation"] = 2
        elif changed == "labels":
            meta["labels"] = {**meta["labels"], "app.kubernetes.io/component": "other"}
        elif changed == "annotations":
            meta["annotations"][waves.ANNOTATION_TEMPLATE] = "t2"
        else:
            meta["ownerReferences"] = []
        assert feed(rt, "deployments", "MODIFIED", edited), changed
        assert feed(rt, "deployments", "MODIFIED", available), changed  # and back
    assert feed(rt, "deployments", "DELETED", available)


def test_the_echo_of_the_deployment_a_pass_wrote_queues_nothing() -> None:
    rt = runtime()
    written = deployment(10)
    assert rt.kube is not None
    rt.kube.observe("deployments", None, written)  # what the create's answer put in the cache (write-through)
    assert not feed(rt, "deployments", "ADDED", written)


def test_a_pod_event_queues_its_owner_only_when_the_problem_it_shows_changed() -> None:
    rt = runtime()
    rt.keys_by_uid[OWNER_UID] = f"{NS}/{OWNER}"  # pods name their owner by uid (a label)
    assert not feed(rt, "pods", "ADDED", pod(1))  # scheduled, running, ready: the Deployment tells the rollout
    assert not feed(rt, "pods", "MODIFIED", pod(2))
    assert feed(rt, "pods", "MODIFIED", pod(3, "CrashLoopBackOff", restarts=1))
    assert not feed(rt, "pods", "MODIFIED", pod(4, "CrashLoopBackOff", restarts=1))
    assert feed(rt, "pods", "MODIFIED", pod(5, "CrashLoopBackOff", restarts=2))  # the message counts restarts
    assert feed(rt, "pods", "MODIFIED", pod(6, "CreateContainerConfigError"))
    assert feed(rt, "pods", "DELETED", pod(7, "CreateContainerConfigError"))  # its problem went with it
    assert not rt.pod_problems
    assert not feed(rt, "pods", "ADDED", pod(8))
    assert not feed(rt, "pods", "DELETED", pod(9))


def test_no_diff_base_is_built_and_change_handlers_are_refused() -> None:
    storage = NoDiffBase()
    body = kopf.Body({"metadata": {"name": "x"}, "spec": {"a": 1}, "status": {"b": 2}})
    assert storage.build(body=body) == {} and storage.fetch(body=body) is None

    registry = kopf.OperatorRegistry()
    refuse_change_handlers(registry)  # raw event handlers only: accepted

    @kopf.on.update(api.GROUP, api.VERSION, api.PLURAL, registry=registry)
    def changed(**_: Any) -> None: ...

    with pytest.raises(RuntimeError, match="diff base"):
        refuse_change_handlers(registry)


def managed(time: str, *, labels: tuple[str, ...] = (), annotations: tuple[str, ...] = (),
            subresource: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if labels:
        meta["f:labels"] = {".": {}, **{f"f:{k}": {} for k in labels}}
    if annotations:
        meta["f:annotations"] = {".": {}, **{f"f:{k}": {} for k in annotations}}
    entry: dict[str, Any] = {"manager": "m", "operation": "Update", "time": time,
                             "fieldsV1": {"f:metadata": meta, "f:spec": {"f:region": {}}}}
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_labels_or_annotations_written_after_the_last_check_force_one_at_resume() -> None:
    checked = "2026-01-01T10:00:00Z"
    later, same = "2026-01-01T10:00:01Z", "2026-01-01T10:00:00Z"

    def after(*entries: dict[str, Any], since: str | None = checked) -> bool:
        return metadata_written_after({"managedFields": list(entries)}, since)

    assert after(managed(later, annotations=("celigo-operator.io/refresh",)))
    assert after(managed(later, labels=("team",)))
    assert not after(managed(same, annotations=("celigo-operator.io/refresh",)))  # the check may have seen it
    assert not after(managed(later))  # spec only: its generation tells
    assert not after(managed(later, annotations=("kopf.celigo-operator.io/last-handled-configuration",)))
    assert not after(managed(later, labels=("team",), subresource="status"))
    assert not after(managed(later, labels=("team",)), since=None)  # never checked: checked anyway
    assert after(managed(same, labels=("a",)), managed(later, annotations=("celigo-operator.io/refresh",)))
