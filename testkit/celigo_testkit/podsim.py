"""A simulated node and pod lifecycle driven through the API, as KWOK does: no kubelet, no scheduler.

One Node object is registered Ready (the control plane runs without the node-lifecycle controller, so it
needs no heartbeats). Pods that fit it (nodeSelector, required node affinity, resource requests) are bound
with the Binding subresource, as the scheduler would; pods that do not stay Pending with the scheduler's
`PodScheduled=False Unschedulable`. Bound pods get the status a kubelet reports through pods/status:
ContainerCreating, then Running and Ready after `ready_delay`; or a failure mode set per Deployment
(CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError) and, as a kubelet does,
CreateContainerConfigError while a Secret/ConfigMap or key the containers read is missing. A terminating
pod is deleted at once (grace period 0), as a kubelet does once its containers have stopped.
kube-controller-manager does Deployments -> ReplicaSets -> Pods and garbage collection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from celigo_testkit.controlplane import ControlPlane
from celigo_testkit.kube import container_status

log = logging.getLogger(__name__)
FAILURE_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError")
Key = tuple[str, str]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity(value: Any) -> float:
    """A Kubernetes quantity as a float (cores or bytes); enough for fitting requests."""
    s = str(value)
    units = {"m": 1e-3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix in sorted(units, key=len, reverse=True):
        if s.endswith(suffix):
            return float(s[: -len(suffix)]) * units[suffix]
    return float(s)


@dataclass
class SimSettings:
    ready_delay: float = 0.05  # bound -> Running/Ready
    retry_interval: float = 1.0  # how often a failing pod is looked at again (restart counts, config back)
    workers: int = 1  # pods synced at once (a kubelet per node runs in parallel; the bench's 1000 pods need it)

    # the emulator's name for the same knob, so tests can set either
    @property
    def rollout_delay(self) -> float:
        return self.ready_delay

    @rollout_delay.setter
    def rollout_delay(self, value: float) -> None:
        self.ready_delay = value


class PodSimulator:
    """Node + kubelet + scheduler stand-in for one ControlPlane; thread-based, `start()`/`stop()`."""

    def __init__(
        self,
        cp: ControlPlane,
        node: str = "sim-node-0",
        *,
        settings: SimSettings | None = None,
        capacity: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.cp = cp
        self.node = node
        self.settings = settings or SimSettings()
        self.capacity = capacity or {"cpu": "64", "memory": "256Gi", "pods": "10000", "ephemeral-storage": "1Ti"}
        self.labels = {
            "kubernetes.io/hostname": node,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "celigo-testkit-sim",
            **(labels or {}),
        }
        self._modes: dict[Key, tuple[str, str]] = {}
        self._pods: dict[Key, dict] = {}
        self._due: list[tuple[float, Key]] = []
        self._scheduled: dict[Key, float] = {}  # key -> when it is due (the heap may hold stale entries)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._bound_at: dict[str, float] = {}  # pod uid -> when it was bound
        self._restart_due: dict[str, float] = {}  # crash-looping pod uid -> when it next "restarts"
        self._cordoned = False  # the node's spec.unschedulable, as the scheduler stand-in reads it
        self._inflight: set[Key] = set()  # pods a worker is syncing now (never two workers on one pod)
        self._http = cp.http(cp.kubelet_token, timeout=15.0)
        self.errors = 0

    # ---- public --------------------------------------------------------------------------------
    def crash_loop(
        self, namespace: str, deployment: str, reason: str = "CrashLoopBackOff", message: str = ""
    ) -> None:
        """Make the deployment's pods fail as a kubelet reports it, until heal()."""
        if reason not in FAILURE_REASONS:
            raise ValueError(f"reason must be one of {FAILURE_REASONS}")
        with self._cond:
            self._modes[(namespace, deployment)] = (reason, message)
        self._requeue_namespace(namespace)

    def heal(self, namespace: str, deployment: str) -> None:
        with self._cond:
            self._modes.pop((namespace, deployment), None)
        self._requeue_namespace(namespace)

    def cordon(self, unschedulable: bool = True) -> None:
        """`kubectl cordon` (or uncordon) of the simulated node: spec.unschedulable, which the scheduler
        stand-in honours, so new pods stay Pending (`Unschedulable`: a cluster with no room for them)."""
        resp = self._http.patch(
            f"/api/v1/nodes/{self.node}",
            json={"spec": {"unschedulable": True if unschedulable else None}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        resp.raise_for_status()
        with self._cond:
            self._cordoned = unschedulable
            for key in self._pods:
                self._push(key, 0.0)

    def start(self) -> PodSimulator:
        self._register_node()
        for target in (self._watch_loop, *[self._work_loop] * max(1, self.settings.workers)):
            t = threading.Thread(target=target, name=f"podsim-{target.__name__}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(5)
        self._http.close()

    def __enter__(self) -> PodSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the node --------------------------------------------------------------------------------
    def _register_node(self) -> None:
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node, "labels": self.labels}}
        resp = self._http.post("/api/v1/nodes", json=body)
        if resp.status_code not in (201, 409):
            resp.raise_for_status()
        ts = _now()
        status = {
            "capacity": self.capacity,
            "allocatable": self.capacity,
            "conditions": [
                {"type": t, "status": s, "reason": r, "lastHeartbeatTime": ts, "lastTransitionTime": ts}
                for t, s, r in (
                    ("Ready", "True", "KubeletReady"),
                    ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                    ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                    ("PIDPressure", "False", "KubeletHasSufficientPID"),
                )
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": self.node}],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "v1.36.2",
                "containerRuntimeVersion": "containerd://sim",
                "kernelVersion": "",
                "osImage": "celigo-testkit simulated node",
                "bootID": "",
                "machineID": "",
                "systemUUID": "",
                "kubeProxyVersion": "",
            },
        }
        resp = self._http.patch(
            f"/api/v1/nodes/{self.node}/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        resp.raise_for_status()

    # ---- watch -----------------------------------------------------------------------------------
    def _watch_loop(self) -> None:
        rv = ""
        while not self._stop.is_set():
            try:
                if not rv:
                    resp = self._http.get("/api/v1/pods")
                    resp.raise_for_status()
                    data = resp.json()
                    rv = data["metadata"]["resourceVersion"]
                    with self._cond:
                        self._pods = {
                            (p["metadata"]["namespace"], p["metadata"]["name"]): p for p in data["items"]
                        }
                        for key in self._pods:
                            self._push(key, 0.0)
                params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "60"}
                with self._http.stream("GET", "/api/v1/pods", params=params, timeout=httpx.Timeout(10, read=90)) as r:
                    r.raise_for_status()
                    for line in r.iter_lines():
                        if self._stop.is_set():
                            return
                        if not line:
                            continue
                        ev = json.loads(line)
                        obj = ev["object"]
                        if ev["type"] == "ERROR":
                            rv = ""  # 410 Expired and the like: list again
                            break
                        rv = obj["metadata"].get("resourceVersion", rv)
                        if ev["type"] == "BOOKMARK":
                            continue
                        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
                        with self._cond:
                            if ev["type"] == "DELETED":
                                self._pods.pop(key, None)
                                self._bound_at.pop(obj["metadata"]["uid"], None)
                                self._restart_due.pop(obj["metadata"]["uid"], None)
                            else:
                                self._pods[key] = obj
                                self._push(key, 0.0)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                if self._stop.is_set():
                    return
                log.debug("podsim watch: %s", exc)
                self.errors += 1
                rv = ""
                self._stop.wait(0.5)

    # ---- work ------------------------------------------------------------------------------------
    def _push(self, key: Key, delay: float) -> None:
        """Caller holds the lock."""
        due = time.monotonic() + delay
        if key in self._scheduled and self._scheduled[key] <= due:
            return
        self._scheduled[key] = due
        heapq.heappush(self._due, (due, key))
        self._cond.notify()

    def _requeue_namespace(self, namespace: str) -> None:
        with self._cond:
            for key in self._pods:
                if key[0] == namespace:
                    self._push(key, 0.0)

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set():
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        due, key = heapq.heappop(self._due)
                        if self._scheduled.get(key) != due:
                            continue  # superseded by an earlier push of the same key
                        del self._scheduled[key]
                        if key in self._inflight:  # another worker has it: look again right after
                            self._push(key, 0.01)
                            continue
                        pod = self._pods.get(key)
                        self._inflight.add(key)
                        break
                    self._cond.wait(min(1.0, self._due[0][0] - now) if self._due else 1.0)
                else:
                    return
            try:
                if pod is not None:
                    self._sync(key, pod)
            except httpx.HTTPError as exc:
                log.debug("podsim sync %s: %s", key, exc)
                self.errors += 1
                with self._cond:
                    self._push(key, 0.5)
            finally:
                with self._cond:
                    self._inflight.discard(key)

    def _sync(self, key: Key, pod: dict) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, name = key
        if meta.get("deletionTimestamp"):
            # a kubelet deletes the pod for good once its containers stopped; ours never ran
            if spec.get("nodeName") in (None, "", self.node):
                self._http.request(
                    "DELETE",
                    f"/api/v1/namespaces/{ns}/pods/{name}",
                    json={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
                )
            return
        if not spec.get("nodeName"):
            why = self._unfit(pod)
            if why:
                self._unschedulable(pod, why)
                return
            resp = self._http.post(
                f"/api/v1/namespaces/{ns}/pods/{name}/binding",
                json={
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name, "uid": meta["uid"]},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
                },
            )
            if resp.status_code not in (201, 409):
                resp.raise_for_status()
            return  # the watch brings the bound pod back
        if spec["nodeName"] != self.node:
            return
        self._kubelet(key, pod)

    # ---- scheduler -------------------------------------------------------------------------------
    def _unfit(self, pod: dict) -> str:
        spec = pod.get("spec") or {}
        if self._cordoned:
            return "1 node(s) were unschedulable"
        for k, v in (spec.get("nodeSelector") or {}).items():
            if self.labels.get(k) != v:
                return "1 node(s) didn't match Pod's node affinity/selector"
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}).get("nodeSelectorTerms")
        if required and not any(self._term_matches(t) for t in required):
            return "1 node(s) didn't match Pod's node affinity/selector"
        for resource in ("cpu", "memory"):
            total = 0.0
            for c in spec.get("containers") or []:
                req = (c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get("limits") or {}
                if resource in req:
                    total += _quantity(req[resource])
            if total > _quantity(self.capacity[resource]):
                return f"1 Insufficient {resource}"
        return ""

    def _term_matches(self, term: dict) -> bool:
        for expr in term.get("matchExpressions") or []:
            key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
            have = self.labels.get(key)
            ok = {
                "In": have is not None and have in values,
                "NotIn": have is None or have not in values,
                "Exists": have is not None,
                "DoesNotExist": have is None,
            }.get(op, False)
            if not ok:
                return False
        return True

    def _unschedulable(self, pod: dict, why: str) -> None:
        conds = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conds):
            return
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        status = {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": f"0/1 nodes are available: {why}.",
                    "lastProbeTime": None,
                    "lastTransitionTime": _now(),
                }
            ],
        }
        self._patch_status(ns, name, status)

    # ---- kubelet ---------------------------------------------------------------------------------
    def _missing_config(self, pod: dict) -> str | None:
        ns = pod["metadata"]["namespace"]
        spec = pod.get("spec") or {}
        cache: dict[tuple[str, str], dict | None] = {}

        def get(resource: str, name: str) -> dict | None:
            if (resource, name) not in cache:
                resp = self._http.get(f"/api/v1/namespaces/{ns}/{resource}/{name}")
                if resp.status_code == 404:
                    cache[(resource, name)] = None
                else:
                    resp.raise_for_status()
                    cache[(resource, name)] = resp.json()
            return cache[(resource, name)]

        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for src in c.get("envFrom") or []:
                for kind, resource, label in (("secretRef", "secrets", "secret"), ("configMapRef", "configmaps", "configmap")):
                    ref = src.get(kind)
                    if ref and not ref.get("optional") and get(resource, ref.get("name", "")) is None:
                        return f'{label} "{ref.get("name")}" not found'
            for env in c.get("env") or []:
                vf = env.get("valueFrom") or {}
                for kind, resource, label in (
                    ("secretKeyRef", "secrets", "secret"),
                    ("configMapKeyRef", "configmaps", "configmap"),
                ):
                    ref = vf.get(kind)
                    if not ref or ref.get("optional"):
                        continue
                    obj = get(resource, ref.get("name", ""))
                    if obj is None:
                        return f'{label} "{ref.get("name")}" not found'
                    data = {**(obj.get("data") or {}), **(obj.get("binaryData") or {})}
                    if ref.get("key") not in data:
                        what = "Secret" if label == "secret" else "ConfigMap"
                        return f"couldn't find key {ref.get('key')} in {what} {ns}/{ref.get('name')}"
        return None

    @staticmethod
    def _deployment_of(pod: dict) -> str | None:
        meta = pod["metadata"]
        phash = (meta.get("labels") or {}).get("pod-template-hash")
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet" and phash and ref.get("name", "").endswith(f"-{phash}"):
                return str(ref["name"])[: -len(phash) - 1]
        return None

    def _kubelet(self, key: Key, pod: dict) -> None:
        ns, name = key
        meta, spec = pod["metadata"], pod.get("spec") or {}
        status = pod.get("status") or {}
        containers = spec.get("containers") or []
        uid = meta["uid"]
        now = time.monotonic()
        ts = _now()
        with self._cond:
            bound = self._bound_at.setdefault(uid, now)
        if not status.get("startTime"):
            new = {
                "phase": "Pending",
                "hostIP": "10.0.0.10",
                "hostIPs": [{"ip": "10.0.0.10"}],
                "startTime": ts,
                "conditions": self._conditions(status, "Pending", False, containers, ts),
                "containerStatuses": [container_status.waiting(c, "ContainerCreating", "", 0) for c in containers],
            }
            self._patch_status(ns, name, new)
            with self._cond:
                self._push(key, self.settings.ready_delay)
            return
        if now < bound + self.settings.ready_delay:
            with self._cond:
                self._push(key, bound + self.settings.ready_delay - now)
            return
        dep = self._deployment_of(pod)
        with self._cond:
            mode = self._modes.get((ns, dep)) if dep else None
        missing = self._missing_config(pod)
        if missing and (mode is None or mode[0] == "CreateContainerConfigError"):
            mode = ("CreateContainerConfigError", mode[1] if mode and mode[1] else missing)
        uid_ip = int(hashlib.sha256(uid.encode()).hexdigest()[:4], 16) % 250 + 2
        pod_ip = status.get("podIP") or f"10.244.{uid_ip % 200}.{uid_ip}"
        prev = {s.get("name"): s for s in status.get("containerStatuses") or []}
        if mode is None:
            statuses = [self._running(c, prev.get(c.get("name")) or {}, ts) for c in containers]
            new = {
                "phase": "Running",
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "conditions": self._conditions(status, "Running", True, containers, ts),
                "containerStatuses": statuses,
            }
            if self._same(status, new):
                return
            self._patch_status(ns, name, new)
            return
        reason, message = mode
        if reason == "CrashLoopBackOff":
            # one restart per retry_interval, not one per watch event (our own writes bring the pod back)
            due = self._restart_due.get(uid, 0.0)
            waiting = [((c.get("state") or {}).get("waiting") or {}).get("reason") for c in prev.values()]
            if now < due and "CrashLoopBackOff" in waiting:
                with self._cond:
                    self._push(key, due - now)
                return
            self._restart_due[uid] = now + self.settings.retry_interval
        statuses = []
        for i, c in enumerate(containers):
            p = prev.get(c.get("name")) or {}
            restarts = int(p.get("restartCount") or 0)
            if reason == "CrashLoopBackOff" and i == 0:
                restarts += 1
                st = container_status.waiting(
                    c,
                    reason,
                    message
                    or f"back-off 10s restarting failed container={c.get('name')} pod={name}_{ns}({uid})",
                    restarts,
                )
                st["lastState"] = {
                    "terminated": {"exitCode": 1, "reason": "Error", "startedAt": ts, "finishedAt": ts}
                }
            elif reason == "ImagePullBackOff":
                st = container_status.waiting(c, reason, message or f'Back-off pulling image "{c.get("image", "")}"', 0)
            else:
                st = container_status.waiting(c, reason, message, 0)
            statuses.append(st)
        phase = "Running" if reason == "CrashLoopBackOff" else "Pending"
        new = {"phase": phase, "conditions": self._conditions(status, phase, False, containers, ts), "containerStatuses": statuses}
        if phase == "Running":
            new["podIP"], new["podIPs"] = pod_ip, [{"ip": pod_ip}]
        if reason == "CrashLoopBackOff" or not self._same(status, new):
            self._patch_status(ns, name, new)
        with self._cond:
            self._push(key, self.settings.retry_interval)

    @staticmethod
    def _same(old: dict, new: dict) -> bool:
        def shape(s: dict) -> Any:
            return (
                s.get("phase"),
                tuple((c.get("type"), c.get("status"), c.get("reason")) for c in s.get("conditions") or []),
                tuple(
                    (c.get("name"), c.get("ready"), json.dumps(c.get("state"), sort_keys=True), c.get("image"))
                    for c in s.get("containerStatuses") or []
                ),
            )

        return bool(shape(old) == shape(new))

    def _patch_status(self, ns: str, name: str, status: dict) -> None:
        resp = self._http.patch(
            f"/api/v1/namespaces/{ns}/pods/{name}/status",
            json={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        if resp.status_code == 404:
            return
        resp.raise_for_status()

    @staticmethod
    def _conditions(old_status: dict, phase: str, ready: bool, containers: list[dict], ts: str) -> list[dict]:
        old = {c.get("type"): c for c in old_status.get("conditions") or []}
        names = " ".join(c.get("name", "") for c in containers)

        def cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
            value = "True" if ok else "False"
            prev = old.get(ctype)
            c: dict[str, Any] = {
                "type": ctype,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": prev["lastTransitionTime"] if prev and prev.get("status") == value else ts,
            }
            if not ok and reason:
                c["reason"], c["message"] = reason, message
            return c

        msg = f"containers with unready status: [{names}]"
        return [
            cond("PodReadyToStartContainers", phase == "Running"),
            cond("Initialized", True),
            cond("Ready", ready, "ContainersNotReady", msg),
            cond("ContainersReady", ready, "ContainersNotReady", msg),
            cond("PodScheduled", True),
        ]

    @staticmethod
    def _running(c: dict, prev: dict, ts: str) -> dict:
        if "running" in (prev.get("state") or {}) and prev.get("image") == c.get("image"):
            return prev
        return container_status.running(c, prev, ts)
