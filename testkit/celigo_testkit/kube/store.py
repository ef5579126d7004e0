"""In-memory object storage of the emulator: one global resourceVersion counter and a change feed.

Everything here runs on the emulator's own event loop thread; nothing awaits between a read and the
write that follows it, so read-modify-write sequences are atomic without locks (like etcd transactions).
Stored objects are never mutated in place: each write stores a fresh deep copy, so snapshots handed to
watchers stay valid.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator

from .types import ChangeEvent

ObjKey = tuple[str, str]  # (namespace or "", name)


class TooOld(Exception):
    """The requested resourceVersion is older than the kept history."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class WatchHub:
    """Bounded event history plus live subscriber queues, keyed by group_resource."""

    def __init__(self, *, history: int) -> None:
        self.history: deque[ChangeEvent] = deque()
        self.max_history = max(1, history)
        self.dropped_upto = 0  # rv of the newest event no longer kept
        self._subs: dict[str, set[asyncio.Queue[ChangeEvent | None]]] = {}

    def publish(self, ev: ChangeEvent) -> None:
        """Record ev and hand it to every live watcher of its resource."""
        self.history.append(ev)
        while len(self.history) > self.max_history:
            self.dropped_upto = self.history.popleft().rv
        for q in self._subs.get(ev.resource, ()):
            q.put_nowait(ev)

    def subscribe(self, resource: str) -> asyncio.Queue[ChangeEvent | None]:
        q: asyncio.Queue[ChangeEvent | None] = asyncio.Queue()
        self._subs.setdefault(resource, set()).add(q)
        return q

    def unsubscribe(self, resource: str, q: asyncio.Queue[ChangeEvent | None]) -> None:
        self._subs.get(resource, set()).discard(q)

    def close_all(self) -> None:
        """End every open watch (used on shutdown so streams do not hang)."""
        for qs in self._subs.values():
            for q in qs:
                q.put_nowait(None)

    def since(self, resource: str, rv: int) -> list[ChangeEvent]:
        """Kept events of resource newer than rv; raises TooOld if some of them were dropped."""
        if rv < self.dropped_upto:
            raise TooOld(rv, self.dropped_upto + 1)
        return [ev for ev in self.history if ev.rv > rv and ev.resource == resource]


