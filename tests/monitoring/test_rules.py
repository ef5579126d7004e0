"""The shipped alert rules and dashboard, checked by Debian's promtool: the rules parse and pass
`promtool check rules`, every alert fires and stays silent where its `promtool test rules` cases say, and
every dashboard expression is a valid PromQL expression by the same parser."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from monitoring.promkit import (
    CHART_COPIES,
    DASHBOARD,
    RULE_TESTS,
    RULES,
    alerting_rules,
    as_prometheus,
    dashboard_targets,
    load_rules,
    promtool,
    with_annotations,
)


def test_rules_file_passes_promtool_check() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in load_rules()['groups'])} rules found" in result.stdout


def test_every_alert_says_what_to_do() -> None:
    for rule in alerting_rules(load_rules()):
        annotations = rule.get("annotations", {})
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule.get("for"), f"{rule['alert']} has no for: duration"


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())
    firing: set[str] = set()
    silent: set[str] = set()
    for test in cases["tests"]:
        for check in test.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alerting_rules(load_rules())}
    assert alerts - firing == set(), "alerts no case sees firing"
    assert alerts - silent == set(), "alerts no case sees silent"
    assert (firing | silent) - alerts == set(), "cases for alerts that do not exist"


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    cases = yaml.safe_load(RULE_TESTS.read_text())
    assert cases["rule_files"] == ["../../deploy/monitoring/celigo-operator.rules.yaml"]
    filled = with_annotations(cases, load_rules(), RULES)
    test_file = tmp_path / "rules.test.yaml"
    test_file.write_text(yaml.safe_dump(filled, sort_keys=False))
    result = promtool("test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The harness is not vacuous: a rule whose threshold moved makes promtool report the case that broke."""
    rules = load_rules()
    for rule in alerting_rules(rules):
        if rule["alert"] == "CeligoConnectorCredentialExpiringSoon":
            rule["expr"] = rule["expr"].replace("7 * 24 * 3600", "24 * 3600")
    broken = tmp_path / "broken.rules.yaml"
    broken.write_text(yaml.safe_dump(rules, sort_keys=False))
    test_file = tmp_path / "rules.test.yaml"
    test_file.write_text(yaml.safe_dump(with_annotations(yaml.safe_load(RULE_TESTS.read_text()), rules, broken)))
    result = promtool("test", "rules", test_file)
    assert result.returncode != 0
    assert "CeligoConnectorCredentialExpiringSoon" in result.stdout + result.stderr


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    targets = list(dashboard_targets(dashboard))
    assert len(targets) >= 20
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr_{i}", "expr": as_prometheus(expr)}
                    for i, (_, expr) in enumerate(targets)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(targets)} rules found" in result.stdout


def test_dashboard_covers_what_the_issue_lists() -> None:
    """Connectors by Ready/reason, inventory, health-check latency and errors, rotations, API requests and
    throttling, reconcile duration: each has a panel reading its metric."""
    exprs = " ".join(expr for _, expr in dashboard_targets(json.loads(DASHBOARD.read_text())))
    for metric in (
        "celigoconnector_ready_condition",
        "celigoconnector_inventory_users",
        "celigoconnector_inventory_integrations",
        "celigo_operator_health_check_duration_seconds_bucket",
        "celigo_operator_health_checks_total",
        "celigo_operator_rotations_total",
        "celigoconnector_rotation_step",
        "celigo_operator_api_requests_total",
        "celigo_operator_api_throttled_total",
        "celigo_operator_reconcile_duration_seconds_bucket",
        "celigo_operator_workqueue_oldest_item_age_seconds",
        "celigo_operator_watch_last_event_timestamp_seconds",
    ):
        assert metric in exprs, metric


def test_a_broken_dashboard_expression_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "bad.rules.yaml"
    bad = as_prometheus('sum by (le (rate(celigo_operator_reconciles_total[$__rate_interval]))')
    path.write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [{"record": "d:x", "expr": bad}]}]}))
    assert promtool("check", "rules", path).returncode != 0


def test_chart_copies_are_the_shipped_files() -> None:
    for source in (RULES, DASHBOARD):
        copy = CHART_COPIES / source.name
        assert copy.read_bytes() == source.read_bytes(), f"{copy} differs: run deploy/monitoring/sync.sh"
