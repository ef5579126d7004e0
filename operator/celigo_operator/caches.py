"""Watch-fed caches in front of the Kubernetes API for what a pass reads: the connectors themselves, the
operator's own Deployments and Pods, and the opted-in source Secrets.

The kopf event handlers (server-side label selectors, handlers.SELECTORS) feed every event in; a pass reads
from here. Before kopf's watches start, the startup handler lists each watched kind once (`sync`), so the
operator reports ready only with full caches. What the operator writes goes into the cache at once
(write-through), so the next pass never builds on an older version than its own write. A newer
resourceVersion always wins over an older one, whichever path brought it. Objects are kept without
managedFields; pods keep only what says why a connector is unavailable, Deployments no status conditions.

Each entry holds the object as compact JSON (with its uid and resourceVersion beside it, for `newer` and
DELETED): a read decodes a fresh copy, which costs less than the deep copy it replaces, and the text takes a
fifth of the memory of the decoded object (a Deployment: 3.7 KB against 20 KB of dicts and strings), so 1000
connectors' objects take about 7 MiB instead of 35.

A miss: a referenced Secret without the opt-in label is read from the API (only a GET tells it from a
missing one); a connector not seen yet is read from the API; a Deployment not in the synced cache does not
exist as ours (creating it answers 409 if a foreign one has the name). An entry the startup list brought
that kopf's own listing never confirmed within `CONFIRM_GRACE` (deleted in between) is not trusted.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

from celigo_operator import api
from celigo_operator.kube import Kube, KubeError

CONNECTORS = "connectors"
DEPLOYMENTS = "deployments"
SECRETS = "secrets"
PODS = "pods"
KINDS = (CONNECTORS, DEPLOYMENTS, SECRETS, PODS)
#: How long an entry of the startup list may wait for kopf's own listing to confirm it.
CONFIRM_GRACE = 30.0
#: Status codes of a write the API server refused before storing anything (bad request, forbidden, invalid).
REFUSED = frozenset({400, 403, 422})
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
#: What a pass reads of a Deployment's status: the rollout's counts (manifests.rollout).
DEPLOYMENT_STATUS = ("observedGeneration", "replicas", "updatedReplicas", "availableReplicas")


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _rv(body: Mapping[str, Any]) -> int | None:
    raw = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached object: its uid and resourceVersion (what `newer` and DELETED compare) and the object as
    compact JSON."""

    uid: str | None
    rv: int | None
    data: bytes

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Entry:
        meta = body.get("metadata") or {}
        return cls(meta.get("uid"), _rv(body), json.dumps(body, separators=(",", ":")).encode())

    def load(self) -> dict[str, Any]:
        """A fresh copy of the object."""
        return dict(json.loads(self.data))


def newer(current: Entry | None, body: Mapping[str, Any]) -> bool:
    """Whether `body` may replace `current`: another object of the name, or not an older version."""
    if current is None:
        return True
    same = current.uid == (body.get("metadata") or {}).get("uid")
    old, new = current.rv, _rv(body)
    return not (same and old is not None and new is not None and new < old)


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the operator uses of an object: no managedFields, no last-applied copy (a copy down to the
    metadata; the rest is shared with `body`, which is not changed)."""
    out = dict(body)
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if annotations and any(name in annotations for name in _DROPPED_ANNOTATIONS):
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS}
    out["metadata"] = meta
    return out


def slim_deployment(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Deployment as a pass reads it: `slim`, and of its status only the rollout's counts."""
    out = slim(body)
    status = body.get("status")
    if status is not None:
        out["status"] = {k: status[k] for k in DEPLOYMENT_STATUS if k in status}
    return out


def slim_pod(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a pass reads of a pod (observe.pod_problem): its identity, labels and container states."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    return {
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "labels")
                     if k in meta},
        "status": {
            "phase": status.get("phase"),
            "containerStatuses": [
                {"name": cs.get("name"), "restartCount": cs.get("restartCount", 0), "state": cs.get("state")}
                for cs in status.get("containerStatuses") or []
            ],
        },
    }


