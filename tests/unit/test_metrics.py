"""Metrics: names, labels and values as Prometheus scrapes them, and no secret ever in a label."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from celigo_operator import metrics
from celigo_operator.metrics import Metrics, endpoint_template
from celigo_operator.queue import WorkQueue


def value(m: Metrics, metric: str, /, **labels: str) -> float | None:
    return m.registry.get_sample_value(metric, labels)


def all_label_values(m: Metrics) -> set[str]:
    found: set[str] = set()
    for family in m.registry.collect():
        for sample in family.samples:
            found.update(sample.labels.values())
    return found


def test_reconciles_errors_and_duration() -> None:
    m = Metrics()
    m.observe_reconcile("ns", "a", 0.2, None)
    m.observe_reconcile("ns", "a", 3.0, "ReconcileFailed")
    m.observe_reconcile("ns", "b", 0.01, "ApplyFailed")
    assert value(m, "celigo_operator_reconciles_total", namespace="ns") == 3
    assert value(m, "celigo_operator_reconcile_errors_total", namespace="ns", reason="ReconcileFailed") == 1
    assert value(m, "celigo_operator_reconcile_errors_total", namespace="ns", reason="ApplyFailed") == 1
    assert value(m, "celigo_operator_reconcile_duration_seconds_count") == 3
    assert value(m, "celigo_operator_reconcile_duration_seconds_bucket", le="0.25") == 2
    assert value(m, "celigo_operator_reconcile_duration_seconds_sum") == pytest.approx(3.21)


def test_reconcile_error_reasons_are_a_closed_set() -> None:
    """A reason outside the closed set (say, an exception's text that reached it by mistake) is "Other"."""
    m = Metrics()
    m.observe_reconcile("ns", "a", 0.1, "Invalid header value b'Bearer abc123'")
    m.observe_reconcile("ns", "a", 0.1, "KubeError")
    assert value(m, "celigo_operator_reconcile_errors_total", namespace="ns", reason="Other") == 2
    assert "abc123" not in " ".join(all_label_values(m))


def test_ready_gauge_and_count_by_status() -> None:
    m = Metrics()
    assert value(m, "celigo_operator_connectors", ready="True") == 0
    m.set_ready("ns", "a", "True")
    m.set_ready("ns", "b", "False")
    m.set_ready("ns2", "c", "Unknown")
    m.set_ready("ns2", "d", None)
    assert value(m, "celigoconnector_ready", namespace="ns", name="a") == 1
    assert value(m, "celigoconnector_ready", namespace="ns", name="b") == 0
    assert value(m, "celigo_operator_connectors", ready="True") == 1
    assert value(m, "celigo_operator_connectors", ready="False") == 1
    assert value(m, "celigo_operator_connectors", ready="Unknown") == 2
    m.set_ready("ns", "b", "True")  # a transition moves the connector between counts
    assert value(m, "celigo_operator_connectors", ready="True") == 2
    assert value(m, "celigo_operator_connectors", ready="False") == 0


def test_health_and_rotation_timestamps() -> None:
    m = Metrics()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    m.health_checked("ns", "a", True, when)
    m.health_checked("ns", "a", False, datetime(2026, 1, 3, tzinfo=UTC))  # a failure does not move it
    assert value(m, "celigoconnector_last_successful_health_check_timestamp_seconds", namespace="ns", name="a") == (
        when.timestamp()
    )
    assert value(m, "celigo_operator_health_checks_total", namespace="ns", result="success") == 1
    assert value(m, "celigo_operator_health_checks_total", namespace="ns", result="failure") == 1
    m.rotated("ns", "a", True, 1_700_000_000.0)
    m.rotated("ns", "a", False, 1_800_000_000.0)
    assert value(m, "celigoconnector_last_rotation_timestamp_seconds", namespace="ns", name="a") == 1_700_000_000
    assert value(m, "celigo_operator_rotations_total", namespace="ns", result="failure") == 1


def test_forget_connector_drops_its_series_and_count() -> None:
    m = Metrics()
    m.set_ready("ns", "a", "True")
    m.health_checked("ns", "a", True)
    m.rotated("ns", "a")
    m.set_ready("ns", "b", "False")
    m.forget_connector("ns", "a")
    m.forget_connector("ns", "never-seen")  # harmless
    assert value(m, "celigoconnector_ready", namespace="ns", name="a") is None
    assert value(m, "celigoconnector_last_successful_health_check_timestamp_seconds", namespace="ns", name="a") is None
    assert value(m, "celigoconnector_last_rotation_timestamp_seconds", namespace="ns", name="a") is None
    assert value(m, "celigo_operator_connectors", ready="True") == 0
    assert value(m, "celigo_operator_connectors", ready="False") == 1


@pytest.mark.parametrize(
    ("system", "path", "template"),
    [
        ("celigo", "/v1/ashares", "/v1/ashares"),
        ("celigo", "/v1/ashares/5f1e2d3c4b5a69788796a5b4", "/v1/ashares/{id}"),
        ("celigo", "/us/v1/ashares/5f1e2d3c4b5a69788796a5b4/disable", "/v1/ashares/{id}/disable"),
        ("celigo", "/v1/integrations/abc/ashares", "/v1/integrations/{id}/ashares"),
        ("celigo", "/v1/accesstokens/abc/display", "/v1/accesstokens/{id}/display"),
        ("celigo", "/v1/accesstokens/abc/generate/", "/v1/accesstokens/{id}/generate"),
        ("celigo", "/v1/tokenInfo", "/v1/tokenInfo"),
        ("celigo", "/v1/something/new", "other"),
        ("celigo", "/v1/ashares/a/b/c", "other"),
        ("conductorone", "/auth/v1/token", "/auth/v1/token"),
        ("conductorone", "/api/v1/apps/2abc/connectors/2def", "/api/v1/apps/{app_id}/connectors/{connector_id}"),
        (
            "conductorone",
            "/api/v1/apps/2abc/connectors/2def/credentials/2xyz",
            "/api/v1/apps/{app_id}/connectors/{connector_id}/credentials/{credential_id}",
        ),
        ("conductorone", "/v1/ashares", "other"),
        ("unknown", "/v1/ashares", "other"),
    ],
)
def test_endpoint_templates(system: str, path: str, template: str) -> None:
    assert endpoint_template(system, path) == template


class _Handler(BaseHTTPRequestHandler):
    """Answers by path: /v1/ashares/<id> 200, /v1/integrations 429, anything else 404."""

    def do_GET(self) -> None:
        code = 429 if self.path.startswith("/v1/integrations") else 200 if self.path.startswith("/v1/ashares") else 404
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_httpx_hook_counts_responses_by_template_and_status(http_server: str) -> None:
    m = Metrics()
    secret_id = "tok3n-in-a-path-0123456789"
    async with httpx.AsyncClient(
        base_url=http_server, event_hooks={"response": [m.httpx_response_hook("celigo")]}
    ) as client:
        await client.get(f"/v1/ashares/{secret_id}", params={"token": "querysecret"})
        await client.get("/v1/ashares/other-id")
        await client.get("/v1/integrations")
        await client.get(f"/not/known/{secret_id}")
    assert value(m, "celigo_operator_api_requests_total", system="celigo", method="GET",
                 endpoint="/v1/ashares/{id}", code="200") == 2
    assert value(m, "celigo_operator_api_requests_total", system="celigo", method="GET",
                 endpoint="/v1/integrations", code="429") == 1
    assert value(m, "celigo_operator_api_throttled_total", system="celigo", endpoint="/v1/integrations") == 1
    assert value(m, "celigo_operator_api_requests_total", system="celigo", method="GET",
                 endpoint="other", code="404") == 1
    labels = all_label_values(m)
    assert not any(secret_id in v or "querysecret" in v for v in labels)


def test_metrics_server_serves_the_registry() -> None:
    m = Metrics(process=True)
    m.set_ready("ns", "a", "True")
    server = m.start_server(0, "127.0.0.1")
    try:
        port = server.server_address[1]
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["celigoconnector_ready"].samples[0].labels == {"namespace": "ns", "name": "a"}
    assert "process_cpu_seconds" in families or "python_info" in families


def test_module_functions_feed_the_process_metrics() -> None:
    ns = "module-level-test"
    metrics.set_ready(ns, "a", "True")
    metrics.observe_reconcile(ns, "a", 0.1, None)
    metrics.health_checked(ns, "a", True, 5.0)
    metrics.rotated(ns, "a", True, 6.0)
    asyncio.run(_call_hook(metrics.httpx_response_hook("conductorone")))
    reg = metrics.METRICS.registry
    assert reg.get_sample_value("celigoconnector_ready", {"namespace": ns, "name": "a"}) == 1
    assert reg.get_sample_value("celigo_operator_reconciles_total", {"namespace": ns}) == 1
    assert reg.get_sample_value("celigoconnector_last_rotation_timestamp_seconds", {"namespace": ns, "name": "a"}) == 6
    assert reg.get_sample_value(
        "celigo_operator_api_requests_total",
        {"system": "conductorone", "method": "POST", "endpoint": "/auth/v1/token", "code": "200"},
    )
    metrics.forget_connector(ns, "a")
    assert reg.get_sample_value("celigoconnector_ready", {"namespace": ns, "name": "a"}) is None


async def _call_hook(hook: object) -> None:
    request = httpx.Request("POST", "https://tenant.conductor.one/auth/v1/token")
    await hook(httpx.Response(200, request=request))  # type: ignore[operator]


# --- what the alerts and the dashboard read (issue 17) ---

STATUS: dict = {
    "conditions": [
        {"type": "Ready", "status": "False", "reason": "TokenRejected", "message": "token xyz-secret revoked"},
        {"type": "CredentialsValid", "status": "False", "reason": "TokenRejected"},
        {"type": "Rotation", "status": "False", "reason": "RotationBackoff", "message": "attempt 2"},
    ],
    "credentials": {"version": "hmac", "rejectedVersion": "hmac2"},
    "inventory": {
        "users": 7,
        "integrationOnlyUsers": 2,
        "integrations": 3,
        "roles": {"administrator": 1, "manage": 2, "monitor": 2},
        "checkedAt": "2026-01-01T00:00:00Z",
    },
    "rotation": {
        "step": "RollingOut",
        "flow": "Celigo",
        "startedAt": "2026-01-02T03:04:05Z",
        "attempts": 2,
        "celigo": {"expiresAt": "2026-02-01T00:00:00Z"},
        "conductorOne": {"expiresAt": "2026-03-01T00:00:00+00:00"},
    },
}


def test_status_feeds_ready_reason_rejection_expiry_rotation_and_inventory() -> None:
    m = Metrics()
    m.observe_status("ns", "a", STATUS)
    assert value(m, "celigoconnector_ready", namespace="ns", name="a") == 0
    assert value(m, "celigo_operator_connectors", ready="False") == 1
    assert value(
        m, "celigoconnector_ready_condition", namespace="ns", name="a", status="False", reason="TokenRejected"
    ) == 1
    assert value(m, "celigoconnector_credentials_rejected", namespace="ns", name="a") == 1
    assert value(
        m, "celigoconnector_rotation_condition", namespace="ns", name="a", status="False", reason="RotationBackoff"
    ) == 1
    expiry = "celigoconnector_credential_expiry_timestamp_seconds"
    assert value(m, expiry, namespace="ns", name="a", credential="celigo") == datetime(2026, 2, 1, tzinfo=UTC).timestamp()
    assert value(m, expiry, namespace="ns", name="a", credential="conductorone") == (
        datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    )
    assert value(m, "celigoconnector_rotation_in_progress", namespace="ns", name="a") == 1
    assert value(m, "celigoconnector_rotation_step", namespace="ns", name="a", step="RollingOut") == 1
    assert value(m, "celigoconnector_rotation_started_timestamp_seconds", namespace="ns", name="a") == (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    )
    assert value(m, "celigoconnector_rotation_failed_attempts", namespace="ns", name="a") == 2
    assert value(m, "celigoconnector_inventory_users", namespace="ns", name="a") == 7
    assert value(m, "celigoconnector_inventory_integration_only_users", namespace="ns", name="a") == 2
    assert value(m, "celigoconnector_inventory_integrations", namespace="ns", name="a") == 3
    assert value(m, "celigoconnector_inventory_users_by_role", namespace="ns", name="a", role="manage") == 2
    assert not any("secret" in v for v in all_label_values(m))  # the message never becomes a label


def test_a_connector_keeps_one_series_per_changing_label() -> None:
    m = Metrics()
    m.observe_status("ns", "a", STATUS)
    recovered = {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        "credentials": {"version": "hmac2"},
        "rotation": {"step": "Idle", "celigo": {}},
    }
    m.observe_status("ns", "a", recovered)
    ready = [s for f in m.registry.collect() for s in f.samples if s.name == "celigoconnector_ready_condition"]
    assert [s.labels for s in ready] == [{"namespace": "ns", "name": "a", "status": "True", "reason": "Ready"}]
    steps = [s for f in m.registry.collect() for s in f.samples if s.name == "celigoconnector_rotation_step"]
    assert [s.labels["step"] for s in steps] == ["Idle"]
    rotation = [s for f in m.registry.collect() for s in f.samples if s.name == "celigoconnector_rotation_condition"]
    assert rotation == []  # the condition went with the flow's last status
    assert value(m, "celigoconnector_rotation_in_progress", namespace="ns", name="a") == 0
    assert value(m, "celigoconnector_rotation_started_timestamp_seconds", namespace="ns", name="a") is None
    assert value(m, "celigoconnector_credentials_rejected", namespace="ns", name="a") == 0
    assert value(m, "celigoconnector_credential_expiry_timestamp_seconds", namespace="ns", name="a", credential="celigo") is None
    # No journal at all (rotation never enabled): no rotation series.
    m.observe_status("ns", "a", {"conditions": recovered["conditions"]})
    assert value(m, "celigoconnector_rotation_step", namespace="ns", name="a", step="Idle") is None
    assert value(m, "celigoconnector_rotation_in_progress", namespace="ns", name="a") is None


def test_unknown_reasons_and_steps_fold_into_closed_labels() -> None:
    m = Metrics()
    m.observe_status(
        "ns",
        "a",
        {
            "conditions": [{"type": "Ready", "status": "Maybe", "reason": "Bearer abc.def-secret"}],
            "rotation": {"step": "Teleporting"},
        },
    )
    assert value(m, "celigoconnector_ready_condition", namespace="ns", name="a", status="Unknown", reason="Other") == 1
    assert value(m, "celigoconnector_rotation_step", namespace="ns", name="a", step="Other") == 1
    assert not any("secret" in v for v in all_label_values(m))


def test_every_documented_ready_reason_is_a_label_value() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("### Conditions and reasons", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `") and "OperatorUpgrade" not in line]
    reasons = {r for line in rows for r in re.findall(r"`([A-Z][A-Za-z]+)`", line.split("|")[3])}
    assert {"TokenRejected", "WrongRegion", "CrashLoopBackOff", "SyncError"} <= reasons
    assert reasons - {"Ready", *READY_INPUT_TYPES} <= metrics.READY_REASONS


READY_INPUT_TYPES = ("CredentialsValid", "Reconciled", "CeligoReachable", "ConnectorAvailable", "Synced")


def test_forget_connector_drops_the_status_series() -> None:
    m = Metrics()
    m.observe_status("ns", "a", STATUS)
    m.observe_status("ns", "b", STATUS)
    m.forget_connector("ns", "a")
    left = {s.labels.get("name") for f in m.registry.collect() for s in f.samples if s.name.startswith("celigoconnector_")}
    assert left == {"b"}


def test_health_check_latency_histogram() -> None:
    m = Metrics()
    m.health_check_observed("us", 0.2, True)
    m.health_check_observed("eu", 3.0, False)
    m.health_check_observed("mars", 0.01, True)
    hist = "celigo_operator_health_check_duration_seconds"
    assert value(m, f"{hist}_count", region="us", result="success") == 1
    assert value(m, f"{hist}_bucket", region="eu", result="failure", le="2.5") == 0
    assert value(m, f"{hist}_bucket", region="eu", result="failure", le="5.0") == 1
    assert value(m, f"{hist}_count", region="other", result="success") == 1


def test_work_queue_depth_and_oldest_item_age_follow_the_queue() -> None:
    m = Metrics()
    assert value(m, "celigo_operator_leader") == 0
    assert value(m, "celigo_operator_workqueue_depth") is None  # a standby has no queue
    queue = WorkQueue(_never, lambda key, delay: None)
    m.leading(queue)
    assert value(m, "celigo_operator_leader") == 1
    assert value(m, "celigo_operator_workqueue_depth") == 0
    assert value(m, "celigo_operator_workqueue_oldest_item_age_seconds") == 0
    before = time.monotonic()
    queue.add("ns/a")
    time.sleep(0.05)
    queue.add("ns/b")
    queue.add("ns/a", check_now=True)  # merged: ns/a keeps waiting since its first add
    age = value(m, "celigo_operator_workqueue_oldest_item_age_seconds")
    assert value(m, "celigo_operator_workqueue_depth") == 2
    assert 0.05 <= age <= time.monotonic() - before  # type: ignore[operator]
    queue.forget("ns/a")
    assert value(m, "celigo_operator_workqueue_depth") == 1
    assert value(m, "celigo_operator_workqueue_oldest_item_age_seconds") < age  # type: ignore[operator]
    m.leading(None)
    assert value(m, "celigo_operator_leader") == 0 and value(m, "celigo_operator_workqueue_depth") is None


async def _never(key: str, check_now: bool) -> bool:
    raise AssertionError("the queue was not started")


def test_watch_timestamps_by_resource() -> None:
    m = Metrics()
    m.watch_seen("celigoconnectors", 100.0)
    m.watch_seen("secrets", 200.0)
    m.watch_seen("configmaps", 300.0)
    stamp = "celigo_operator_watch_last_event_timestamp_seconds"
    assert value(m, stamp, resource="celigoconnectors") == 100
    assert value(m, stamp, resource="secrets") == 200
    assert value(m, stamp, resource="other") == 300


def test_kopf_watch_streams_are_instrumented_once() -> None:
    from kopf._cogs.clients import watching

    assert metrics.instrument_kopf_watches()
    wrapped = watching.continuous_watch
    assert metrics.instrument_kopf_watches() and watching.continuous_watch is wrapped


def test_per_connector_series_cost_little_memory() -> None:
    """1000 connectors' series (Ready, its reason, the inventory, the last health check: ten each) stay a small
    part of the operator's memory goal (prometheus_client's Gauge children took 7 MiB)."""
    import gc
    import tracemalloc

    m = metrics.Metrics()
    status = {
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        "inventory": {"users": 4, "integrationOnlyUsers": 1, "integrations": 2,
                      "roles": {"administrator": 1, "manage": 1, "monitor": 2}},
    }
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(1000):
            m.observe_status(f"ns-{i // 10:03d}", f"c{i % 10:03d}", status)
            m.health_checked(f"ns-{i // 10:03d}", f"c{i % 10:03d}", True, when=1.0)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert m.registry.get_sample_value("celigoconnector_inventory_users", {"namespace": "ns-099", "name": "c009"}) == 4
    assert used < 2.5 * 2**20, f"{used / 2**20:.1f} MiB for 1000 connectors' series"
