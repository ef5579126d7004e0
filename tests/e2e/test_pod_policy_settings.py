"""Operator settings widen the pod policy's lists (a corporate proxy, another flag), never past what the
operator manages (that is refused at start: tests/install/test_preflight.py)."""

from __future__ import annotations

from pathlib import Path

from support.world import world


def test_operator_configuration_widens_the_lists(tmp_path: Path) -> None:
    with world(
        tmp_path,
        CELIGO_OPERATOR_ALLOWED_EXTRA_ENV="HTTPS_PROXY,NO_PROXY",
        CELIGO_OPERATOR_ALLOWED_ARGS="--skip-full-sync,--otel-collector-endpoint",
    ) as w:
        ns = w.namespace("widened")
        w.put_secret(ns, w.credentials())
        w.create_connector(
            ns,
            args=["--otel-collector-endpoint=http://collector.corp:4317"],
            extraEnv=[{"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"}],
        )
        w.wait_ready(ns)
        container = w.deployment(ns)["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
        assert container["args"] == ["--otel-collector-endpoint=http://collector.corp:4317"]
        assert {"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"} in container["env"]
        w.patch_spec(ns, "celigo", {"extraEnv": [{"name": "HTTP_PROXY", "value": "http://proxy.corp:3128"}]})
        w.wait_condition(ns, "celigo", "Reconciled", "False", "InvalidSpec")
