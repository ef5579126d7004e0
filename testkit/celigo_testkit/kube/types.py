"""Plain data shared by the emulator's modules (settings, request records, faults, store changes).

A leaf module: it imports nothing from the emulator, so the facade (emulator.py), the object layer
(server.py), the workload controller and the store all depend on it instead of on each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


def clone(value: Any) -> Any:
    """A deep copy of a JSON tree (dicts, lists, scalars): what copy.deepcopy does for API objects, several
    times faster (no memo, no dispatch); the emulator copies every object it stores and serves."""
    if type(value) is dict:
        return {k: clone(v) for k, v in value.items()}
    if type(value) is list:
        return [clone(v) for v in value]
    return value


@dataclass(frozen=True)
class ChangeEvent:
    """One stored change; `obj` is the object after the change (the last state for DELETED)."""

    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str  # group_resource, e.g. "secrets" or "deployments.apps"
    obj: dict
    old: dict | None


@dataclass
class SimNode:
    """A simulated node the scheduler step places pods on: labels (kubernetes.io/hostname, /os and /arch are
    added), taints (``{"key", "value", "effect"}``) and allocatable resources (quantities as the API writes
    them). The default is one roomy node that fits anything the tests create."""

    name: str = "emulated-node"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    allocatable: dict[str, str] = field(
        default_factory=lambda: {"cpu": "1000", "memory": "4Ti", "pods": "1000000"}
    )
    address: str = "10.0.0.10"

    def all_labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            **self.labels,
        }


@dataclass
class EmulatorSettings:
    """Every delay of the emulator; tests shrink them so nothing waits on wall-clock defaults."""

    rollout_delay: float = 0.2  # seconds before a created pod becomes Ready (and between crash restarts)
    bookmark_interval: float = 60.0  # BOOKMARK cadence of watches that asked for them
    watch_history: int = 10000  # events kept for resuming watches; older resourceVersions get 410 Expired
    gc_interval: float = 0.05  # garbage collector / namespace controller period
    default_watch_timeout: float = 1800  # when the client sends no timeoutSeconds
    watch_timeout_scale: float = 1.0  # multiplies a client's timeoutSeconds (tests shorten watches with it)
    min_ready_seconds_scale: float = 0.01  # a Deployment's minReadySeconds is multiplied by it
    progress_deadline_scale: float = 0.01  # progressDeadlineSeconds is multiplied by it (600 s -> 6 s)
    # The namespace controller starts removing a deleted namespace's contents this long after the DELETE, so
    # `kubectl delete -k` still finds and deletes them itself, as on a cluster.
    namespace_delay: float = 0.3
    # The nodes pods are scheduled on (WorkloadController.set_nodes/add_node change them at run time).
    nodes: list[SimNode] = field(default_factory=lambda: [SimNode()])


@dataclass
class RequestRecord:
    """One served request as an RBAC authorizer would see it (plus what tests need to tell requests apart)."""

    verb: (
        str  # get, list, watch, create, update, patch, delete, deletecollection (lowercase method otherwise)
    )
    api_group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    user_agent: str
    method: str
    path: str
    query: str = ""
    status_code: int = 0


@dataclass
class Fault:
    """A failure to inject into matching requests (None matches anything); `times` None means forever."""

    method: str | None = None
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    verb: str | None = None
    status: int | None = 500
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1
    drop_watch: bool = False
    expire_watch: bool = False
    message: str = ""
    hits: int = field(default=0, compare=False)


class FaultInjector:
    """Faults consumed in insertion order by matching requests (thread-safe: tests add from their thread)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def match(self, rec: RequestRecord, watch: bool) -> Fault | None:
        """The first fault matching this request, consuming one of its `times`."""
        with self._lock:
            for f in self._faults:
                if f.method is not None and f.method.upper() != rec.method.upper():
                    continue
                if f.resource is not None and f.resource != rec.resource:
                    continue
                if f.namespace is not None and f.namespace != rec.namespace:
                    continue
                if f.name is not None and f.name != rec.name:
                    continue
                if f.subresource is not None and f.subresource != rec.subresource:
                    continue
                if f.verb is not None and f.verb != rec.verb:
                    continue
                if (f.drop_watch or f.expire_watch) and not watch:
                    continue
                f.hits += 1
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        self._faults.remove(f)
                return f
        return None
