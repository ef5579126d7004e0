"""Prometheus metrics: what a dashboard or an alert needs to know about the operator and each connector.

Label values come only from Kubernetes names (namespace, resource name), fixed vocabularies (Ready status,
result, system) and endpoint *templates* matched against a closed list, so no token, id or message ever
becomes a label: a path the tables do not know is counted as "other", an error kind that is not a plain
identifier as "Other".

The runtime calls the module-level functions (they use one process-wide `Metrics`); tests build their own
`Metrics()` so every test starts from zero.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import httpx
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

READY_STATES = ("True", "False", "Unknown")
SYSTEMS = ("celigo", "conductorone")
OTHER_ENDPOINT = "other"
OTHER_ERROR = "Other"
_ID = r"[^/]+"

#: Every reason a Ready condition can carry (README "Conditions and reasons"); anything else is "Other".
READY_REASONS = frozenset(
    {
        "Ready",
        # CredentialsValid
        "SecretNotFound", "SecretNotOptedIn", "KeyMissing", "MalformedClientId", "MalformedClientSecret",
        "SecretUnreadable", "MalformedToken", "TokenRejected", "TokenForbidden", "NewCredentialsRejected",
        "VerificationPending", "CredentialFormatError", "OwnedCredentialMissing",
        # Reconciled
        "InvalidSpec", "ReconcileFailed", "ImageNotAllowed", "ChildConflict", "WaitingForCredentials", "CredentialsUnavailable",
        "ApplyFailed", "Suspended", "Reconciled",
        # CeligoReachable
        "WrongRegion", "RateLimited", "CeligoUnavailable", "Timeout",
        # ConnectorAvailable
        "NotDeployed", "Progressing", "ScaledToZero", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
        "CreateContainerConfigError",
        # Synced
        "SyncError", "SyncRunning", "ConductorOneUnreachable", "ConductorOneAuthFailed", "ConnectorNotFound",
        "MalformedApiCredentials", "ConnectorDisabled", "SyncStatusUnspecified", "SyncStatusUnknown",
    }
)  # fmt: skip
#: Why a reconcile failed in a way retried with backoff (the condition reasons; ReconcileFailed: a pipeline stage
#: raised): the closed set of the reconcile-errors metric's `reason` label.
RECONCILE_ERROR_REASONS = frozenset(
    {"ReconcileFailed", "ApplyFailed", "SecretUnreadable", "JournalWriteFailed", "VerificationPending"}
)
ROTATION_STEPS = ("Idle", "Requesting", "Stored", "RollingOut", "Revoking")
#: The reasons of the Rotation condition (README "Credential changes and rotation", Conditions).
ROTATION_REASONS = frozenset(
    {"Idle", "InProgress", "RotationBackoff", "RotationFailed", "RotationUnsupported", "JournalWriteFailed"}
)
ROLES = ("administrator", "manage", "monitor")
#: status.rotation's flows -> the `credential` label of the expiry metric.
CREDENTIAL_FLOWS = {"celigo": "celigo", "conductorOne": "conductorone"}
REGIONS = ("us", "eu")
#: The kinds the operator watches (kopf resource plurals: the four it handles, and kopf's own discovery of
#: CRDs and of namespaces in namespaced mode); any other watch is "other".
WATCHED = ("celigoconnectors", "secrets", "deployments", "pods", "customresourcedefinitions", "namespaces")

#: The endpoints the operator calls, as templates. Only these strings can appear in the `endpoint` label.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "celigo": (
        "/v1/tokenInfo",
        "/v1/ashares",
        "/v1/ashares/{id}",
        "/v1/ashares/{id}/disable",
        "/v1/integrations",
        "/v1/integrations/{id}/ashares",
        "/v1/invite",
        "/v1/accesstokens",
        "/v1/accesstokens/{id}",
        "/v1/accesstokens/{id}/display",
        "/v1/accesstokens/{id}/generate",
    ),
    "conductorone": (
        "/auth/v1/token",
        "/api/v1/apps/{app_id}/connectors/{connector_id}",
        "/api/v1/apps/{app_id}/connectors/{connector_id}/credentials",
        "/api/v1/apps/{app_id}/connectors/{connector_id}/credentials/{credential_id}",
    ),
}


def _compile(template: str) -> re.Pattern[str]:
    # Anchored at the end only: a base URL may carry a path prefix (a proxy, the fakes' /us and /eu).
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("(?:^|/)" + _ID.join(re.escape(p) for p in parts).lstrip("/") + "$")


_PATTERNS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    system: [(_compile(t), t) for t in templates] for system, templates in ENDPOINTS.items()
}


def endpoint_template(system: str, path: str) -> str:
    """The template for a request path (`/v1/ashares/5f1e...` -> `/v1/ashares/{id}`), or "other"."""
    path = path.rstrip("/") or "/"
    for pattern, template in _PATTERNS.get(system, ()):
        if pattern.search(path):
            return template
    return OTHER_ENDPOINT


def _closed(value: str | None, vocabulary: Collection[str], other: str = OTHER_ERROR) -> str:
    return value if value is not None and value in vocabulary else other


def _epoch(value: str | None) -> float | None:
    """An RFC 3339 time from the status as Unix seconds, or None."""
    try:
        return datetime.fromisoformat(value).timestamp() if value else None  # "Z" parses since 3.11
    except ValueError:
        return None


class QueueView(Protocol):
    """What the queue metrics read of the work queue (queue.WorkQueue), at scrape time."""

    @property
    def pending(self) -> Mapping[str, bool]: ...
    @property
    def active(self) -> Collection[str]: ...
    @property
    def since(self) -> Mapping[str, float]: ...


class _QueueCollector(Collector):
    """Work-queue depth, keys being reconciled and the age of the oldest waiting key, read at scrape time
    from the queue the runtime binds (none on a standby: it has no queue)."""

    def __init__(self) -> None:
        self.queue: QueueView | None = None

    def collect(self) -> Iterable[GaugeMetricFamily]:
        queue = self.queue
        if queue is None:
            return
        pending = list(queue.pending)
        now = time.monotonic()
        waited = [now - queue.since[k] for k in pending if k in queue.since]
        yield GaugeMetricFamily(
            "celigo_operator_workqueue_depth", "Connector keys waiting in the work queue.", len(pending)
        )
        yield GaugeMetricFamily(
            "celigo_operator_workqueue_active", "Connector keys being reconciled now.", len(queue.active)
        )
        yield GaugeMetricFamily(
            "celigo_operator_workqueue_oldest_item_age_seconds",
            "How long the longest-waiting key has waited in the work queue (0 when it is empty).",
            max(waited, default=0.0),
        )


class _Series:
    """One series of a ConnectorGauge, as `labels(...)` hands it out (prometheus_client's child API)."""

    __slots__ = ("gauge", "key")

    def __init__(self, gauge: ConnectorGauge, key: tuple[str, ...]) -> None:
        self.gauge, self.key = gauge, key

    def set(self, value: float) -> None:
        self.gauge.set(self.key, value)


class ConnectorGauge(Collector):
    """A gauge with one series per connector (labels namespace, name and maybe more), its values in one dict
    read at scrape time. prometheus_client's Gauge keeps an object with two locks per series, about 700 bytes:
    7 MiB for the ten series of each of 1000 connectors; this keeps a dict entry, about 120 bytes. Same
    exposition, same `labels(...).set(v)` and `remove(...)` (KeyError when absent)."""

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str], registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def _key(self, values: tuple[Any, ...]) -> tuple[str, ...]:
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name} takes labels {self._labelnames}, got {values!r}")
        return tuple(str(v) for v in values)

    def labels(self, *values: Any) -> _Series:
        return _Series(self, self._key(values))

    def set(self, key: tuple[str, ...], value: float) -> None:
        with self._lock:
            self._values[key] = float(value)

    def remove(self, *values: Any) -> None:
        key = self._key(values)
        with self._lock:
            del self._values[key]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self._name, self._documentation, labels=self._labelnames)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self._family()
        with self._lock:
            items = list(self._values.items())
        for key, value in items:
            family.add_metric(list(key), value)
        yield family


