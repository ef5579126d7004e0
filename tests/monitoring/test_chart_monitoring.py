"""The chart's PrometheusRule and Grafana dashboard ConfigMap, rendered and linted by real Helm
(helm-python-sdk, as tests/install/test_chart.py): off by default, rendered from the very files under
deploy/monitoring/, and the rendered PrometheusRule passes `promtool check rules`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from install.installkit import CHART, find, k8s_validate, render_chart, the
from monitoring.promkit import DASHBOARD, load_rules, promtool

ENABLED: dict[str, Any] = {
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Operators"}},
    }
}


def test_off_by_default() -> None:
    objects, _ = render_chart({})
    assert find(objects, "PrometheusRule") == []
    assert [o for o in find(objects, "ConfigMap") if o["metadata"]["name"].endswith("-dashboard")] == []


def test_prometheus_rule_is_the_rules_file_and_passes_promtool(tmp_path: Path) -> None:
    objects, _ = render_chart(ENABLED)
    rule = the(objects, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "celigo-operator"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == load_rules()  # one source: the chart renders deploy/monitoring's file
    path = tmp_path / "rendered.rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"], sort_keys=False))
    result = promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_config_map_carries_the_sidecar_label_and_the_dashboard() -> None:
    objects, _ = render_chart(ENABLED)
    cm = the(objects, "ConfigMap", "celigo-operator-dashboard")
    k8s_validate(cm)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "Operators"}
    assert cm["metadata"]["namespace"] == "celigo-operator"
    assert json.loads(cm["data"]["celigo-operator.json"]) == json.loads(DASHBOARD.read_text())
    objects, _ = render_chart({"metrics": {"grafanaDashboard": {"enabled": True, "namespace": "grafana"}}})
    assert the(objects, "ConfigMap", "celigo-operator-dashboard")["metadata"]["namespace"] == "grafana"


def test_service_monitor_keeps_the_connector_namespace_label() -> None:
    objects, _ = render_chart(ENABLED)
    assert the(objects, "ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] is True


def test_lint_is_clean_with_rule_and_dashboard() -> None:
    report = helm.lint(CHART, ENABLED, strict=True, namespace="celigo-operator", kube_version="v1.35.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("part", ["prometheusRule", "grafanaDashboard"])
def test_monitoring_without_metrics_fails_with_a_reason(part: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=rf"metrics\.{part}\.enabled needs metrics\.enabled"):
        render_chart({"metrics": {"enabled": False, part: {"enabled": True}}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"metrics": {"prometheusRule": {"enable": True}}}, "additional properties 'enable' not allowed"),
        ({"metrics": {"grafanaDashboard": {"labels": {"grafana_dashboard": 1}}}}, "got number, want string"),
        ({"metrics": {"grafanaDashboard": {"namespace": "Not_A_Namespace"}}}, "/metrics/grafanaDashboard/namespace"),
    ],
    ids=["unknown-key", "label-not-a-string", "bad-namespace"],
)
def test_values_schema_refuses_bad_monitoring_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError) as exc:
        helm.Chart.load(CHART).validate_schema(values)
    assert message in str(exc.value)
