"""Leader election on a coordination.k8s.io/v1 Lease, for running several operator replicas.

kopf's peering is not enough here: replicas of one Deployment share one priority, and kopf pauses all of
them when priorities are equal. So a replica takes the Lease *before* kopf starts handling, renews it from
a thread of its own, and stops the process when it cannot renew in time: it stops acting before another
replica can take the Lease (renew_deadline < lease_duration), so no resource is handled by two at once.
Takeover after a crash: at most lease_duration + retry_period.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from celigo_operator import rest
from celigo_operator.conditions import parse_time

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _micro(ts: datetime) -> str:
    """MicroTime as the API server expects it."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str = "celigo-operator-leader"
    identity: str = ""
    lease_duration: float = 15.0  # how long a holder's claim is good for
    renew_deadline: float = 10.0  # a holder that could not renew for this long stops acting
    retry_period: float = 2.0  # how often to try to acquire or renew

    def __post_init__(self) -> None:
        if not self.renew_deadline < self.lease_duration:
            raise ValueError("renew_deadline must be shorter than lease_duration")


class LeaderElector:
    """Acquire, hold and (on shutdown) release one Lease."""

    def __init__(self, api_client: k8s.ApiClient, settings: LeaseSettings) -> None:
        # Bodies go out as plain dicts and come back raw.
        self.api = rest.CoordinationV1(api_client)
        self.s = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.acquired_at: float | None = None

    def _read(self) -> dict | None:
        try:
            resp = self.api.read_namespaced_lease(self.s.name, self.s.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(resp.data))

    def _body(self, acquire_time: str, transitions: int, rv: str | None) -> dict:
        now = _micro(_now())
        meta: dict = {"name": self.s.name, "namespace": self.s.namespace}
        if rv is not None:
            meta["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": meta,
            "spec": {
                "holderIdentity": self.s.identity,
                "leaseDurationSeconds": max(1, round(self.s.lease_duration)),
                "acquireTime": acquire_time,
                "renewTime": now,
                "leaseTransitions": transitions,
            },
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when we hold the Lease afterwards. Conflicts mean someone else won."""
        try:
            lease = self._read()
            if lease is None:
                self.api.create_namespaced_lease(self.s.namespace, self._body(_micro(_now()), 0, None))
                return True
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            rv = lease["metadata"]["resourceVersion"]
            transitions = int(spec.get("leaseTransitions") or 0)
            if holder == self.s.identity:
                body = self._body(spec.get("acquireTime") or _micro(_now()), transitions, rv)
            else:
                renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
                duration = float(spec.get("leaseDurationSeconds") or self.s.lease_duration)
                if holder and renewed is not None and (_now() - renewed).total_seconds() < duration:
                    return False
                body = self._body(_micro(_now()), transitions + 1, rv)
            self.api.replace_namespaced_lease(self.s.name, self.s.namespace, body)
            return True
        except ApiException as exc:
            if exc.status in (409, 422):
                return False
            log.warning("Lease %s/%s: %s", self.s.namespace, self.s.name, exc.reason)
            return False

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until this replica holds the Lease (True) or `stop` is set (False)."""
        stop = stop or self._stop
        announced = False
        while not stop.is_set():
            if self.try_acquire_or_renew():
                self.acquired_at = time.monotonic()
                log.info(
                    "Leader election: %s holds Lease %s/%s", self.s.identity, self.s.namespace, self.s.name
                )
                return True
            if not announced:
                log.info(
                    "Leader election: waiting for Lease %s/%s held by another replica",
                    self.s.namespace,
                    self.s.name,
                )
                announced = True
            stop.wait(self.s.retry_period)
        return False

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew in a daemon thread; call `on_lost` once if renewing fails for renew_deadline."""

        def loop() -> None:
            last_ok = time.monotonic()
            while not self._stop.wait(self.s.retry_period):
                if self.try_acquire_or_renew():
                    last_ok = time.monotonic()
                elif time.monotonic() - last_ok >= self.s.renew_deadline:
                    log.error("Leader election: Lease %s/%s lost; stopping", self.s.namespace, self.s.name)
                    on_lost()
                    return

        self._thread = threading.Thread(target=loop, name="lease-renewer", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """On a clean shutdown: give the Lease up at once so another replica need not wait it out."""
        self._stop.set()
        try:
            lease = self._read()
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.s.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["renewTime"] = None
                self.api.replace_namespaced_lease(self.s.name, self.s.namespace, lease)
        except ApiException as exc:
            log.warning("Leader election: could not release the Lease: %s", exc.reason)


class StandbyProbe:
    """The liveness endpoint of a replica waiting for the Lease: kopf serves it only once it runs (after the
    Lease is held), and a standby that answered nothing would be restarted by its liveness probe over and
    over. 200 while waiting; stopped (the port freed for kopf) when the Lease is acquired."""

    def __init__(self, endpoint: str) -> None:
        url = urlsplit(endpoint)
        self.path = url.path or "/"
        self.address = (url.hostname or "0.0.0.0", url.port or 80)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> StandbyProbe:
        path = self.path

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path.split("?", 1)[0] == path
                body = b'{"standby": true}' if ok else b""
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(self.address, Handler)
        threading.Thread(target=self._server.serve_forever, name="standby-probe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