class CachedKube(Kube):
    """`Kube` whose connector, Deployment, Pod and source Secret reads are served from the watch-fed caches
    when they can be."""

    def __init__(self, api_client: k8s.ApiClient, *, workers: int = 8, timeout: float = 30.0) -> None:
        super().__init__(api_client, workers=workers, timeout=timeout)
        self.store: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.pods_in: defaultdict[str, set[str]] = defaultdict(set)  # namespace -> pod keys
        self.hits: Counter[str] = Counter()  # kind -> reads answered from the cache
        self.synced = False  # the startup lists are in
        self.unconfirmed: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self.confirm_by = 0.0  # monotonic: unconfirmed entries are not trusted after this

    # --- fed by the startup list, watch events and our own writes ----------------------------------

    async def sync(self, namespaces: Iterable[str], selectors: Mapping[str, str]) -> None:
        """Fill the Deployment, Pod and Secret caches from one list each (per namespace when the operator
        watches some only), with the label selectors the watches use."""
        listers = {
            DEPLOYMENTS: (self._apps.list_deployment_for_all_namespaces, self._apps.list_namespaced_deployment),
            PODS: (self._core.list_pod_for_all_namespaces, self._core.list_namespaced_pod),
            SECRETS: (self._core.list_secret_for_all_namespaces, self._core.list_namespaced_secret),
        }
        scopes: list[str | None] = [*namespaces] or [None]
        for kind, (everywhere, namespaced) in listers.items():
            for ns in scopes:
                args = (ns,) if ns is not None else ()
                fn = namespaced if ns is not None else everywhere
                result = await self._call(kind, "", fn, *args, label_selector=selectors[kind])
                for item in result.get("items") or []:
                    meta = item.get("metadata") or {}
                    self.observe(kind, None, item)
                    self.unconfirmed[kind].add(_key(meta.get("namespace", ""), meta.get("name", "")))
        self.confirm_by = time.monotonic() + CONFIRM_GRACE
        self.synced = self.cached = True

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any], *, confirm: bool = True) -> None:
        cache = self.store.get(kind)
        meta = body.get("metadata") or {}
        if cache is None or not meta.get("name"):
            return
        key = _key(meta.get("namespace", ""), meta["name"])
        if confirm:
            self.unconfirmed[kind].discard(key)
        if event_type == "DELETED":
            current = cache.get(key)
            if current is None or current.uid == meta.get("uid"):
                self._drop(kind, key)
            return
        self._put(kind, key, body)

    def _put(self, kind: str, key: str, body: Mapping[str, Any]) -> None:
        cache = self.store[kind]
        if not newer(cache.get(key), body):
            return  # an older event than what is cached (e.g. our own write got here first)
        if kind == PODS:
            cache[key] = Entry.of(slim_pod(body))
            self.pods_in[key.split("/", 1)[0]].add(key)
        elif kind == DEPLOYMENTS:
            cache[key] = Entry.of(slim_deployment(body))
        else:
            cache[key] = Entry.of(slim(body))

    def _drop(self, kind: str, key: str) -> None:
        self.store[kind].pop(key, None)
        self.unconfirmed[kind].discard(key)
        if kind == PODS:
            ns = key.split("/", 1)[0]
            keys = self.pods_in.get(ns)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.pods_in[ns]

    def forget_namespace_object(self, kind: str, namespace: str, name: str) -> None:
        self._drop(kind, _key(namespace, name))

    def peek(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The cached object as stored (a copy), trusted or not; no read is counted."""
        found = self.store[kind].get(_key(namespace, name))
        return None if found is None else found.load()

    def _cached(self, kind: str, key: str) -> dict[str, Any] | None:
        """A trusted cache entry (a copy), or None."""
        found = self.store[kind].get(key)
        if found is None:
            return None
        if key in self.unconfirmed[kind] and time.monotonic() > self.confirm_by:
            self._drop(kind, key)  # listed at startup, never seen by kopf's watch since: gone meanwhile
            return None
        self.hits[kind] += 1
        return found.load()

    # --- reads --------------------------------------------------------------------------------------

    async def connector(self, namespace: str, name: str) -> dict | None:
        """The connector as last seen (a watch event or our own write), else as read from the API."""
        cached = self._cached(CONNECTORS, _key(namespace, name))
        if cached is not None:
            return cached
        return await self.get_connector(namespace, name)

    def _read(self, kind: str, namespace: str, name: str, found: dict | None) -> dict | None:
        """What the API answered, into the cache."""
        if found is not None:
            self._put(kind, _key(namespace, name), found)
        return found

    async def get_connector(self, namespace: str, name: str) -> dict | None:
        """Always the API (a conflict's re-read must see what is stored now); the answer updates the cache."""
        return self._read(CONNECTORS, namespace, name, await super().get_connector(namespace, name))

    async def get_deployment(self, namespace: str, name: str) -> dict | None:
        key = _key(namespace, name)
        cached = self._cached(DEPLOYMENTS, key)
        if cached is not None or (self.synced and key not in self.unconfirmed[DEPLOYMENTS]):
            return cached
        return self._read(DEPLOYMENTS, namespace, name, await super().get_deployment(namespace, name))

    async def read_deployment(self, namespace: str, name: str) -> dict | None:
        return self._read(DEPLOYMENTS, namespace, name, await super().read_deployment(namespace, name))

    async def get_secret(self, namespace: str, name: str) -> dict | None:
        cached = self._cached(SECRETS, _key(namespace, name))
        if cached is not None:
            return cached
        return await super().get_secret(namespace, name)

    async def list_pods(self, namespace: str, label_selector: str) -> list[dict]:
        """The namespace's cached pods matching an equality selector (`k=v,k2=v2`)."""
        if not self.synced:
            return await super().list_pods(namespace, label_selector)
        wanted = dict(part.split("=", 1) for part in label_selector.split(",") if part)
        pods = []
        for key in sorted(self.pods_in.get(namespace, ())):
            pod = self._cached(PODS, key)
            labels = ((pod or {}).get("metadata") or {}).get("labels") or {}
            if pod is not None and all(labels.get(k) == v for k, v in wanted.items()):
                pods.append(pod)
        return pods

    # --- writes (through) ---------------------------------------------------------------------------

    async def create_deployment(self, body: Mapping[str, Any]) -> dict:
        created = await super().create_deployment(body)
        self._put(DEPLOYMENTS, _key(body["metadata"]["namespace"], body["metadata"]["name"]), created)
        return created

    async def replace_deployment(self, body: Mapping[str, Any]) -> dict:
        try:
            replaced = await super().replace_deployment(body)
        except Exception as exc:
            # A refusal (invalid, forbidden) stored nothing: the cached Deployment still runs and is what the
            # next pass observes and replaces. Anything else (a conflict, a missing object, a write that may
            # have landed): whatever the cache held is not to be trusted for this one.
            if not (isinstance(exc, KubeError) and exc.code in REFUSED):
                self.forget_namespace_object(DEPLOYMENTS, body["metadata"]["namespace"], body["metadata"]["name"])
            raise
        self._put(DEPLOYMENTS, _key(body["metadata"]["namespace"], body["metadata"]["name"]), replaced)
        return replaced

    async def patch_connector_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict:
        written = await super().patch_connector_status(namespace, name, status, resource_version=resource_version)
        if (written.get("kind") or api.KIND) == api.KIND and written.get("metadata"):
            self._put(CONNECTORS, _key(namespace, name), written)
        return written

    async def patch_connector_metadata(self, namespace: str, name: str, metadata: Mapping[str, Any]) -> dict:
        written = await super().patch_connector_metadata(namespace, name, metadata)
        if written.get("metadata"):
            self._put(CONNECTORS, _key(namespace, name), written)
        return written
