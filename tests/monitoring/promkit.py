"""What the monitoring tests share: the shipped files, Debian's promtool, and a real Prometheus process."""

from __future__ import annotations

import copy
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "celigo-operator.rules.yaml"
DASHBOARD = MONITORING / "celigo-operator.dashboard.json"
CHART_COPIES = ROOT / "charts" / "celigo-operator" / "files" / "monitoring"
RULE_TESTS = Path(__file__).resolve().parent / "celigo-operator.rules.test.yaml"
INSTALL = "apt-get install -y prometheus"  # Debian's package: promtool and the prometheus server


def tool(name: str) -> str:
    """The path of `promtool` or `prometheus`; a clear failure (with the one command to run) when missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run `sudo {INSTALL}` (`make test` does it when run as root)")
    return found


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def load_rules(path: Path = RULES) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def alerting_rules(rules: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                yield rule


# --- expected annotations for `promtool test rules` --------------------------------------------------------

_LABEL = re.compile(r"\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_VALUE = re.compile(r"\{\{\s*\$value\s*\|\s*humanizeDuration\s*\}\}")


def expected_annotations(template: Mapping[str, str], labels: Mapping[str, str], value: str | None) -> dict[str, str]:
    """The annotations Prometheus renders for an alert with `labels`, for the two template forms the rules
    use; anything else in a template, or a label the alert does not have, fails the test."""
    out = {}
    for key, text in template.items():

        def label(match: re.Match[str], key: str = key) -> str:
            name = match.group(1)
            if name not in labels:
                pytest.fail(f"annotation {key!r} names label {name!r}, which the alert {dict(labels)} lacks")
            return labels[name]

        rendered = _LABEL.sub(label, text)
        if _VALUE.search(rendered):
            if value is None:
                pytest.fail(f"annotation {key!r} shows $value: give the case a `value:`")
            rendered = _VALUE.sub(value, rendered)
        if "{{" in rendered:
            pytest.fail(f"annotation {key!r} uses a template form the tests do not render: {text!r}")
        out[key] = rendered
    return out


def with_annotations(cases: Mapping[str, Any], rules: Mapping[str, Any], rule_file: Path) -> dict[str, Any]:
    """The promtool test file: `cases` with every expected alert's annotations filled in, reading `rule_file`."""
    templates = {r["alert"]: r.get("annotations", {}) for r in alerting_rules(rules)}
    filled = copy.deepcopy(dict(cases))
    filled["rule_files"] = [str(rule_file)]
    for test in filled["tests"]:
        for check in test.get("alert_rule_test", []):
            for alert in check.get("exp_alerts") or []:
                value = alert.pop("value", None)
                alert["exp_annotations"] = expected_annotations(
                    templates[check["alertname"]], {k: str(v) for k, v in alert["exp_labels"].items()}, value
                )
    return filled


# --- dashboard expressions -------------------------------------------------------------------------------

#: Grafana variables as Prometheus would see them once Grafana substituted them.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$namespace": ".*"}


def dashboard_targets(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expression) of every query in the dashboard, rows' nested panels included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner["title"], target["expr"]


def as_prometheus(expr: str) -> str:
    for name, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    return expr


# --- a real Prometheus ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shortened(rules: Mapping[str, Any], duration: str) -> dict[str, Any]:
    """The rules with only every `for:` replaced by `duration`."""
    out = copy.deepcopy(dict(rules))
    for group in out["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = duration
    return out


class Prometheus:
    """`prometheus` on a free loopback port with its own storage, scraping `targets` every second and
    evaluating `rules` every second."""

    def __init__(self, workdir: Path, targets: list[str], rules: Mapping[str, Any]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yaml").write_text(yaml.safe_dump(dict(rules), sort_keys=False))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "rules.yaml")],
            "scrape_configs": [
                # honor_labels as the chart's ServiceMonitor: the connector's own `namespace` label stays.
                {"job_name": "celigo-operator", "honor_labels": True, "static_configs": [{"targets": targets}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        log = (self.workdir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _get(self, path: str, **params: str) -> Any:
        try:
            resp = httpx.get(f"{self.url}{path}", params=params, timeout=5)
        except httpx.TransportError:
            return None  # not listening yet
        resp.raise_for_status()
        body = resp.json()
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def alerts(self, name: str | None = None) -> list[dict[str, Any]]:
        """Pending and firing alerts (GET /api/v1/alerts), only `name`'s when given."""
        data = self._get("/api/v1/alerts") or {"alerts": []}
        return [a for a in data["alerts"] if name is None or a["labels"].get("alertname") == name]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", query=expr)
        return [] if data is None else list(data["result"])

    def evaluations(self, group: str) -> str | None:
        """The last evaluation time of a rule group (GET /api/v1/rules)."""
        data = self._get("/api/v1/rules") or {"groups": []}
        found = [g.get("lastEvaluation") for g in data["groups"] if g["name"] == group]
        return found[0] if found else None
