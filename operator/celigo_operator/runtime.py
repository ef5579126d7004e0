"""The operator process: collaborators built once, kopf settings in one place, and the run loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from kubernetes import client as k8s

from celigo_operator import api, handlers, metrics, rotation
from celigo_operator import conditions as cond
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube
from celigo_operator.leader import LeaderElector, LeaseSettings
from celigo_operator.outcome import Outcome
from celigo_operator.reconcile import Reconciler
from celigo_operator.status_writer import StatusWriter

log = logging.getLogger(__name__)
KOPF_PREFIX = f"kopf.{api.GROUP}"


@dataclass
class Runtime:
    """Everything the handlers need; built before kopf starts, the Kube facade opened at startup."""

    config: OperatorConfig
    api_client: k8s.ApiClient
    kube: Kube | None = None
    health: HealthChecker | None = None
    reconciler: Reconciler | None = None
    writer: StatusWriter | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    stop_flag: threading.Event = field(default_factory=threading.Event)
    followups: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.reconciler is not None

    async def startup(self) -> None:
        self.kube = Kube(self.api_client, workers=self.config.api_workers, timeout=self.config.api_timeout)
        key = await self.kube.load_or_create_hmac_key(
            self.config.operator_namespace, self.config.hmac_secret_name
        )
        self.health = HealthChecker(self.config)
        if self.config.metrics_port:
            metrics.start_metrics_server(self.config.metrics_port)
        self.reconciler = Reconciler(self.kube, self.config, key, self.health)
        self.writer = StatusWriter(self.kube, self.config)

    async def cleanup(self) -> None:
        self.stop_flag.set()
        for task in list(self.background):
            task.cancel()
        if self.health is not None:
            await self.health.aclose()
        if self.kube is not None:
            self.kube.close()

    async def handle(
        self,
        body: Mapping[str, Any],
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        check_now: bool = False,
    ) -> None:
        """Reconcile one resource (serialised per resource); the status writer writes what changed."""
        assert self.reconciler is not None and self.kube is not None and self.writer is not None
        uid = body["metadata"]["uid"]
        async with self.locks[uid]:
            meta = body["metadata"]
            started = time.monotonic()
            error: str | None = None
            try:
                # The body a handler got may be older than what a concurrent tick just wrote.
                latest = await self.kube.get_connector(meta["namespace"], meta["name"])
                if latest is None or latest["metadata"].get("uid") != uid:
                    return
                if latest["metadata"].get("deletionTimestamp"):
                    return
                writing = self.writer.begin(latest)
                outcome = await self.reconciler.reconcile(
                    latest, check_now=check_now, persist=writing.checkpoint
                )
                await self.writer.publish(writing, outcome, logger)
                self._follow_up(body, outcome, logger)
            except Exception as exc:
                error = type(exc).__name__
                raise
            finally:
                metrics.observe_reconcile(meta["namespace"], meta["name"], time.monotonic() - started, error)

    async def finalize(
        self, body: Mapping[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> None:
        """Deletion of a resource holding an operator-created ConductorOne credential: revoke it (bounded)."""
        assert self.reconciler is not None and self.writer is not None
        try:
            note = await self.reconciler.rotator.finalize(body)
        except rotation.Wait as wait:
            raise kopf.TemporaryError(wait.message, delay=max(1.0, self.config.tick_interval)) from None
        if note is not None:
            self.writer.post(body, [note], logger)

    async def forget(self, body: Mapping[str, Any]) -> None:
        """The connector is gone (its DELETED watch event): drop everything held in memory about it — its
        lock, pending follow-up, wave slot or halt, health schedule, rate limiter (unless another connector
        shares it) and metric series. A reconcile still running for it finishes first, so it cannot put
        anything back (any later one finds the resource gone and stops before touching state)."""
        meta = body.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        lock = self.locks.get(uid)
        if lock is not None:
            async with lock:
                pass
        followup = self.followups.pop(uid, None)
        if followup is not None:
            followup.cancel()
        self.locks.pop(uid, None)
        if self.reconciler is not None:
            self.reconciler.waves.forget(uid)
        if self.health is not None:
            self.health.forget(uid)
        metrics.forget_connector(meta.get("namespace", ""), meta.get("name", ""))

    def _follow_up(
        self, body: Mapping[str, Any], outcome: Outcome, logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> None:
        """A connector still rolling out is looked at again in `followup_delay`, not a whole tick later, so
        Ready follows the pods within seconds. One pending follow-up per resource."""
        available = next(
            (c for c in outcome.status.conditions or [] if c.type == cond.CONNECTOR_AVAILABLE), None
        )
        uid = body["metadata"]["uid"]
        if available is None or available.reason != "Progressing" or uid in self.followups:
            return
        if self.config.followup_delay >= self.config.tick_interval:
            return

        async def again() -> None:
            try:
                await asyncio.sleep(self.config.followup_delay)
                self.followups.pop(uid, None)
                await self.handle(body, logger)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick retries; a follow-up must never crash the loop
                logger.warning("follow-up reconcile failed: %s", type(exc).__name__)
            finally:
                if self.followups.get(uid) is task:
                    del self.followups[uid]

        task = asyncio.get_running_loop().create_task(again())
        self.followups[uid] = task
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def configure_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Every kopf setting the operator relies on, in one place."""
    # kopf ignores every annotation under the prefix it stores its own state in, so that prefix must not be
    # the one users write (celigo-operator.io/refresh must reach the update handler).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{api.GROUP}/finalizer"
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = config.api_timeout
    settings.posting.enabled = True
    settings.posting.loggers = False  # only explicit, transition-only Events
    settings.posting.level = logging.INFO
    settings.peering.standalone = config.standalone
    settings.peering.mandatory = False
    settings.execution.max_workers = 4


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    handlers.register(registry, runtime)
    return registry