def _timestamp(when: datetime | float | None) -> float:
    if when is None:
        return time.time()
    if isinstance(when, datetime):
        return when.timestamp()
    return float(when)


class Metrics:
    """Every metric of one operator process, in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = False) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self.reconciles = Counter(
            "celigo_operator_reconciles", "Reconciles run, by namespace.", ["namespace"], registry=r
        )
        self.reconcile_errors = Counter(
            "celigo_operator_reconcile_errors",
            "Reconciles that failed and are retried with backoff, by namespace and condition reason "
            "(ReconcileFailed: a stage raised).",
            ["namespace", "reason"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "celigo_operator_reconcile_duration_seconds",
            "Time one reconcile took, including Kubernetes and Celigo calls.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.ready = ConnectorGauge(
            "celigoconnector_ready",
            "1 when the CeligoConnector's Ready condition is True, else 0.",
            ["namespace", "name"],
            registry=r,
        )
        self.connectors = Gauge(
            "celigo_operator_connectors",
            "CeligoConnectors known to this operator, by Ready condition status.",
            ["ready"],
            registry=r,
        )
        self.api_requests = Counter(
            "celigo_operator_api_requests",
            "HTTP responses from Celigo and ConductorOne, by endpoint template and status code.",
            ["system", "method", "endpoint", "code"],
            registry=r,
        )
        self.api_throttled = Counter(
            "celigo_operator_api_throttled",
            "429 Too Many Requests answers from Celigo and ConductorOne, by endpoint template.",
            ["system", "endpoint"],
            registry=r,
        )
        self.health_checks = Counter(
            "celigo_operator_health_checks",
            "The operator's own Celigo health checks, by result.",
            ["namespace", "result"],
            registry=r,
        )
        self.last_health_check = ConnectorGauge(
            "celigoconnector_last_successful_health_check_timestamp_seconds",
            "Unix time of the last successful Celigo health check of a connector.",
            ["namespace", "name"],
            registry=r,
        )
        self.rotations = Counter(
            "celigo_operator_rotations",
            "Credential rotations finished, by namespace and result.",
            ["namespace", "result"],
            registry=r,
        )
        self.last_rotation = ConnectorGauge(
            "celigoconnector_last_rotation_timestamp_seconds",
            "Unix time of the last successful credential rotation of a connector.",
            ["namespace", "name"],
            registry=r,
        )
        self.ready_condition = ConnectorGauge(
            "celigoconnector_ready_condition",
            "1 for the CeligoConnector's current Ready status and reason (one series per connector).",
            ["namespace", "name", "status", "reason"],
            registry=r,
        )
        self.rotation_condition = ConnectorGauge(
            "celigoconnector_rotation_condition",
            "1 for the CeligoConnector's current Rotation condition status and reason (only while a flow is "
            "enabled).",
            ["namespace", "name", "status", "reason"],
            registry=r,
        )
        self.credentials_rejected = ConnectorGauge(
            "celigoconnector_credentials_rejected",
            "1 while a changed credential set failed verification and was not rolled out (rejectedVersion).",
            ["namespace", "name"],
            registry=r,
        )
        self.credential_expiry = ConnectorGauge(
            "celigoconnector_credential_expiry_timestamp_seconds",
            "Unix time the credential in use expires, when the operator can read it.",
            ["namespace", "name", "credential"],
            registry=r,
        )
        self.rotation_in_progress = ConnectorGauge(
            "celigoconnector_rotation_in_progress",
            "1 while a rotation journal flow runs (step not Idle).",
            ["namespace", "name"],
            registry=r,
        )
        self.rotation_step = ConnectorGauge(
            "celigoconnector_rotation_step",
            "1 for the rotation journal's current step (one series per connector with a journal).",
            ["namespace", "name", "step"],
            registry=r,
        )
        self.rotation_started = ConnectorGauge(
            "celigoconnector_rotation_started_timestamp_seconds",
            "Unix time the running rotation started (only while one runs).",
            ["namespace", "name"],
            registry=r,
        )
        self.rotation_attempts = ConnectorGauge(
            "celigoconnector_rotation_failed_attempts",
            "Failed attempts of the running rotation's current step (backoff).",
            ["namespace", "name"],
            registry=r,
        )
        self.inventory_users = ConnectorGauge(
            "celigoconnector_inventory_users",
            "Celigo users (account shares).",
            ["namespace", "name"],
            registry=r,
        )
        self.inventory_integration_only_users = ConnectorGauge(
            "celigoconnector_inventory_integration_only_users",
            "Celigo users with access to single integrations only.",
            ["namespace", "name"],
            registry=r,
        )
        self.inventory_integrations = ConnectorGauge(
            "celigoconnector_inventory_integrations",
            "Celigo integrations.",
            ["namespace", "name"],
            registry=r,
        )
        self.inventory_roles = ConnectorGauge(
            "celigoconnector_inventory_users_by_role",
            "Celigo users per account access level.",
            ["namespace", "name", "role"],
            registry=r,
        )
        self.health_check_duration = Histogram(
            "celigo_operator_health_check_duration_seconds",
            "Time one Celigo health check took (tokenInfo, the other region on a 401, inventory), by region "
            "and result (success: the token was accepted).",
            ["region", "result"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.watch_last_event = Gauge(
            "celigo_operator_watch_last_event_timestamp_seconds",
            "Unix time each watch last delivered an event, a bookmark or the end of its initial list.",
            ["resource"],
            registry=r,
        )
        self.leader = Gauge(
            "celigo_operator_leader",
            "1 when this process reconciles (it holds the Lease, or runs without leader election), 0 on a "
            "standby.",
            registry=r,
        )
        self.leader.set(0)
        self._queue = _QueueCollector()
        r.register(self._queue)
        for state in READY_STATES:
            self.connectors.labels(state).set(0)
        self._lock = threading.Lock()
        self._ready_by_connector: dict[tuple[str, str], str] = {}
        # (gauge, namespace, name) -> the extra label values of the one series it has for that connector
        self._current: dict[tuple[str, str, str], tuple[str, ...]] = {}

    # --- reconciles ---
    def observe_reconcile(self, namespace: str, name: str, seconds: float, reason: str | None) -> None:
        """One reconcile finished after `seconds`; `reason` is why it failed (None: it did not), counted as
        itself if in RECONCILE_ERROR_REASONS, else as "Other"."""
        self.reconciles.labels(namespace).inc()
        self.reconcile_duration.observe(max(0.0, seconds))
        if reason is not None:
            self.reconcile_errors.labels(namespace, _closed(reason, RECONCILE_ERROR_REASONS)).inc()

    # --- Ready ---
    def set_ready(self, namespace: str, name: str, status: str | None) -> None:
        """Record the Ready condition status ("True", "False", "Unknown"; anything else counts as Unknown)."""
        state = status if status in READY_STATES else "Unknown"
        self.ready.labels(namespace, name).set(1 if state == "True" else 0)
        with self._lock:
            self._ready_by_connector[(namespace, name)] = state
            self._recount()

    def _recount(self) -> None:
        counts = dict.fromkeys(READY_STATES, 0)
        for state in self._ready_by_connector.values():
            counts[state] += 1
        for state, n in counts.items():
            self.connectors.labels(state).set(n)

    # --- the whole status ---
    def observe_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Everything the metrics show of a connector's status as the writer publishes it (dumped by alias):
        Ready with its reason, a rejected credential set, expiries, the rotation journal, the inventory."""
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get("Ready")
        self.set_ready(namespace, name, ready.get("status") if ready else None)
        for gauge, condition, reasons in (
            (self.ready_condition, ready, READY_REASONS),
            (self.rotation_condition, conditions.get("Rotation"), ROTATION_REASONS),
        ):
            labels = None
            if condition is not None:
                state = _closed(condition.get("status"), READY_STATES, "Unknown")
                labels = (state, _closed(condition.get("reason"), reasons))
            self._one(gauge, namespace, name, labels)
        credentials = status.get("credentials") or {}
        self.credentials_rejected.labels(namespace, name).set(1 if credentials.get("rejectedVersion") else 0)
        rotation = status.get("rotation") or {}
        for flow, label in CREDENTIAL_FLOWS.items():
            expires = _epoch((rotation.get(flow) or {}).get("expiresAt"))
            if expires is None:
                self._remove(self.credential_expiry, namespace, name, label)
            else:
                self.credential_expiry.labels(namespace, name, label).set(expires)
        self._observe_rotation(namespace, name, rotation)
        inventory = status.get("inventory")
        if inventory:
            self.inventory_users.labels(namespace, name).set(inventory.get("users", 0))
            self.inventory_integration_only_users.labels(namespace, name).set(
                inventory.get("integrationOnlyUsers", 0)
            )
            self.inventory_integrations.labels(namespace, name).set(inventory.get("integrations", 0))
            roles = inventory.get("roles") or {}
            for role in ROLES:
                self.inventory_roles.labels(namespace, name, role).set(roles.get(role, 0))

    def _observe_rotation(self, namespace: str, name: str, rotation: Mapping[str, Any]) -> None:
        step = rotation.get("step")
        if step is None:
            for gauge in (self.rotation_in_progress, self.rotation_started, self.rotation_attempts):
                self._remove(gauge, namespace, name)
            self._one(self.rotation_step, namespace, name, None)
            return
        running = step != "Idle"
        self._one(self.rotation_step, namespace, name, (_closed(step, ROTATION_STEPS),))
        self.rotation_in_progress.labels(namespace, name).set(1 if running else 0)
        attempts = int(rotation.get("attempts") or 0) if running else 0
        self.rotation_attempts.labels(namespace, name).set(attempts)
        started = _epoch(rotation.get("startedAt")) if running else None
        if started is None:
            self._remove(self.rotation_started, namespace, name)
        else:
            self.rotation_started.labels(namespace, name).set(started)

    def _one(self, gauge: ConnectorGauge, namespace: str, name: str, labels: tuple[str, ...] | None) -> None:
        """Keep exactly one series of `gauge` for the connector, with these extra labels (None: none)."""
        key = (gauge._name, namespace, name)
        with self._lock:
            old = self._current.pop(key, None)
            if labels is not None:
                self._current[key] = labels
        if old is not None and old != labels:
            self._remove(gauge, namespace, name, *old)
        if labels is not None:
            gauge.labels(namespace, name, *labels).set(1)

    @staticmethod
    def _remove(gauge: ConnectorGauge, *labels: str) -> None:
        try:
            gauge.remove(*labels)
        except KeyError:
            pass

    # --- the process: leadership, watches, work queue ---
    def leading(self, queue: QueueView | None) -> None:
        """This process started reconciling from `queue` (it leads), or stopped (None)."""
        self.leader.set(0 if queue is None else 1)
        self._queue.queue = queue

    def watch_seen(self, resource: str | None, when: float | None = None) -> None:
        """A watch delivered something (an event, a bookmark, the end of its initial list)."""
        self.watch_last_event.labels(_closed(resource, WATCHED, "other")).set(_timestamp(when))

    def health_check_observed(self, region: str, seconds: float, ok: bool) -> None:
        """One Celigo health check (one per token and region, however many connectors shared it)."""
        region, result = _closed(region, REGIONS, "other"), "success" if ok else "failure"
        self.health_check_duration.labels(region, result).observe(max(0.0, seconds))

    # --- health checks and rotations ---
    def health_checked(
        self, namespace: str, name: str, ok: bool, when: datetime | float | None = None
    ) -> None:
        """A health check ran; a successful one moves the connector's last-success timestamp."""
        self.health_checks.labels(namespace, "success" if ok else "failure").inc()
        if ok:
            self.last_health_check.labels(namespace, name).set(_timestamp(when))

    def rotated(self, namespace: str, name: str, ok: bool = True, when: datetime | float | None = None) -> None:
        """A rotation finished; a successful one moves the connector's last-rotation timestamp."""
        self.rotations.labels(namespace, "success" if ok else "failure").inc()
        if ok:
            self.last_rotation.labels(namespace, name).set(_timestamp(when))

    # --- API calls ---
    def api_response(self, system: str, method: str, path: str, status_code: int) -> None:
        """Count one HTTP response by endpoint template (never the raw path: ids stay out of labels)."""
        system = system if system in SYSTEMS else "other"
        endpoint = endpoint_template(system, path)
        method = method.upper() if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"} else "OTHER"
        self.api_requests.labels(system, method, endpoint, str(int(status_code))).inc()
        if status_code == 429:
            self.api_throttled.labels(system, endpoint).inc()

    def httpx_response_hook(self, system: str) -> Callable[[httpx.Response], Awaitable[None]]:
        """An `event_hooks={"response": [...]}` entry for an httpx.AsyncClient talking to `system`."""

        async def hook(response: httpx.Response) -> None:
            self.api_response(system, response.request.method, response.request.url.path, response.status_code)

        return hook

    # --- lifecycle ---
    def forget_connector(self, namespace: str, name: str) -> None:
        """Drop a deleted connector's series so dashboards do not show it forever."""
        for gauge in (
            self.ready,
            self.last_health_check,
            self.last_rotation,
            self.credentials_rejected,
            self.rotation_in_progress,
            self.rotation_started,
            self.rotation_attempts,
            self.inventory_users,
            self.inventory_integration_only_users,
            self.inventory_integrations,
        ):
            self._remove(gauge, namespace, name)
        for label in CREDENTIAL_FLOWS.values():
            self._remove(self.credential_expiry, namespace, name, label)
        for role in ROLES:
            self._remove(self.inventory_roles, namespace, name, role)
        for gauge in (self.ready_condition, self.rotation_condition, self.rotation_step):
            self._one(gauge, namespace, name, None)
        with self._lock:
            self._ready_by_connector.pop((namespace, name), None)
            self._recount()

    def start_server(self, port: int, addr: str = "0.0.0.0") -> Any:
        """Serve /metrics on `port` from a daemon thread (port 0 picks a free one); returns the server."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server


#: The process-wide metrics the operator serves.
METRICS = Metrics(process=True)


def start_metrics_server(port: int, addr: str = "0.0.0.0") -> Any:
    """Serve the process-wide metrics on `port` (the operator's `metrics_port`); returns the HTTP server."""
    return METRICS.start_server(port, addr)


def observe_reconcile(namespace: str, name: str, seconds: float, reason: str | None) -> None:
    METRICS.observe_reconcile(namespace, name, seconds, reason)


def set_ready(namespace: str, name: str, status: str | None) -> None:
    METRICS.set_ready(namespace, name, status)


def health_checked(namespace: str, name: str, ok: bool, when: datetime | float | None = None) -> None:
    METRICS.health_checked(namespace, name, ok, when)


def rotated(namespace: str, name: str, ok: bool = True, when: datetime | float | None = None) -> None:
    METRICS.rotated(namespace, name, ok, when)


def forget_connector(namespace: str, name: str) -> None:
    METRICS.forget_connector(namespace, name)


def observe_status(namespace: str, name: str, status: Mapping[str, Any]) -> None:
    METRICS.observe_status(namespace, name, status)


def leading(queue: QueueView | None) -> None:
    METRICS.leading(queue)


def health_check_observed(region: str, seconds: float, ok: bool) -> None:
    METRICS.health_check_observed(region, seconds, ok)


def instrument_kopf_watches(metrics: Metrics | None = None) -> bool:
    """Record every item kopf's watch streams yield (events, BOOKMARKs, the end of the initial list) in
    `celigo_operator_watch_last_event_timestamp_seconds`: kopf consumes bookmarks itself and never hands
    them to a handler, so its stream function is wrapped (once per process). Returns False, leaving kopf
    untouched, when this kopf has no such function (the metric is then absent, never wrong)."""
    target = metrics or METRICS
    try:
        from kopf._cogs.clients import watching
    except ImportError:  # pragma: no cover - a kopf without that module
        return False
    original = getattr(watching, "continuous_watch", None)
    if original is None:
        return False
    if getattr(original, "__wrapped_by_celigo_metrics__", False):
        return True

    async def continuous_watch(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        resource = kwargs.get("resource")
        plural = getattr(resource, "plural", None)
        async for item in original(*args, **kwargs):
            target.watch_seen(plural)
            yield item

    continuous_watch.__wrapped_by_celigo_metrics__ = True  # type: ignore[attr-defined]
    watching.continuous_watch = continuous_watch
    return True


def httpx_response_hook(system: str) -> Callable[[httpx.Response], Awaitable[None]]:
    return METRICS.httpx_response_hook(system)
