"""A real `prometheus` scrapes the real operator (against the Kubernetes API emulator and fake Celigo) and
evaluates the shipped rules file itself, with only the `for:` durations shortened: a revoked token takes
the connector's alert through pending to firing and a new token resolves it; with two replicas under leader
election, "operator down" fires while nobody runs and stays silent while one leads and the other waits.
Scrape and rule evaluation every second; alerts read from Prometheus' HTTP API."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from celigo_testkit.harness import wait_for
from e2e.test_ha import LEASE, holder
from e2e.test_health import refresh, token_of
from monitoring.promkit import Prometheus, free_port, load_rules, shortened

from support.world import world

pytestmark = pytest.mark.slow
FOR = "5s"  # every `for:` of the shipped rules, shortened
TOKEN_REJECTED = "CeligoConnectorTokenRejected"
DOWN = "CeligoOperatorDown"


def in_state(prom: Prometheus, name: str, state: str) -> Callable[[], list[dict[str, Any]]]:
    return lambda: [a for a in prom.alerts(name) if a["state"] == state]


def test_revoked_token_alert_goes_pending_then_firing_and_a_new_token_resolves_it(tmp_path: Path) -> None:
    port = free_port()
    rules = shortened(load_rules(), FOR)
    with (
        world(tmp_path / "world", kube="emulator", CELIGO_OPERATOR_METRICS_PORT=str(port)) as w,
        Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{port}"], rules) as prom,
    ):
        wait_for(prom.ready, 60, what="prometheus ready")
        ns = w.namespace()
        w.put_secret(ns, w.credentials())
        w.create_connector(ns)
        w.wait_ready(ns, timeout=60)
        ready = f'celigoconnector_ready_condition{{namespace="{ns}",name="celigo",status="True",reason="Ready"}}'
        wait_for(lambda: prom.query(ready), 60, interval=0.2, what="Prometheus sees the connector Ready")
        # What the rules and the dashboard read arrives through the real scrape: the inventory, the
        # health-check histogram, the work queue, and each watch's last event or bookmark (kopf's own
        # streams, which never hand bookmarks to a handler).
        assert prom.query(f'celigoconnector_inventory_users{{namespace="{ns}",name="celigo"}}')
        assert prom.query('celigo_operator_health_check_duration_seconds_count{region="us",result="success"} > 0')
        assert prom.query("celigo_operator_workqueue_oldest_item_age_seconds")
        watches = "celigo_operator_watch_last_event_timestamp_seconds"
        first = {r["metric"]["resource"]: float(r["value"][1]) for r in prom.query(watches)}
        assert {"celigoconnectors", "secrets", "deployments", "pods"} <= set(first) and "other" not in first, first

        def all_advanced() -> bool:
            now = {r["metric"]["resource"]: float(r["value"][1]) for r in prom.query(watches)}
            return all(now.get(kind, 0) > when for kind, when in first.items())

        # A ConfigMap no watch selects moves the store's resourceVersion: each watch gets only a BOOKMARK
        # (the emulator's, once a second, as kube-apiserver's watch cache does about once a minute).
        w.core.create_namespaced_config_map(ns, {"metadata": {"name": "unwatched"}})
        wait_for(all_advanced, 60, interval=0.5, what="every watch delivers a bookmark")
        assert prom.alerts(TOKEN_REJECTED) == []

        w.celigo.revoke_token(token_of(w, ns))
        refresh(w, ns)
        w.wait_condition(ns, "celigo", "Ready", "False", "TokenRejected", timeout=60)
        pending = wait_for(in_state(prom, TOKEN_REJECTED, "pending"), 60, interval=0.2, what="alert pending")
        labels = pending[0]["labels"]
        assert (labels["namespace"], labels["name"], labels["reason"], labels["severity"]) == (
            ns,
            "celigo",
            "TokenRejected",
            "critical",
        )
        assert "Celigo (Resources > API tokens)" in pending[0]["annotations"]["runbook"]
        firing = wait_for(in_state(prom, TOKEN_REJECTED, "firing"), 60, interval=0.2, what="alert firing")
        assert firing[0]["labels"] == labels and firing[0]["activeAt"] == pending[0]["activeAt"]
        assert prom.query('celigo_operator_health_check_duration_seconds_count{region="us",result="failure"} > 0')

        old = w.core.read_namespaced_secret("celigo-credentials", ns)
        values = {k: base64.b64decode(v).decode() for k, v in old.data.items()}
        values["BATON_CELIGO_ACCESS_TOKEN"] = w.credentials()["BATON_CELIGO_ACCESS_TOKEN"]
        w.put_secret(ns, values)
        w.wait_ready(ns, timeout=60)
        wait_for(lambda: prom.alerts(TOKEN_REJECTED) == [], 60, interval=0.2, what="alert resolved")
        # The alert resolves as soon as a scrape no longer shows TokenRejected, which can be a scrape taken
        # while the new credentials roll out (Ready=False, another reason): Ready again comes with a later one.
        wait_for(lambda: prom.query(ready), 60, interval=0.2, what="Prometheus sees the connector Ready again")


def test_operator_down_fires_with_nobody_and_stays_silent_with_a_leader_and_a_standby(tmp_path: Path) -> None:
    ports = {"replica-a": free_port(), "replica-b": free_port()}
    instances = {who: f"127.0.0.1:{port}" for who, port in ports.items()}
    rules = shortened(load_rules(), FOR)
    with (
        world(tmp_path / "world", kube="emulator", start_operator=False) as w,
        Prometheus(tmp_path / "prometheus", sorted(instances.values()), rules) as prom,
    ):
        wait_for(prom.ready, 60, what="prometheus ready")
        # Nothing to scrape: the rule is live and fires once its (shortened) for: has passed.
        wait_for(in_state(prom, DOWN, "firing"), 60, interval=0.2, what="operator down while nobody runs")

        def start(who: str) -> Any:
            env = {"CELIGO_OPERATOR_IDENTITY": who, "CELIGO_OPERATOR_METRICS_PORT": str(ports[who]), **LEASE}
            return w.start_operator(f"{who}.log", **env)

        start("replica-a")
        wait_for(lambda: holder(w) == "replica-a", 30, what="replica-a leads")
        b = start("replica-b")
        wait_for(lambda: "waiting for Lease" in b.log(), 30, what="replica-b waits")
        ns = w.namespace()
        w.put_secret(ns, w.credentials())
        w.create_connector(ns)
        w.wait_ready(ns, timeout=60)

        def leader_by_instance() -> dict[str, str]:
            return {r["metric"]["instance"]: r["value"][1] for r in prom.query("celigo_operator_leader")}

        expected = {instances["replica-a"]: "1", instances["replica-b"]: "0"}
        wait_for(lambda: leader_by_instance() == expected, 60, interval=0.2, what="leader 1, standby 0, both scraped")
        wait_for(lambda: prom.alerts(DOWN) == [], 60, interval=0.2, what="operator down resolved")

        # Silent, neither pending nor firing, over 15 evaluations of the rules (three times the for:) while the
        # standby keeps waiting and is scraped as up.
        evaluations: set[str] = set()

        def silent_evaluations() -> bool:
            assert prom.alerts(DOWN) == [], prom.alerts(DOWN)
            assert holder(w) == "replica-a" and "replica-b holds Lease" not in b.log()
            when = prom.evaluations("celigo-operator.operator")
            if when:
                evaluations.add(when)
            return len(evaluations) >= 15

        wait_for(silent_evaluations, 120, interval=0.2, what="15 silent evaluations")
        up = {r["metric"]["instance"]: r["value"][1] for r in prom.query('up{job="celigo-operator"}')}
        assert up == {instances["replica-a"]: "1", instances["replica-b"]: "1"}
