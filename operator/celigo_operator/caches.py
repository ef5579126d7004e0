"""Watch-fed caches in front of the Kubernetes API for what a pass reads most: the operator's own
Deployments and the opted-in source Secrets.

The kopf event handlers (server-side label selectors, handlers.SELECTORS) feed every event in; a pass reads
from here. A cache miss is never taken as "absent": the object is read from the API (a Deployment not seen
yet, a referenced Secret without the opt-in label, which only a GET can tell from a missing one). What the
operator writes goes into the cache at once (write-through), so the next pass never builds on an older
version than its own write. A newer resourceVersion always wins over an older one, whichever path brought
it. Objects are kept without managedFields.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s

from celigo_operator.kube import Kube

DEPLOYMENTS = "deployments"
SECRETS = "secrets"
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _rv(body: Mapping[str, Any]) -> int | None:
    raw = (body.get("metadata") or {}).get("resourceVersion")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the operator uses of an object: no managedFields, no last-applied copy."""
    out = copy.deepcopy(dict(body))
    meta = out.get("metadata") or {}
    meta.pop("managedFields", None)
    annotations = meta.get("annotations")
    if annotations:
        for name in _DROPPED_ANNOTATIONS:
            annotations.pop(name, None)
    return out


class CachedKube(Kube):
    """`Kube` whose Deployment and source Secret reads are served from the watch-fed caches when they can be."""

    def __init__(self, api_client: k8s.ApiClient, *, workers: int = 8, timeout: float = 30.0) -> None:
        super().__init__(api_client, workers=workers, timeout=timeout)
        self.store: dict[str, dict[str, dict[str, Any]]] = {DEPLOYMENTS: {}, SECRETS: {}}
        self.hits: Counter[str] = Counter()  # kind -> reads answered from the cache

    # --- fed by watch events and by our own writes -------------------------------------------------

    def observe(self, kind: str, event_type: str | None, body: Mapping[str, Any]) -> None:
        cache = self.store.get(kind)
        meta = body.get("metadata") or {}
        if cache is None or not meta.get("name"):
            return
        key = _key(meta.get("namespace", ""), meta["name"])
        if event_type == "DELETED":
            current = cache.get(key)
            if current is None or (current["metadata"].get("uid") == meta.get("uid")):
                cache.pop(key, None)
            return
        self._put(cache, key, body)

    @staticmethod
    def _put(cache: dict[str, dict[str, Any]], key: str, body: Mapping[str, Any]) -> None:
        current = cache.get(key)
        if current is not None:
            old, new = _rv(current), _rv(body)
            same = current["metadata"].get("uid") == (body.get("metadata") or {}).get("uid")
            if same and old is not None and new is not None and new < old:
                return  # an older event than what is cached (e.g. our own write got here first)
        cache[key] = slim(body)

    def forget_namespace_object(self, kind: str, namespace: str, name: str) -> None:
        self.store.get(kind, {}).pop(_key(namespace, name), None)

    # --- reads --------------------------------------------------------------------------------------

    async def get_deployment(self, namespace: str, name: str) -> dict | None:
        cached = self.store[DEPLOYMENTS].get(_key(namespace, name))
        if cached is not None:
            self.hits[DEPLOYMENTS] += 1
            return copy.deepcopy(cached)
        found = await super().get_deployment(namespace, name)
        if found is not None:
            self._put(self.store[DEPLOYMENTS], _key(namespace, name), found)
        return found

    async def get_secret(self, namespace: str, name: str) -> dict | None:
        cached = self.store[SECRETS].get(_key(namespace, name))
        if cached is not None:
            self.hits[SECRETS] += 1
            return copy.deepcopy(cached)
        return await super().get_secret(namespace, name)

    # --- writes (through) ---------------------------------------------------------------------------

    async def create_deployment(self, body: Mapping[str, Any]) -> dict:
        created = await super().create_deployment(body)
        self._put(self.store[DEPLOYMENTS], _key(body["metadata"]["namespace"], body["metadata"]["name"]), created)
        return created

    async def replace_deployment(self, body: Mapping[str, Any]) -> dict:
        try:
            replaced = await super().replace_deployment(body)
        except Exception:
            # A conflict or a missing object: whatever the cache held is not to be trusted for this one.
            self.forget_namespace_object(DEPLOYMENTS, body["metadata"]["namespace"], body["metadata"]["name"])
            raise
        self._put(self.store[DEPLOYMENTS], _key(body["metadata"]["namespace"], body["metadata"]["name"]), replaced)
        return replaced
