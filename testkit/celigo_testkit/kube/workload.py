"""A simulated kube-controller-manager and kubelet for Deployments, ReplicaSets and Pods.

Enough of a rollout that an operator sees what it would on a cluster: a ReplicaSet per pod template
(pod-template-hash), pods that become Ready after `rollout_delay`, a rolling update bounded by
maxSurge/maxUnavailable, Deployment status and conditions, and pods failing like the connector can
(CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError for a missing Secret/ConfigMap).
All writes go through Core, so they produce resourceVersions, managedFields and watch events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import math
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import container_status, errors, scheduler
from .core import NAME_CHARS, Core, WriteContext, now_rfc3339
from .types import SimNode, clone

if TYPE_CHECKING:
    from .resources import ResourceInfo
    from .types import ChangeEvent, EmulatorSettings

log = logging.getLogger(__name__)
EVENTS = "events"
NAMESPACES = "namespaces"
DEPLOYMENTS = "deployments.apps"
REPLICASETS = "replicasets.apps"
PODS = "pods"
WATCHED = {DEPLOYMENTS, REPLICASETS, PODS, "secrets", "configmaps"}
FAILURE_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError")
REVISION = "deployment.kubernetes.io/revision"
#: One turn syncs the due keys in this order: Deployments, then ReplicaSets (including those a Deployment
#: sync just scaled), then pods (including those just created), like one pass of the controllers did before
#: they had a queue; so an old ReplicaSet scales down in the same turn its Deployment lowered it, before
#: the Deployment surges the new one again.
PHASES = (DEPLOYMENTS, REPLICASETS, PODS)
Key = tuple[str, str, str]  # (group_resource, namespace, name) of a Deployment, ReplicaSet or Pod


def template_hash(template: dict) -> str:
    """A stable pod-template-hash in the alphabet the real controller uses."""
    digest = hashlib.sha256(repr(_canonical(template)).encode()).digest()
    return "".join(NAME_CHARS[b % len(NAME_CHARS)] for b in digest[:10])


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    return value


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            return 0
        raw = pct * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _condition(conds: list[dict], ctype: str) -> dict | None:
    return next((c for c in conds if c.get("type") == ctype), None)


class WorkloadController:
    """Deployment + ReplicaSet controllers and a kubelet, woken by store changes and its own timers.

    Like the real controllers it works from a queue of object keys, not from the world: a stored change
    enqueues the objects it can affect (the object itself, its owning ReplicaSet and Deployment, the pods
    that reference a changed Secret/ConfigMap), and timers (rollout delay, minReadySeconds, progress
    deadline, crash-loop restarts) enqueue their own key when due. So the work per change is bounded by
    the objects it touches, whatever the number of objects stored. A key whose sync fails is logged and
    retried with a bounded exponential backoff; it never holds up the other keys.
    """

    BATCH = 256  # keys synced per turn before yielding to the event loop (HTTP handlers, watches)
    BACKOFF_BASE = 0.05  # seconds before the first retry of a failed key; doubles per failure ...
    BACKOFF_MAX = 2.0  # ... up to this

    def __init__(
        self, core: Core, settings: EmulatorSettings, call_soon: Callable[[Callable[[], Any]], Any]
    ) -> None:
        self.core = core
        self.settings = settings
        self._call_soon = call_soon
        self._modes: dict[tuple[str, str], tuple[str, str]] = {}
        self._wake: asyncio.Event | None = None
        self._due: dict[str, float] = {}  # pod uid -> monotonic time of its next kubelet step
        self._ready_since: dict[str, float] = {}  # pod uid -> monotonic time it became Ready
        self._progress: dict[str, tuple[tuple[Any, ...], float]] = {}  # deployment uid -> (state, since)
        self._ctx_kcm = WriteContext(manager="kube-controller-manager")
        self._ctx_kubelet = WriteContext(manager="kubelet")
        self._ctx_scheduler = WriteContext(manager="kube-scheduler")
        self._queue: dict[Key, float] = {}  # key -> monotonic time it is due (0.0: now)
        # per resource, (due, key); an entry whose due differs from _queue[key] is stale
        self._heaps: dict[str, list[tuple[float, Key]]] = {r: [] for r in PHASES}
        self._failures: dict[Key, int] = {}  # key -> consecutive failed syncs
        # (resource, namespace, name) of a Secret/ConfigMap -> names of the pods whose containers read it
        self._config_users: dict[tuple[str, str, str], set[str]] = {}
        self.examined = 0  # objects looked at by syncs (keys synced + owned objects listed); tests read it
        # the scheduler's view: the nodes, what the pods bound to each request, the pods that fit nowhere
        self._nodes: dict[str, SimNode] = {n.name: n for n in settings.nodes}
        self._bound: dict[str, dict[str, tuple[float, float]]] = {n: {} for n in self._nodes}
        self._pod_node: dict[str, str] = {}  # pod uid -> node name
        self._unscheduled: set[Key] = set()
        core.store.add_listener(self._on_change)

    # ---- public, thread-safe ---------------------------------------------------------------------
    def crash_loop(
        self, namespace: str, deployment: str, reason: str = "CrashLoopBackOff", message: str = ""
    ) -> None:
        """Make the deployment's pods fail like a real kubelet reports it (until heal())."""
        if reason not in FAILURE_REASONS:
            raise ValueError(f"reason must be one of {FAILURE_REASONS}")
        self._call_soon(lambda: self._set_mode(namespace, deployment, (reason, message)))

    def heal(self, namespace: str, deployment: str) -> None:
        """Let the deployment's pods start normally again."""
        self._call_soon(lambda: self._set_mode(namespace, deployment, None))

    def _set_mode(self, namespace: str, deployment: str, mode: tuple[str, str] | None) -> None:
        if mode is None:
            self._modes.pop((namespace, deployment), None)
        else:
            self._modes[(namespace, deployment)] = mode
        for pod in self.core.store.items(PODS, namespace):
            self._due[pod["metadata"]["uid"]] = 0.0
            self._add((PODS, namespace, pod["metadata"]["name"]), 0.0)
        self.poke()

    def set_nodes(self, nodes: list[SimNode]) -> None:
        """Replace the simulated nodes; pods that fit nowhere are tried again (bound pods stay where they are)."""
        self._call_soon(lambda: self._replace_nodes(list(nodes)))

    def add_node(self, node: SimNode) -> None:
        """Add (or replace) one simulated node, e.g. one that fits the pods left Pending."""
        self._call_soon(
            lambda: self._replace_nodes([*(n for n in self._nodes.values() if n.name != node.name), node])
        )

    @property
    def nodes(self) -> list[SimNode]:
        return list(self._nodes.values())

    def _replace_nodes(self, nodes: list[SimNode]) -> None:
        self._nodes = {n.name: n for n in nodes}
        for name in self._nodes:
            self._bound.setdefault(name, {})
        self._retry_unscheduled()

    def _retry_unscheduled(self) -> None:
        for key in sorted(self._unscheduled):
            self._add(key, 0.0)
        self.poke()

    def poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ---- loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        self._wake = asyncio.Event()
        self.enqueue_all()  # the informers' initial list: whatever was stored before the loop started
        while True:
            self._wake.clear()
            try:
                next_due = self.process()
            except Exception:  # a bug must not silently stop every rollout for the rest of the run
                log.exception("kube emulator: workload reconcile failed")
                next_due = time.monotonic() + self.settings.rollout_delay
            timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
            # asyncio.wait (not wait_for): on 3.11 wait_for can swallow a cancellation racing a wake-up.
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=timeout)
            finally:
                waiter.cancel()

    def enqueue_all(self) -> None:
        """Queue every Deployment, ReplicaSet and Pod (a resync; the change feed keeps the queue after)."""
        for resource in (DEPLOYMENTS, REPLICASETS, PODS):
            for obj in self.core.store.items(resource):
                self._add(self._key(resource, obj), 0.0)
                if resource == PODS:
                    self._index_config_users(obj, None)
                    self._track_binding(obj)

    def _add(self, key: Key, at: float) -> None:
        cur = self._queue.get(key)
        if cur is not None and cur <= at:
            return
        self._queue[key] = at
        heapq.heappush(self._heaps[key[0]], (at, key))

    @staticmethod
    def _key(resource: str, obj: dict) -> Key:
        return (resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _on_change(self, ev: ChangeEvent) -> None:
        """Enqueue what this change can affect (synchronously, in the writer's turn; nothing is synced here)."""
        if ev.resource not in WATCHED:
            return
        obj = ev.obj
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        deleted = ev.type == "DELETED"
        if ev.resource == DEPLOYMENTS:
            self._add(self._key(DEPLOYMENTS, obj), 0.0)
            if deleted:
                self._progress.pop(meta.get("uid", ""), None)
        elif ev.resource == REPLICASETS:
            self._add(self._key(REPLICASETS, obj), 0.0)
            for o in (obj, ev.old):
                for ref in (o or {}).get("metadata", {}).get("ownerReferences") or []:
                    if ref.get("kind") == "Deployment":
                        self._add((DEPLOYMENTS, ns, str(ref.get("name", ""))), 0.0)
        elif ev.resource == PODS:
            if deleted:
                uid = meta.get("uid", "")
                self._due.pop(uid, None)
                self._ready_since.pop(uid, None)
                self._failures.pop(self._key(PODS, obj), None)
                self._unscheduled.discard(self._key(PODS, obj))
                node = self._pod_node.pop(uid, None)
                if node is not None:
                    self._bound.get(node, {}).pop(uid, None)
                    if self._unscheduled:
                        self._retry_unscheduled()  # its resources are free again
            else:
                self._add(self._key(PODS, obj), 0.0)
                self._track_binding(obj)
            self._index_config_users(obj if not deleted else None, ev.old)
            for o in (obj, ev.old):
                for ref in (o or {}).get("metadata", {}).get("ownerReferences") or []:
                    if ref.get("kind") != "ReplicaSet":
                        continue
                    rs_name = str(ref.get("name", ""))
                    self._add((REPLICASETS, ns, rs_name), 0.0)
                    rs = self.core.store.get(REPLICASETS, ns, rs_name)
                    for rref in (rs or {}).get("metadata", {}).get("ownerReferences") or []:
                        if rref.get("kind") == "Deployment":
                            self._add((DEPLOYMENTS, ns, str(rref.get("name", ""))), 0.0)
        else:  # a Secret or ConfigMap: the kubelet rechecks the pods that read it
            for name in sorted(self._config_users.get((ev.resource, ns, meta["name"]), ())):
                self._add((PODS, ns, name), 0.0)
        self.poke()

    @staticmethod
    def _config_refs(pod: dict) -> set[tuple[str, str]]:
        """(resource, name) of every Secret/ConfigMap the pod's containers read (what _missing_config checks)."""
        spec = pod.get("spec") or {}
        refs: set[tuple[str, str]] = set()
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for src in c.get("envFrom") or []:
                for kind, resource in (("secretRef", "secrets"), ("configMapRef", "configmaps")):
                    if src.get(kind):
                        refs.add((resource, str(src[kind].get("name", ""))))
            for env in c.get("env") or []:
                vf = env.get("valueFrom") or {}
                for kind, resource in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
                    if vf.get(kind):
                        refs.add((resource, str(vf[kind].get("name", ""))))
        return refs

    def _index_config_users(self, new: dict | None, old: dict | None) -> None:
        for pod, add in ((old, False), (new, True)):
            if pod is None:
                continue
            ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
            for resource, ref in self._config_refs(pod):
                users_key = (resource, ns, ref)
                if add:
                    self._config_users.setdefault(users_key, set()).add(name)
                    continue
                users = self._config_users.get(users_key)
                if users is not None:
                    users.discard(name)
                    if not users:
                        del self._config_users[users_key]

    def _info(self, group_resource: str) -> ResourceInfo:
        info = self.core.registry.by_group_resource(group_resource)
        assert info is not None
        return info

    def pending(self) -> int:
        """Keys queued (due now or later)."""
        return len(self._queue)

    def process(self, now: float | None = None) -> float | None:
        """Sync the keys due by `now` (at most BATCH per resource), Deployments first, then ReplicaSets,
        then pods; returns when the next key is due (None: nothing queued)."""
        now = time.monotonic() if now is None else now
        for resource in PHASES:
            heap = self._heaps[resource]
            batch: list[Key] = []
            while heap and heap[0][0] <= now and len(batch) < self.BATCH:
                at, key = heapq.heappop(heap)
                if self._queue.get(key) != at:
                    continue  # stale: the key was re-queued earlier, or already synced
                del self._queue[key]
                batch.append(key)
            for key in sorted(batch):
                self._sync_key(key, now)
        due = []
        for heap in self._heaps.values():
            while heap and self._queue.get(heap[0][1]) != heap[0][0]:
                heapq.heappop(heap)  # drop stale entries so the next wake-up is a real one
            if heap:
                due.append(heap[0][0])
        return min(due) if due else None

    def _sync_key(self, key: Key, now: float) -> None:
        wakeups: list[float] = []
        try:
            self._sync(key, now, wakeups)
        except Exception as exc:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(self.BACKOFF_MAX, self.BACKOFF_BASE * 2 ** min(failures - 1, 30))
            level = logging.WARNING if failures & (failures - 1) == 0 else logging.DEBUG
            log.log(
                level,
                "kube emulator: syncing %s %s/%s failed (%d in a row), retrying in %.2fs: %s",
                *key,
                failures,
                delay,
                exc,
                exc_info=not isinstance(exc, errors.ApiError),
            )
            self._add(key, now + delay)
            return
        self._failures.pop(key, None)
        if wakeups:
            self._add(key, min(wakeups))

    def _sync(self, key: Key, now: float, wakeups: list[float]) -> None:
        resource, ns, name = key
        obj = self.core.store.get(resource, ns, name)
        if obj is None:
            return
        self.examined += 1
        if resource == DEPLOYMENTS:
            self._sync_deployment(obj, now, wakeups)
        elif resource == REPLICASETS:
            self._sync_replicaset(obj, now, wakeups)
        else:
            self._kubelet(obj, now, wakeups)

    # ---- helpers ---------------------------------------------------------------------------------
    def _owned(self, resource: str, owner: dict) -> list[dict]:
        uid = owner["metadata"]["uid"]
        ns = owner["metadata"].get("namespace", "")
        found = self.core.store.dependents(uid, resource)
        self.examined += len(found)
        return [
            o
            for _, o in found
            if o["metadata"].get("namespace", "") == ns
            and any(
                r.get("uid") == uid and r.get("controller")
                for r in o["metadata"].get("ownerReferences") or []
            )
        ]

    @staticmethod
    def _owner_ref(owner: dict) -> dict:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _pod_ready(self, pod: dict) -> bool:
        conds = (pod.get("status") or {}).get("conditions") or []
        ready = _condition(conds, "Ready")
        return bool(ready and ready.get("status") == "True") and not pod["metadata"].get("deletionTimestamp")

    def _pod_available(self, pod: dict, min_ready: float, now: float, wakeups: list[float]) -> bool:
        if not self._pod_ready(pod):
            return False
        since = self._ready_since.get(pod["metadata"]["uid"], now)
        if now - since >= min_ready:
            return True
        wakeups.append(since + min_ready)
        return False

    def _deployment_of_pod(self, pod: dict) -> str | None:
        ns = pod["metadata"].get("namespace", "")
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet":
                rs = self.core.store.get(REPLICASETS, ns, ref.get("name", ""))
                if rs is None:
                    continue
                for rref in rs["metadata"].get("ownerReferences") or []:
                    if rref.get("kind") == "Deployment":
                        return str(rref.get("name"))
        return None

    def _event(self, obj: dict, etype: str, reason: str, message: str, component: str) -> None:
        """Record a core/v1 Event like the controllers and kubelet do; repeats bump count (the recorder's
        aggregation), so `kubectl describe` shows what a cluster would."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "default")
        key = hashlib.sha256(f"{meta['uid']}/{reason}/{message}".encode()).hexdigest()[:16]
        name = f"{meta['name']}.{key}"
        info = self._info(EVENTS)
        ts = now_rfc3339()
        existing = self.core.store.get(EVENTS, ns, name)
        if existing is not None:
            new = clone(existing)
            new["count"] = int(existing.get("count") or 1) + 1
            new["lastTimestamp"] = ts
            self.core.update(info, existing, new, self._ctx_kcm, None)
            return
        if self.core.store.get(NAMESPACES, "", ns) is None:
            return
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion", ""),
                "kind": obj.get("kind", ""),
                "name": meta["name"],
                "namespace": ns,
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": etype,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        with contextlib.suppress(errors.ApiError):  # e.g. the namespace is terminating
            self.core.create(info, ns, body, self._ctx_kcm)

    def _write_status(self, resource: str, obj: dict, status: dict, ctx: WriteContext) -> dict:
        if obj.get("status") == status:
            return obj
        new = dict(obj)  # only its status is read by a status update
        new["status"] = status
        return self.core.update(self._info(resource), obj, new, ctx, "status")

    # ---- deployment controller -------------------------------------------------------------------
    def _sync_deployment(self, dep: dict, now: float, wakeups: list[float]) -> None:
        if dep["metadata"].get("deletionTimestamp"):
            return
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        template = spec.get("template") or {}
        phash = template_hash(template)
        all_rs = self._owned(REPLICASETS, dep)
        new_rs = next(
            (rs for rs in all_rs if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == phash),
            None,
        )
        old_rss = sorted(
            (rs for rs in all_rs if rs is not new_rs),
            key=lambda r: int((r["metadata"].get("annotations") or {}).get(REVISION, "0")),
        )
        min_ready = float(spec.get("minReadySeconds") or 0) * self.settings.min_ready_seconds_scale
        strategy = spec.get("strategy") or {}
        paused = bool(spec.get("paused"))
        if new_rs is None and not paused:
            revision = 1 + max(
                [int((r["metadata"].get("annotations") or {}).get(REVISION, "0")) for r in all_rs] or [0]
            )
            new_rs = self._create_rs(dep, template, phash, revision, 0)
        if new_rs is None:
            return
        rs_info = self._info(REPLICASETS)

        def avail(rs: dict) -> int:
            return sum(1 for p in self._owned(PODS, rs) if self._pod_available(p, min_ready, now, wakeups))

        def set_replicas(rs: dict, n: int) -> dict:
            if (rs.get("spec") or {}).get("replicas") == n:
                return rs
            new = clone(rs)
            new["spec"]["replicas"] = n
            ann = new["metadata"].setdefault("annotations", {})
            ann["deployment.kubernetes.io/desired-replicas"] = str(replicas)
            current = int((rs.get("spec") or {}).get("replicas") or 0)
            direction = "up" if n > current else "down"
            self._event(
                dep,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs['metadata']['name']} from {current} to {n}",
                "deployment-controller",
            )
            return self.core.update(rs_info, rs, new, self._ctx_kcm, None)

        if not paused:
            if strategy.get("type") == "Recreate":
                for rs in old_rss:
                    set_replicas(rs, 0)
                old_pods = sum(len(self._owned(PODS, rs)) for rs in old_rss)
                if old_pods == 0:
                    new_rs = set_replicas(new_rs, replicas)
            else:
                ru = strategy.get("rollingUpdate") or {}
                surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
                unavail = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
                if surge == 0 and unavail == 0:
                    unavail = 1
                cur_new = int(new_rs["spec"].get("replicas") or 0)
                if cur_new > replicas:
                    new_rs = set_replicas(new_rs, replicas)
                elif cur_new < replicas:
                    total = sum(int(rs["spec"].get("replicas") or 0) for rs in [new_rs, *old_rss])
                    room = replicas + surge - total
                    if room > 0:
                        new_rs = set_replicas(new_rs, min(replicas, cur_new + room))
                min_available = replicas - unavail
                available_total = avail(new_rs) + sum(avail(rs) for rs in old_rss)
                can_remove = available_total - min_available
                for rs in old_rss:
                    cur = int(rs["spec"].get("replicas") or 0)
                    if cur == 0:
                        continue
                    healthy = avail(rs)
                    reduce = cur - healthy
                    extra = max(0, min(healthy, can_remove))
                    can_remove -= extra
                    set_replicas(rs, cur - reduce - extra)
            self._prune_history(dep, old_rss, int(spec.get("revisionHistoryLimit", 10)))
        revision = (new_rs["metadata"].get("annotations") or {}).get(REVISION, "1")
        if (dep["metadata"].get("annotations") or {}).get(REVISION) != revision:
            new_dep = clone(dep)
            new_dep["metadata"].setdefault("annotations", {})[REVISION] = revision
            dep = self.core.update(self._info(DEPLOYMENTS), dep, new_dep, self._ctx_kcm, None)
        self._deployment_status(dep, new_rs, old_rss, replicas, min_ready, now, wakeups)

    def _create_rs(self, dep: dict, template: dict, phash: str, revision: int, replicas: int) -> dict:
        meta = dep["metadata"]
        tmpl = clone(template)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = phash
        selector = clone((dep.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
        spec = dep.get("spec") or {}
        body: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{phash}",
                "namespace": meta.get("namespace", "default"),
                "labels": dict(tmpl["metadata"]["labels"]),
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1)),
                    REVISION: str(revision),
                },
                "ownerReferences": [self._owner_ref(dep)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": tmpl,
            },
        }
        info = self._info(REPLICASETS)
        try:
            return self.core.create(info, meta.get("namespace"), body, self._ctx_kcm)
        except errors.ApiError:
            existing = self.core.store.get(REPLICASETS, meta.get("namespace", ""), body["metadata"]["name"])
            if existing is None:
                raise
            return existing

    def _prune_history(self, dep: dict, old_rss: list[dict], limit: int) -> None:
        idle = [
            rs for rs in old_rss if int(rs["spec"].get("replicas") or 0) == 0 and not self._owned(PODS, rs)
        ]
        excess = len(idle) - max(0, limit)
        info = self._info(REPLICASETS)
        for rs in idle[: max(0, excess)]:
            meta = rs["metadata"]
            self.core.delete(info, meta.get("namespace", ""), meta["name"], {}, self._ctx_kcm)

    def _deployment_status(
        self,
        dep: dict,
        new_rs: dict,
        old_rss: list[dict],
        replicas: int,
        min_ready: float,
        now: float,
        wakeups: list[float],
    ) -> None:
        pods_new = [p for p in self._owned(PODS, new_rs) if not p["metadata"].get("deletionTimestamp")]
        pods_all = list(pods_new)
        for rs in old_rss:
            pods_all.extend(p for p in self._owned(PODS, rs) if not p["metadata"].get("deletionTimestamp"))
        ready = sum(1 for p in pods_all if self._pod_ready(p))
        available = sum(1 for p in pods_all if self._pod_available(p, min_ready, now, wakeups))
        updated = len(pods_new)
        total = len(pods_all)
        spec = dep.get("spec") or {}
        strategy = spec.get("strategy") or {}
        unavail_allowed = 0
        if strategy.get("type") != "Recreate":
            ru = strategy.get("rollingUpdate") or {}
            unavail_allowed = resolve_int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
            surge = resolve_int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
            if surge == 0 and unavail_allowed == 0:
                unavail_allowed = 1
        old_status = dep.get("status") or {}
        old_conds = old_status.get("conditions") or []
        ts = now_rfc3339()

        def cond(ctype: str, status: str, reason: str, message: str) -> dict:
            prev = _condition(old_conds, ctype)
            if (
                prev
                and prev.get("status") == status
                and prev.get("reason") == reason
                and prev.get("message") == message
            ):
                return prev
            transition = prev["lastTransitionTime"] if prev and prev.get("status") == status else ts
            return {
                "type": ctype,
                "status": status,
                "lastUpdateTime": ts,
                "lastTransitionTime": transition,
                "reason": reason,
                "message": message,
            }

        rs_name = new_rs["metadata"]["name"]
        if available >= replicas - unavail_allowed:
            available_c = cond(
                "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
            )
        else:
            available_c = cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        complete = (
            updated == replicas
            and available >= replicas
            and total == replicas
            and int(new_rs["spec"].get("replicas") or 0) == replicas
        )
        state = (updated, available, ready, total, rs_name)
        uid = dep["metadata"]["uid"]
        prev_state = self._progress.get(uid)
        if prev_state is None or prev_state[0] != state:
            self._progress[uid] = (state, now)
            since = now
        else:
            since = prev_state[1]
        deadline = float(spec.get("progressDeadlineSeconds", 600)) * self.settings.progress_deadline_scale
        if complete:
            progressing_c = cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        elif spec.get("paused"):
            progressing_c = cond("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused")
        elif now - since >= deadline:
            progressing_c = cond(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
            )
        else:
            progressing_c = cond(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
            )
            wakeups.append(since + deadline)
        status: dict[str, Any] = {"observedGeneration": dep["metadata"].get("generation", 1)}
        for key, value in (
            ("replicas", total),
            ("updatedReplicas", updated),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", max(0, replicas - available)),
        ):
            if value:
                status[key] = value
        status["conditions"] = [available_c, progressing_c]
        self._write_status(DEPLOYMENTS, dep, status, self._ctx_kcm)

    # ---- replicaset controller -------------------------------------------------------------------
    def _sync_replicaset(self, rs: dict, now: float, wakeups: list[float]) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            return
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        pods = [p for p in self._owned(PODS, rs) if not p["metadata"].get("deletionTimestamp")]
        pod_info = self._info(PODS)
        ns = rs["metadata"].get("namespace", "")
        refused: errors.ApiError | None = None
        if len(pods) < want:
            template = (rs.get("spec") or {}).get("template") or {}
            for _ in range(want - len(pods)):
                meta = clone(template.get("metadata") or {})
                meta["generateName"] = f"{rs['metadata']['name']}-"
                meta["namespace"] = ns
                meta["ownerReferences"] = [self._owner_ref(rs)]
                body = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": meta,
                    "spec": clone(template.get("spec") or {}),
                }
                try:
                    pod = self.core.create(pod_info, ns, body, self._ctx_kcm)
                except errors.ApiError as exc:
                    refused = exc  # status still written below; the key is retried with backoff
                    break
                self._event(
                    rs,
                    "Normal",
                    "SuccessfulCreate",
                    f"Created pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
                pods.append(pod)
        elif len(pods) > want:
            victims = sorted(pods, key=lambda p: (self._pod_ready(p), p["metadata"]["creationTimestamp"]))
            for pod in victims[: len(pods) - want]:
                self.core.delete(pod_info, ns, pod["metadata"]["name"], {}, self._ctx_kcm)
                self._event(
                    rs,
                    "Normal",
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    "replicaset-controller",
                )
                pods.remove(pod)
        min_ready = (
            float((rs.get("spec") or {}).get("minReadySeconds") or 0) * self.settings.min_ready_seconds_scale
        )
        status: dict[str, Any] = {"replicas": len(pods)}
        labels_ok = len(pods)
        ready = sum(1 for p in pods if self._pod_ready(p))
        available = sum(1 for p in pods if self._pod_available(p, min_ready, now, wakeups))
        if labels_ok:
            status["fullyLabeledReplicas"] = labels_ok
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        self._write_status(REPLICASETS, rs, status, self._ctx_kcm)
        if refused is not None:
            raise refused

    # ---- kubelet ---------------------------------------------------------------------------------
    def _missing_config(self, pod: dict) -> str | None:
        """What a kubelet reports as CreateContainerConfigError: a referenced Secret/ConfigMap/key is missing."""
        ns = pod["metadata"].get("namespace", "")
        spec = pod.get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for src in c.get("envFrom") or []:
                for kind, resource in (("secretRef", "secrets"), ("configMapRef", "configmaps")):
                    ref = src.get(kind)
                    if (
                        ref
                        and not ref.get("optional")
                        and self.core.store.get(resource, ns, ref.get("name", "")) is None
                    ):
                        return f'{resource[:-1] if resource == "secrets" else "configmap"} "{ref.get("name")}" not found'
            for env in c.get("env") or []:
                vf = env.get("valueFrom") or {}
                for kind, resource, label in (
                    ("secretKeyRef", "secrets", "secret"),
                    ("configMapKeyRef", "configmaps", "configmap"),
                ):
                    ref = vf.get(kind)
                    if not ref or ref.get("optional"):
                        continue
                    obj = self.core.store.get(resource, ns, ref.get("name", ""))
                    if obj is None:
                        return f'{label} "{ref.get("name")}" not found'
                    data = dict(obj.get("data") or {})
                    data.update(obj.get("binaryData") or {})
                    if ref.get("key") not in data:
                        return f"couldn't find key {ref.get('key')} in {label.capitalize() if label == 'secret' else 'ConfigMap'} {ns}/{ref.get('name')}"
        return None

    def _kubelet(self, pod: dict, now: float, wakeups: list[float]) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            return
        uid = pod["metadata"]["uid"]
        if uid not in self._due:
            self._due[uid] = now + self.settings.rollout_delay
        status = clone(pod.get("status") or {})
        spec = pod.get("spec") or {}
        containers = spec.get("containers") or []
        ts = now_rfc3339()
        if not status.get("startTime"):
            node_name = spec.get("nodeName") or self._schedule(pod, status, ts)
            if not node_name:
                self._due.pop(uid, None)  # the kubelet's clock starts when the pod is bound
                return
            node = self._nodes.get(node_name)
            address = node.address if node is not None else "10.0.0.10"
            status.update(
                {
                    "phase": "Pending",
                    "conditions": [
                        {
                            "type": "PodScheduled",
                            "status": "True",
                            "lastProbeTime": None,
                            "lastTransitionTime": ts,
                        }
                    ],
                    "hostIP": address,
                    "hostIPs": [{"ip": address}],
                    "startTime": ts,
                    "qosClass": self._qos(containers),
                    "containerStatuses": [container_status.waiting(c, "ContainerCreating", "", 0) for c in containers],
                }
            )
            if spec.get("nodeName"):
                self._write_pod(pod, status)
            else:
                self._bind(pod, node_name, status)
            self._event(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
                f" to {node_name}",
                "default-scheduler",
            )
            wakeups.append(self._due[uid])
            return
        due = self._due[uid]
        if now < due:
            wakeups.append(due)
            return
        dep = self._deployment_of_pod(pod)
        mode = self._modes.get((pod["metadata"].get("namespace", ""), dep)) if dep else None
        missing = self._missing_config(pod)
        if missing and (mode is None or mode[0] == "CreateContainerConfigError"):
            mode = ("CreateContainerConfigError", mode[1] if mode and mode[1] else missing)
        pod_ip = status.get("podIP") or f"10.244.0.{random.randint(2, 254)}"
        if mode is None:
            statuses = [self._running(c, status, ts) for c in containers]
            self._set_phase(status, "Running", True, [], ts)
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
            status["containerStatuses"] = statuses
            if uid not in self._ready_since:
                self._ready_since[uid] = now
                for c in containers:
                    if "running" in (
                        next((x for x in statuses if x["name"] == c.get("name")), {}).get("state") or {}
                    ):
                        self._started_events(pod, c)
        else:
            reason, message = mode
            self._ready_since.pop(uid, None)
            prev = {s.get("name"): s for s in status.get("containerStatuses") or []}
            statuses = []
            for i, c in enumerate(containers):
                p = prev.get(c.get("name")) or {}
                restarts = int(p.get("restartCount") or 0)
                if reason == "CrashLoopBackOff" and i == 0:
                    restarts += 1
                    msg = message or (
                        f"back-off 10s restarting failed container={c.get('name')} "
                        f"pod={pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}({uid})"
                    )
                    st = container_status.waiting(c, reason, msg, restarts)
                    st["lastState"] = {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": ts,
                            "finishedAt": ts,
                            "containerID": f"containerd://{uid.replace('-', '')}{restarts:04d}",
                        }
                    }
                elif reason == "ImagePullBackOff":
                    st = container_status.waiting(
                        c, reason, message or f'Back-off pulling image "{c.get("image", "")}"', 0
                    )
                elif reason == "CreateContainerConfigError":
                    st = container_status.waiting(c, reason, message, 0)
                else:
                    st = self._running(c, status, ts)
                statuses.append(st)
            phase = "Running" if reason == "CrashLoopBackOff" else "Pending"
            not_ready = [c.get("name", "") for c in containers]
            self._set_phase(status, phase, False, not_ready, ts)
            if phase == "Running":
                status["podIP"] = pod_ip
                status["podIPs"] = [{"ip": pod_ip}]
            status["containerStatuses"] = statuses
            if reason == "CrashLoopBackOff":
                self._due[uid] = now + self.settings.rollout_delay
                wakeups.append(self._due[uid])
            first = containers[0].get("name", "") if containers else ""
            if reason == "CrashLoopBackOff":
                self._event(
                    pod,
                    "Warning",
                    "BackOff",
                    f"Back-off restarting failed container {first} in pod "
                    f"{pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}({uid})",
                    "kubelet",
                )
            elif reason == "ImagePullBackOff":
                image = containers[0].get("image", "") if containers else ""
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', "kubelet")
                self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet")
            else:
                self._event(pod, "Warning", "Failed", f"Error: {message}", "kubelet")
        self._write_pod(pod, status)

    # ---- scheduler -------------------------------------------------------------------------------
    def _track_binding(self, pod: dict) -> None:
        """Count a bound pod's requests against its node (once; a pod never moves)."""
        uid = pod["metadata"].get("uid", "")
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or uid in self._pod_node:
            return
        self._pod_node[uid] = node
        self._bound.setdefault(node, {})[uid] = scheduler.pod_requests(pod)
        self._unscheduled.discard(self._key(PODS, pod))

    def _used(self, node: str) -> tuple[float, float, int]:
        pods = self._bound.get(node) or {}
        return sum(c for c, _ in pods.values()), sum(m for _, m in pods.values()), len(pods)

    def _schedule(self, pod: dict, status: dict, ts: str) -> str | None:
        """The node the pod goes to (the first that fits, by name), or None after writing the scheduler's
        PodScheduled=False Unschedulable condition (once per distinct message) and FailedScheduling event."""
        failures = []
        for name in sorted(self._nodes):
            reasons, resolvable = scheduler.node_failures(self._nodes[name], pod, self._used(name))
            if not reasons:
                return name
            failures.append((reasons, resolvable))
        key = self._key(PODS, pod)
        self._unscheduled.add(key)
        message = scheduler.unschedulable_message(len(self._nodes), failures)
        current = _condition(status.get("conditions") or [], "PodScheduled")
        if current and current.get("message") == message:
            return None
        new_status = dict(status)
        new_status["phase"] = "Pending"
        new_status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": current.get("lastTransitionTime", ts)
                if current and current.get("status") == "False"
                else ts,
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        self._write_status(PODS, pod, new_status, self._ctx_scheduler)
        self._event(pod, "Warning", "FailedScheduling", message, "default-scheduler")
        return None

    def _bind(self, pod: dict, node: str, status: dict) -> None:
        """pods/binding: spec.nodeName and the PodScheduled condition in one write (no generation bump)."""
        new = clone(pod)
        new["spec"]["nodeName"] = node
        new["status"] = status
        self.core.bind(self._info(PODS), pod, new, self._ctx_scheduler)

    def _started_events(self, pod: dict, c: dict) -> None:
        image, name = c.get("image", ""), c.get("name", "")
        self._event(
            pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', "kubelet"
        )
        self._event(pod, "Normal", "Created", f"Created container: {name}", "kubelet")
        self._event(pod, "Normal", "Started", f"Started container {name}", "kubelet")

    def _write_pod(self, pod: dict, status: dict) -> None:
        self._write_status(PODS, pod, status, self._ctx_kubelet)

    @staticmethod
    def _qos(containers: list[dict]) -> str:
        res = [c.get("resources") or {} for c in containers]
        if not any(r.get("requests") or r.get("limits") for r in res):
            return "BestEffort"
        if all(
            (r.get("limits") or {}).get("cpu")
            and (r.get("limits") or {}).get("memory")
            and (r.get("requests") or r.get("limits")) == r.get("limits")
            for r in res
        ):
            return "Guaranteed"
        return "Burstable"

    @staticmethod
    def _running(c: dict, status: dict, ts: str) -> dict:
        prev: dict[str, Any] = next(
            (s for s in status.get("containerStatuses") or [] if s.get("name") == c.get("name")), {}
        )
        if "running" in (prev.get("state") or {}):
            return prev
        return container_status.running(c, prev, ts)

    @staticmethod
    def _set_phase(status: dict, phase: str, ready: bool, not_ready: list[str], ts: str) -> None:
        status["phase"] = phase
        old = {c.get("type"): c for c in status.get("conditions") or []}

        def cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
            value = "True" if ok else "False"
            prev = old.get(ctype)
            c: dict[str, Any] = {
                "type": ctype,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": prev["lastTransitionTime"]
                if prev and prev.get("status") == value
                else ts,
            }
            if not ok and reason:
                c["reason"] = reason
                c["message"] = message
            return c

        msg = f"containers with unready status: [{' '.join(not_ready)}]"
        status["conditions"] = [
            cond("PodReadyToStartContainers", phase == "Running"),
            cond("Initialized", True),
            cond("Ready", ready, "ContainersNotReady", msg),
            cond("ContainersReady", ready, "ContainersNotReady", msg),
            cond("PodScheduled", True),
        ]
