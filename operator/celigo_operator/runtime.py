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

from celigo_operator import api, caches, handlers, manifests, metrics, observe, rotation, waves
from celigo_operator import conditions as cond
from celigo_operator.caches import CachedKube
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_operator.kube import KubeError
from celigo_operator.leader import LeaderElector, LeaseSettings, StandbyProbe
from celigo_operator.outcome import Outcome, dump
from celigo_operator.queue import WorkQueue
from celigo_operator.reconcile import RECONCILE_FAILED, Reconciler, StageFailures
from celigo_operator.scheduler import Scheduler
from celigo_operator.status_writer import StatusWriter

log = logging.getLogger(__name__)
KOPF_PREFIX = f"kopf.{api.GROUP}"
#: kopf's finalizer, which earlier versions carried on every connector (their timer needed it).
LEGACY_FINALIZER = f"{api.GROUP}/finalizer"
#: The cache of each watched child kind (caches.py), and the kind's stream in handlers.
CACHED_KINDS = {
    caches.DEPLOYMENTS: handlers.DEPLOYMENTS,
    caches.PODS: handlers.PODS,
    caches.SECRETS: handlers.SECRETS,
}


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


@dataclass
class Runtime:
    """Everything the handlers need; built before kopf starts, the Kube facade opened at startup.

    Events enqueue connector keys (`enqueue`); the work queue runs one reconcile per key at a time
    (`process`); the scheduler wakes a key when something timed comes due. Nothing re-reads a connector on a
    timer of its own."""

    config: OperatorConfig
    api_client: k8s.ApiClient
    kube: CachedKube | None = None  # set at startup
    health: HealthChecker | None = None
    reconciler: Reconciler | None = None
    writer: StatusWriter | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    stop_flag: threading.Event = field(default_factory=threading.Event)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    scheduler: Scheduler | None = None
    queue: WorkQueue | None = None
    # What events map to connectors by: a source Secret (namespace/name) -> the connectors naming it; a
    # connector's uid -> its key (pods carry the owner's uid as a label).
    secret_users: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    secrets_of: dict[str, set[str]] = field(default_factory=dict)
    keys_by_uid: dict[str, str] = field(default_factory=dict)
    started: bool = False
    metrics_serving: bool = False  # /metrics is up (a standby starts it before it holds the Lease)
    forgotten: dict[str, None] = field(default_factory=dict)  # uids of deleted connectors (recent, bounded)
    # key -> what a user's change changes (generation, labels, annotations), as the last watch event showed it
    fingerprints: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # pod namespace/name -> the problem its last event showed (observe.pod_problem), for pods showing one
    pod_problems: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        """Started, with the caches synced (startup lists them before kopf's watches start)."""
        return self.reconciler is not None and self.started and self.kube is not None and self.kube.synced

    @property
    def followups(self) -> dict[str, float]:
        """Keys with something timed pending (the scheduler's entries)."""
        return self.scheduler.due if self.scheduler is not None else {}

    async def startup(self) -> None:
        self.kube = CachedKube(self.api_client, workers=self.config.api_workers, timeout=self.config.api_timeout)
        key = await self.kube.load_or_create_hmac_key(
            self.config.operator_namespace, self.config.hmac_secret_name
        )
        self.health = HealthChecker(self.config)
        if self.config.metrics_port and not self.metrics_serving:
            metrics.start_metrics_server(self.config.metrics_port)
            self.metrics_serving = True
        # The caches are full before any watch or reconcile starts: kopf serves /healthz (and so reports the
        # operator ready, a new leader included) only after this handler returns.
        await self.kube.sync(
            self.config.namespaces,
            {kind: handlers.SELECTORS[watched] for kind, watched in CACHED_KINDS.items()},
        )
        self.reconciler = Reconciler(self.kube, self.config, key, self.health)
        self.writer = StatusWriter(self.kube, self.config)
        self.scheduler = Scheduler(self._fire)
        self.queue = WorkQueue(
            self.process, self.scheduler_after, workers=max(1, self.config.reconcile_workers)
        )
        self.scheduler.start()
        self.queue.start()
        metrics.leading(self.queue)
        self.started = True

    async def cleanup(self) -> None:
        self.stop_flag.set()
        metrics.leading(None)
        if self.queue is not None:
            await self.queue.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        for task in list(self.background):
            task.cancel()
        if self.health is not None:
            await self.health.aclose()
        if self.kube is not None:
            self.kube.close()

    # --- events in ------------------------------------------------------------------------------------

    def _fire(self, key: str) -> None:
        if self.queue is not None:
            self.queue.add(key)

    def scheduler_after(self, key: str, delay: float) -> None:
        if self.scheduler is not None:
            self.scheduler.after(key, delay)

    def enqueue(self, body: Mapping[str, Any], *, check_now: bool = False) -> None:
        """A connector changed (or kopf resumed it): note what it references, and queue it."""
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        if not ns or not name or self.queue is None:
            return
        key = key_of(ns, name)
        self._index(key, meta.get("uid"), body.get("spec") or {})
        self.queue.add(key, check_now=check_now)

    def connector_event(self, event: Mapping[str, Any]) -> bool:
        """A raw watch event of a connector: into the cache, and queued unless it is the echo of this
        operator's own status write. A creation, a spec not reconciled yet, or a change of its labels or annotations
        (the refresh annotation) forces the health checks; a connector listed as the watch starts, reconciled
        before, does not (a resume).
        Returns whether it was queued."""
        body = event.get("object") or {}
        meta = body.get("metadata") or {}
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        self.cache_event(caches.CONNECTORS, event)
        seen, self.fingerprints[key] = self.fingerprints.get(key), fingerprint(meta)
        status = body.get("status") or {}
        check_now = (
            event.get("type") == "ADDED"
            or (seen is not None and seen != self.fingerprints[key])
            or not status.get("lastCheckTime")  # never checked: new (listed as the watch started)
            or status.get("observedGeneration") != meta.get("generation")  # its spec changed meanwhile
            # first seen by this process (a resume): its labels or annotations (the refresh annotation)
            # changed after its last check, while no operator watched
            or (seen is None and metadata_written_after(meta, status.get("lastCheckTime")))
        )
        own = self.writer.written.get(key) if self.writer is not None else None
        if own and own == meta.get("resourceVersion") and not check_now:
            self._index(key, meta.get("uid"), body.get("spec") or {})
            return False
        self.enqueue(body, check_now=check_now)
        return True

    def cache_event(self, kind: str, event: Mapping[str, Any]) -> None:
        """A watched object's event goes into the cache before anything is enqueued for it."""
        if self.kube is not None:  # None before startup: the startup list fills the cache
            self.kube.observe(kind, event.get("type"), without_managed_fields(event.get("object") or {}))

    def child_event(self, kind: str, event: Mapping[str, Any]) -> bool:
        """A Deployment or Pod of a connector changed: into the cache, and its owner queued if the change can
        matter to a pass (rollouts are followed by these events). A pass reads of a Deployment its spec (the
        generation), its owner, the waves' annotations and its rollout counts, and of a Pod only the problem
        it shows (`observe.pod_problem`): an event that changes none of these (a resourceVersion, a
        condition's timestamp, a pod scheduled or becoming ready while its Deployment's counts tell the
        rollout) changes no status and queues nothing; a deletion always may. Returns whether it was queued."""
        body = event.get("object") or {}
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        deleted = event.get("type") == "DELETED"
        if kind == caches.PODS:
            changed = self._pod_problem_changed(key_of(ns, name), None if deleted else body)
        elif deleted or self.kube is None:
            changed = True
        else:
            # What the cache holds: the last event, or the write of the pass that made it (its echo is no news).
            before = self.kube.peek(caches.DEPLOYMENTS, ns, name)
            changed = before is None or deployment_view(before) != deployment_view(body)
        self.cache_event(kind, event)
        if not changed:
            return False
        self._owner_changed(body)
        return True

    def _pod_problem_changed(self, key: str, body: Mapping[str, Any] | None) -> bool:
        """Whether the problem a pod shows (none, when deleted) differs from what its last event showed. Only
        pods showing one are remembered."""
        problem = observe.pod_problem([body]) if body is not None else None
        view = None if problem is None else hash((problem.reason, problem.message))
        before = self.pod_problems.pop(key, None)
        if view is not None:
            self.pod_problems[key] = view
        return view != before

    def _owner_changed(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        ns = meta.get("namespace", "")
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == api.KIND and str(ref.get("apiVersion", "")).startswith(api.GROUP + "/"):
                self._add(key_of(ns, ref["name"]))
                return
        uid = (meta.get("labels") or {}).get(manifests.LABEL_OWNER_UID)
        key = self.keys_by_uid.get(uid or "")
        if key is not None:
            self._add(key)

    def secret_event(self, body: Mapping[str, Any]) -> None:
        """An opted-in source Secret changed: queue every connector that references it."""
        meta = body.get("metadata") or {}
        for key in sorted(
            self.secret_users.get(key_of(meta.get("namespace", ""), meta.get("name", ""))) or ()
        ):
            self._add(key)

    def _add(self, key: str) -> None:
        if self.queue is not None:
            self.queue.add(key)

    def _index(self, key: str, uid: str | None, spec: Mapping[str, Any]) -> None:
        ns = key.split("/", 1)[0]
        names = set()
        for ref in (
            (spec.get("credentialsSecretRef") or {}),
            ((spec.get("conductorOne") or {}).get("credentialsSecretRef") or {}),
        ):
            if ref.get("name"):
                names.add(key_of(ns, str(ref["name"])))
        old = self.secrets_of.get(key, set())
        for gone in old - names:
            users = self.secret_users.get(gone)
            if users is not None:
                users.discard(key)
                if not users:
                    del self.secret_users[gone]
        for new in names - old:
            self.secret_users[new].add(key)
        self.secrets_of[key] = names
        if uid:
            self.keys_by_uid[uid] = key

    # --- one reconcile ----------------------------------------------------------------------------------

    async def process(self, key: str, check_now: bool) -> bool:
        """Reconcile one key (the queue runs one per key at a time). False: it failed in a way reported as
        a condition, to be retried with backoff."""
        assert self.kube is not None
        try:
            return await self._process(key, check_now)
        except Exception as exc:  # reading the connector or finalizing it: nothing to write a status on
            log.warning("%s: processing failed (%s); retried with backoff", key, type(exc).__name__)
            ns, name = key.split("/", 1)
            metrics.observe_reconcile(ns, name, 0.0, RECONCILE_FAILED)
            return False

    async def _process(self, key: str, check_now: bool) -> bool:
        assert self.kube is not None
        ns, name = key.split("/", 1)
        # As its last watch event or our own last write brought it: a write built on an older version than
        # what is stored is refused (resourceVersion preconditions), and the status writer re-reads then.
        latest = await self.kube.connector(ns, name)
        if latest is None:
            return True
        if LEGACY_FINALIZER in (latest["metadata"].get("finalizers") or []):
            latest = await self._drop_legacy_finalizer(latest)
            if latest is None:
                return True
        meta = latest["metadata"]
        if meta.get("deletionTimestamp"):
            return await self.finalize(latest, logging.LoggerAdapter(log, {"key": key}))
        return await self.handle(latest, kopf_logger(key), check_now=check_now)

    async def _drop_legacy_finalizer(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """kopf's finalizer of earlier versions (their timer needed it) holds nothing any more: removed,
        conditioned on the version read. None: the resource changed meanwhile; its event queues it again."""
        assert self.kube is not None
        meta = body["metadata"]
        wanted = [f for f in meta.get("finalizers") or [] if f != LEGACY_FINALIZER]
        try:
            return await self.kube.patch_connector_metadata(
                meta["namespace"], meta["name"], {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]}
            )
        except KubeError as exc:
            if exc.conflict or exc.not_found:
                return None
            raise

    async def handle(
        self,
        body: Mapping[str, Any],
        logger: logging.Logger | logging.LoggerAdapter[Any],
        *,
        check_now: bool = False,
    ) -> bool:
        """Reconcile one resource as read (serialised per resource); the status writer writes what changed,
        and the scheduler is told when the connector is next due."""
        assert self.reconciler is not None and self.kube is not None and self.writer is not None
        assert self.scheduler is not None
        meta = body["metadata"]
        uid = meta["uid"]
        key = key_of(meta["namespace"], meta["name"])
        async with self.locks[uid]:
            started = time.monotonic()
            error: str | None = None
            try:
                self._index(key, uid, body.get("spec") or {})
                writing = self.writer.begin(body)
                outcome = await self.reconciler.reconcile(
                    body, check_now=check_now, persist=writing.checkpoint
                )
                await self.writer.publish(writing, outcome, logger)
                if journal_moved(body.get("status"), outcome.status):
                    # The rotation stage runs after apply: a step that moved (e.g. to RollingOut) has work for
                    # the next pass, which no watch event brings (the echo of our own write is skipped).
                    self._add(key)
                due = self.reconciler.next_due(uid, body, outcome.status)
                self.scheduler.set(
                    key, None if due is None else self.scheduler.now() + (due - time.monotonic())
                )
                self._wake_waiting()
                error = failure_reason(outcome)
                return error is None
            except Exception as exc:
                # The pass never raises (a failing stage is a condition): this is the status write or what
                # follows it. Reported as ReconcileFailed if a status can still be written; retried either way.
                error = RECONCILE_FAILED
                await self._report_failure(body, exc, logger)
                return False
            finally:
                metrics.observe_reconcile(meta["namespace"], meta["name"], time.monotonic() - started, error)
                if uid in self.forgotten:
                    # Deleted while this pass ran from an earlier read: what it put back goes again.
                    self._drop(uid, key, meta)

    async def _report_failure(
        self, body: Mapping[str, Any], exc: Exception, logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> None:
        assert self.reconciler is not None and self.writer is not None
        failures = StageFailures(body)
        failures.add("status", exc)
        try:
            await self.writer.publish(self.writer.begin(body), self.reconciler.failed(body, failures), logger)
        except Exception as again:
            logger.warning("the failure could not be reported in the status either (%s)", type(again).__name__)

    def _wake_waiting(self) -> None:
        """Connectors refused an upgrade slot are queued again once one is free."""
        assert self.reconciler is not None
        waves = self.reconciler.waves
        if waves.waiting and waves.open():
            for who in sorted(set(waves.waiting.values())):
                self._add(who)

    async def finalize(
        self, body: Mapping[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]
    ) -> bool:
        """Deletion of a resource holding an operator-created ConductorOne credential (the operator's own
        finalizer): revoke it (bounded by the revoke timeout), then remove the finalizer. No finalizer: nothing
        to do, the API server deletes the resource and its children go with it."""
        assert self.reconciler is not None and self.writer is not None and self.scheduler is not None
        meta = body["metadata"]
        key = key_of(meta["namespace"], meta["name"])
        try:
            note = await self.reconciler.rotator.finalize(body)
        except rotation.Wait as wait:
            logger.info("deletion waits: %s", wait.message)
            self.scheduler.after(key, min(10.0, max(1.0, self.config.tick_interval)))
            return True
        if note is not None:
            await self.writer.post(body, [note], logger)
        return True

    async def forget(self, body: Mapping[str, Any]) -> None:
        """The connector is gone (its DELETED watch event): drop everything held in memory about it — its
        lock, queue and scheduler entries, wave slot or halt, health schedule, rate limiter (unless another
        connector shares it) and metric series. A reconcile still running for it finishes first, so it cannot
        put anything back (any later one finds the resource gone and stops before touching state)."""
        meta = body.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            return
        key = key_of(meta.get("namespace", ""), meta.get("name", ""))
        lock = self.locks.get(uid)
        if lock is not None:
            async with lock:
                pass
        if self.kube is not None:
            self.kube.observe(caches.CONNECTORS, "DELETED", body)
        self.forgotten[uid] = None
        while len(self.forgotten) > 10000:
            del self.forgotten[next(iter(self.forgotten))]
        self._drop(uid, key, meta)

    def _drop(self, uid: str, key: str, meta: Mapping[str, Any]) -> None:
        if self.scheduler is not None:
            self.scheduler.cancel(key)
        if self.queue is not None:
            self.queue.forget(key)
        self.locks.pop(uid, None)
        if self.writer is not None:
            self.writer.written.pop(key, None)
        self.keys_by_uid.pop(uid, None)
        self.fingerprints.pop(key, None)
        self._index(key, None, {})
        self.secrets_of.pop(key, None)
        if self.reconciler is not None:
            self.reconciler.applier.forget(uid)
            self.reconciler.waves.forget(uid)
            self._wake_waiting()
        if self.health is not None:
            self.health.forget(uid)
        metrics.forget_connector(meta.get("namespace", ""), meta.get("name", ""))


#: Reasons that say a pass failed on something that may work on retry (the Kubernetes API, a journal write):
#: reported as conditions, and retried with the queue's backoff.
#: They are the reconcile-errors metric's reasons (a closed set), ReconcileFailed (a stage raised) among them.
RETRY_REASONS = metrics.RECONCILE_ERROR_REASONS


def failure_reason(outcome: Outcome) -> str | None:
    """The reason the pass failed in a way to retry with backoff, or None."""
    return next(
        (c.reason for c in outcome.status.conditions or [] if c.reason in RETRY_REASONS and c.status != "True"),
        None,
    )


def failed(outcome: Outcome) -> bool:
    return failure_reason(outcome) is not None


def deployment_view(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a pass reads of a Deployment: its identity, spec (a spec change moves the generation), labels,
    owners, the upgrade waves' annotations and the rollout's counts (manifests.rollout)."""
    meta, status = body.get("metadata") or {}, body.get("status") or {}
    annotations = meta.get("annotations") or {}
    return (
        meta.get("uid"),
        meta.get("generation"),
        sorted((meta.get("labels") or {}).items()),
        [ref.get("uid") for ref in meta.get("ownerReferences") or []],
        annotations.get(waves.ANNOTATION_INPUTS),
        annotations.get(waves.ANNOTATION_TEMPLATE),
        *(status.get(count) for count in caches.DEPLOYMENT_STATUS),  # all of its status the cache keeps
    )


def without_managed_fields(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object without metadata.managedFields (a shallow copy; the event is not changed): the cache keeps
    no managedFields, and copying them first (the larger part of a Deployment) only to drop them is the cost
    of an event."""
    meta = body.get("metadata")
    if not meta or "managedFields" not in meta:
        return body
    return {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def metadata_written_after(meta: Mapping[str, Any], since: str | None) -> bool:
    """Whether the labels or annotations (not the kopf.* ones earlier versions kept) were written after
    `since` (an RFC 3339 time to the second), as the API server's managedFields tell: the time of an entry is
    when its manager last changed a field it owns, so an entry that owns labels or annotations and is newer
    than the last check may have changed them meanwhile. Later by a whole second: a check written in the second
    of a change may have seen it, and a thousand connectors checked in the second they were created are not
    all checked again at every restart. What this misses, a change in the very second of the last check
    before the operator stopped, is caught by the next scheduled check."""
    checked = cond.parse_time(since)
    if checked is None:
        return False
    for entry in meta.get("managedFields") or []:
        if entry.get("subresource"):
            continue
        fields = ((entry.get("fieldsV1") or {}).get("f:metadata")) or {}
        labels, annotations = fields.get("f:labels") or {}, fields.get("f:annotations") or {}
        owned = [k for k in labels if k != "."] + [
            k for k in annotations if k != "." and not k.startswith(f"f:{KOPF_PREFIX}")
        ]
        written = cond.parse_time(entry.get("time"))
        if owned and written is not None and written > checked:
            return True
    return False


def fingerprint(meta: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a user's change of a connector changes: its generation (the spec), labels and annotations (not
    the kopf.* ones earlier versions kept)."""
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(KOPF_PREFIX)}
    return meta.get("generation"), sorted((meta.get("labels") or {}).items()), sorted(annotations.items())


def journal_moved(stored: Mapping[str, Any] | None, status: api.CeligoConnectorStatus) -> bool:
    """Whether this pass moved the rotation journal's step or a flow's current credential."""

    def marks(rot: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            rot.get("step"),
            rot.get("id"),
            *(((rot.get(flow) or {}).get("current") or {}).get("id") for flow in ("conductorOne", "celigo")),
        )

    before = (stored or {}).get("rotation") or {}
    after = dump(status.rotation) if status.rotation is not None else {}
    return marks(before) != marks(after)


def kopf_logger(key: str) -> logging.LoggerAdapter[Any]:
    return logging.LoggerAdapter(logging.getLogger("celigo_operator.reconcile"), {"key": key})


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff base. kopf builds one (a deep copy of the whole object, managedFields and status included) for
    every event of every watched kind, for change handlers and daemons to diff against; the operator
    registers neither (raw event handlers only: handlers.py), so that copy was the largest CPU cost of an
    event and served nothing. A change handler registered with this storage would never see a change:
    `refuse_change_handlers`."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def configure_settings(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Every kopf setting the operator relies on, in one place."""
    # kopf ignores every annotation under the prefix it stores its own state in, so that prefix must not be
    # the one users write (celigo-operator.io/refresh must reach the update handler).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.persistence.finalizer = LEGACY_FINALIZER
    for kind, selector in handlers.SELECTORS.items():
        settings.watching.label_selectors[kind] = selector
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
    # kopf runs a worker per object while its events arrive, and keeps it this long after the last one (its
    # default is 5 s): 1000 connectors created at once kept thousands of idle workers (a task, a queue, an
    # event each) alive together, a peak whose memory the allocator keeps (~20 MiB at 1000). A later event
    # starts a new worker.
    settings.queueing.idle_timeout = 0.5


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    handlers.register(registry, runtime)
    refuse_change_handlers(registry)
    return registry


def refuse_change_handlers(registry: kopf.OperatorRegistry) -> None:
    """With `NoDiffBase`, a kopf change handler or daemon would never see a change: refused at start."""
    changing = [*registry._changing.get_all_handlers(), *registry._spawning.get_all_handlers()]
    if changing:
        raise RuntimeError(f"kopf change handlers and daemons need a diff base (NoDiffBase): {changing}")


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
    config: OperatorConfig,
    api_client: k8s.ApiClient,
    *,
    ready_flag: Any = None,
    runtime: Runtime | None = None,
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
        # A standby serves /metrics and answers its liveness probe while it waits; only the leader watches,
        # caches and reconciles (kopf starts once the Lease is held, and reports ready after its startup).
        if config.metrics_port and not runtime.metrics_serving:
            metrics.start_metrics_server(config.metrics_port)
            runtime.metrics_serving = True
        standby = StandbyProbe(config.liveness_endpoint).start() if config.liveness_endpoint else None
        # SIGTERM while still waiting for the Lease must end the wait (kopf installs its handlers later).
        waiting = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: waiting.set())
        try:
            if not elector.acquire(waiting):
                return 0
        finally:
            if standby is not None:
                standby.stop()
        signal.signal(signal.SIGTERM, previous)

        def on_lost() -> None:
            lost.set()
            stop_flag.set()
            # Stop acting before another replica can take the Lease, even if a handler hangs.
            threading.Timer(
                max(0.5, config.lease_duration - config.lease_renew_deadline - 0.5), os._exit, (1,)
            ).start()

        elector.keep(on_lost)
    metrics.instrument_kopf_watches()
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
