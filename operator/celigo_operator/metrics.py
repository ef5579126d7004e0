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
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

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

READY_STATES = ("True", "False", "Unknown")
SYSTEMS = ("celigo", "conductorone")
OTHER_ENDPOINT = "other"
OTHER_ERROR = "Other"
_ERROR_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
_ID = r"[^/]+"

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


def error_kind_label(kind: str | None) -> str:
    """A safe label for an error kind: an identifier such as a class name or a reason, else "Other"."""
    if not kind:
        return OTHER_ERROR
    return kind if _ERROR_KIND.match(kind) else OTHER_ERROR


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
            "Reconciles that failed, by namespace and error kind (an exception class or API reason).",
            ["namespace", "kind"],
            registry=r,
        )
        self.reconcile_duration = Histogram(
            "celigo_operator_reconcile_duration_seconds",
            "Time one reconcile took, including Kubernetes and Celigo calls.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.ready = Gauge(
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
        self.last_health_check = Gauge(
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
        self.last_rotation = Gauge(
            "celigoconnector_last_rotation_timestamp_seconds",
            "Unix time of the last successful credential rotation of a connector.",
            ["namespace", "name"],
            registry=r,
        )
        for state in READY_STATES:
            self.connectors.labels(state).set(0)
        self._lock = threading.Lock()
        self._ready_by_connector: dict[tuple[str, str], str] = {}

    # --- reconciles ---
    def observe_reconcile(self, namespace: str, name: str, seconds: float, error_kind: str | None) -> None:
        """One reconcile finished after `seconds`; `error_kind` is None on success."""
        self.reconciles.labels(namespace).inc()
        self.reconcile_duration.observe(max(0.0, seconds))
        if error_kind is not None:
            self.reconcile_errors.labels(namespace, error_kind_label(error_kind)).inc()

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
        for gauge in (self.ready, self.last_health_check, self.last_rotation):
            try:
                gauge.remove(namespace, name)
            except KeyError:
                pass
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


def observe_reconcile(namespace: str, name: str, seconds: float, error_kind: str | None) -> None:
    METRICS.observe_reconcile(namespace, name, seconds, error_kind)


def set_ready(namespace: str, name: str, status: str | None) -> None:
    METRICS.set_ready(namespace, name, status)


def health_checked(namespace: str, name: str, ok: bool, when: datetime | float | None = None) -> None:
    METRICS.health_checked(namespace, name, ok, when)


def rotated(namespace: str, name: str, ok: bool = True, when: datetime | float | None = None) -> None:
    METRICS.rotated(namespace, name, ok, when)


def forget_connector(namespace: str, name: str) -> None:
    METRICS.forget_connector(namespace, name)


def httpx_response_hook(system: str) -> Callable[[httpx.Response], Awaitable[None]]:
    return METRICS.httpx_response_hook(system)