class Store:
    """Objects by group_resource, then (namespace, name)."""

    def __init__(self, *, history: int, first_rv: int = 1000) -> None:
        self._rv = first_rv
        self._data: dict[str, dict[ObjKey, dict]] = {}
        self._uids: dict[str, tuple[str, ObjKey]] = {}
        # Indexes, kept in step with _data by put/remove, so the controllers' lookups cost O(result):
        self._by_ns: dict[str, dict[str, set[str]]] = {}  # resource -> namespace -> names
        self._children: dict[str, set[tuple[str, ObjKey]]] = {}  # owner uid -> (resource, key) naming it
        self._dangling: set[str] = set()  # owner uids named by an ownerReference but not stored
        self._terminating: set[tuple[str, ObjKey]] = set()  # objects with a deletionTimestamp
        self.hub = WatchHub(history=history)
        self._listeners: list[Callable[[ChangeEvent], None]] = []

    @property
    def resource_version(self) -> int:
        """The current global revision (what a list reports)."""
        return self._rv

    def add_listener(self, fn: Callable[[ChangeEvent], None]) -> None:
        """Call fn synchronously after every stored change (controllers use it to wake up)."""
        self._listeners.append(fn)

    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        """The stored object or None; callers must not mutate it."""
        return self._data.get(resource, {}).get((namespace, name))

    def items(self, resource: str, namespace: str | None = None) -> list[dict]:
        """Objects of one resource sorted by (namespace, name); namespace None means all."""
        bucket = self._data.get(resource, {})
        if namespace is None:
            return [bucket[k] for k in sorted(bucket)]
        names = self._by_ns.get(resource, {}).get(namespace, ())
        return [bucket[(namespace, n)] for n in sorted(names)]

    def dependents(self, owner_uid: str, resource: str | None = None) -> list[tuple[str, dict]]:
        """(resource, object) of the objects whose ownerReferences name owner_uid, sorted by resource and
        (namespace, name); resource narrows them to one resource. Costs O(dependents), not O(objects)."""
        keys = sorted(k for k in self._children.get(owner_uid, ()) if resource is None or k[0] == resource)
        return [(r, self._data[r][key]) for r, key in keys]

    def dangling_owners(self) -> list[str]:
        """Owner uids that some stored object's ownerReferences name but no stored object has (what the
        garbage collector must look at), sorted."""
        return sorted(self._dangling)

    def terminating(self) -> list[tuple[str, dict]]:
        """(resource, object) of every stored object that has a deletionTimestamp, sorted."""
        return [(r, self._data[r][key]) for r, key in sorted(self._terminating)]

    def resources(self) -> list[str]:
        """group_resource names that hold at least one object."""
        return [r for r, b in self._data.items() if b]

    def all_objects(self) -> Iterator[tuple[str, dict]]:
        """(resource, object) for every stored object (snapshot, safe against concurrent writes)."""
        for resource, bucket in list(self._data.items()):
            for obj in list(bucket.values()):
                yield resource, obj

    def uid_exists(self, uid: str) -> bool:
        """True while an object with this uid is stored (garbage collection is by uid)."""
        return uid in self._uids

    def next_rv(self) -> int:
        """Advance the global revision."""
        self._rv += 1
        return self._rv

    def put(self, resource: str, obj: dict) -> dict:
        """Store obj (ADDED or MODIFIED), stamp a new resourceVersion, publish; returns the stored copy."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self._data.setdefault(resource, {})
        old = bucket.get(key)
        rv = self.next_rv()
        # The caller hands obj over (every writer builds a fresh object); stored objects are never mutated,
        # so only the top level and metadata are copied to stamp the resourceVersion.
        stored = dict(obj)
        stored["metadata"] = dict(obj["metadata"])
        stored["metadata"]["resourceVersion"] = str(rv)
        bucket[key] = stored
        if old is None:
            self._by_ns.setdefault(resource, {}).setdefault(key[0], set()).add(key[1])
        else:
            self._unindex(resource, key, old, keep_name=True)
        if meta.get("uid"):
            self._uids[meta["uid"]] = (resource, key)
            self._dangling.discard(meta["uid"])
        self._index(resource, key, stored)
        self._publish(ChangeEvent(rv, "MODIFIED" if old is not None else "ADDED", resource, stored, old))
        return stored

    def remove(self, resource: str, namespace: str, name: str, last: dict | None = None) -> dict | None:
        """Delete the object; the DELETED event carries it with a fresh resourceVersion. ``last`` is its final
        state when a write deletes it (an update removing the last finalizer): the answer and the event show
        that state, not the stored one."""
        bucket = self._data.get(resource, {})
        old = bucket.pop((namespace, name), None)
        if old is None:
            return None
        rv = self.next_rv()
        final = dict(last if last is not None else old)
        final["metadata"] = dict(final["metadata"])
        final["metadata"]["resourceVersion"] = str(rv)
        uid = old["metadata"].get("uid", "")
        self._uids.pop(uid, None)
        self._unindex(resource, (namespace, name), old, keep_name=False)
        if uid and uid in self._children:
            self._dangling.add(uid)
        self._publish(ChangeEvent(rv, "DELETED", resource, final, old))
        return final

    @staticmethod
    def _owner_uids(obj: dict) -> set[str]:
        # A reference without a uid is indexed under "" (no object has it, so GC treats it as gone, as before).
        return {str(r.get("uid") or "") for r in obj["metadata"].get("ownerReferences") or []}

    def _index(self, resource: str, key: ObjKey, obj: dict) -> None:
        for uid in self._owner_uids(obj):
            self._children.setdefault(uid, set()).add((resource, key))
            if uid not in self._uids:
                self._dangling.add(uid)
        if obj["metadata"].get("deletionTimestamp"):
            self._terminating.add((resource, key))

    def _unindex(self, resource: str, key: ObjKey, obj: dict, *, keep_name: bool) -> None:
        if not keep_name:
            names = self._by_ns.get(resource, {}).get(key[0])
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._by_ns[resource][key[0]]
        for uid in self._owner_uids(obj):
            children = self._children.get(uid)
            if children is None:
                continue
            children.discard((resource, key))
            if not children:
                del self._children[uid]
                self._dangling.discard(uid)
        self._terminating.discard((resource, key))

    def _publish(self, ev: ChangeEvent) -> None:
        self.hub.publish(ev)
        for fn in list(self._listeners):
            fn(ev)