def _elector(config: OperatorConfig, api_client: k8s.ApiClient) -> LeaderElector:
    identity = config.identity or f"{socket.gethostname()}-{os.getpid()}"
    return LeaderElector(
        api_client,
        LeaseSettings(
            namespace=config.operator_namespace,
            name=config.lease_name,
            identity=identity,
            lease_duration=config.lease_duration,
            renew_deadline=config.lease_renew_deadline,
            retry_period=config.lease_retry_period,
        ),
    )


def run(
    config: OperatorConfig, api_client: k8s.ApiClient, *, ready_flag: Any = None, runtime: Runtime | None = None
) -> int:
    """Run the operator until stopped (blocking): the `celigo-operator run` command. Returns the exit code:
    1 when the leader Lease was lost (the pod restarts and campaigns again), else 0. A caller that passes
    its own `runtime` can stop it with `runtime.stop_flag` and look at what it holds in memory."""
    runtime = runtime or Runtime(config=config, api_client=api_client)
    settings = kopf.OperatorSettings()
    configure_settings(settings, config)
    registry = build_registry(runtime)
    # kopf waits for this flag in an executor thread, and asyncio.run waits for that thread at exit: the
    # cleanup handler raises it, or a SIGTERM-stopped operator would hang until killed.
    stop_flag = runtime.stop_flag
    lost = threading.Event()
    elector = _elector(config, api_client) if config.leader_election else None
    if elector is not None:
        # SIGTERM while still waiting for the Lease must end the wait (kopf installs its handlers later).
        waiting = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: waiting.set())
        if not elector.acquire(waiting):
            return 0
        signal.signal(signal.SIGTERM, previous)

        def on_lost() -> None:
            lost.set()
            stop_flag.set()
            # Stop acting before another replica can take the Lease, even if a handler hangs.
            threading.Timer(
                max(0.5, config.lease_duration - config.lease_renew_deadline - 0.5), os._exit, (1,)
            ).start()

        elector.keep(on_lost)
    try:
        kopf.run(
            registry=registry,
            settings=settings,
            standalone=config.standalone,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=config.liveness_endpoint,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        if elector is not None and not lost.is_set():
            elector.release()
    return 1 if lost.is_set() else 0
