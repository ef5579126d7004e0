"""The pod policy end to end: a refused update of a Ready connector is reported (condition naming the field,
an Event) and rolls nothing; operator configuration widens a list; the operator refuses to start on a
configuration that would widen past what it manages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from celigo_testkit.harness import wait_for

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-policy"))) as w:
        yield w


def generation(w: World, ns: str) -> int:
    dep = w.deployment(ns)
    assert dep is not None
    return int(dep["metadata"]["generation"])


@pytest.mark.parametrize(
    ("update", "reason", "names"),
    [
        (
            {"args": ["--skip-full-sync", "--client-secret=s3cr3t-arg"]},
            "InvalidSpec",
            "spec.args: --client-secret",
        ),
        ({"args": ["service"]}, "InvalidSpec", "spec.args: `service` is refused"),
        ({"args": ["--base-url=https://evil.example.com"]}, "InvalidSpec", "spec.args: --base-url"),
        (
            {"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://evil:3128"}]},
            "InvalidSpec",
            "spec.extraEnv: HTTPS_PROXY",
        ),
        (
            {"extraEnv": [{"name": "SSL_CERT_FILE", "value": "/tmp/ca.pem"}]},
            "InvalidSpec",
            "spec.extraEnv: SSL_CERT_FILE",
        ),
        (
            {"extraEnv": [{"name": "LD_PRELOAD", "value": "/tmp/x.so"}]},
            "InvalidSpec",
            "spec.extraEnv: LD_PRELOAD",
        ),
        ({"image": "ghcr.io/conductorone/baton-github:latest"}, "ImageNotAllowed", "spec.image"),
        ({"image": "ghcr.io/conductorone/baton-celigo-evil:v1"}, "ImageNotAllowed", "spec.image"),
    ],
)
def test_a_refused_update_is_reported_and_rolls_nothing(
    w: World, update: dict[str, Any], reason: str, names: str
) -> None:
    ns = w.namespace("policy")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    w.wait_ready(ns)
    before = w.deployment(ns)
    assert before is not None
    w.patch_spec(ns, "celigo", update)
    refused = w.wait_condition(ns, "celigo", "Reconciled", "False", reason)
    assert refused["message"].startswith(names), refused["message"]
    assert refused["observedGeneration"] == 2
    assert "s3cr3t-arg" not in refused["message"] and "evil:3128" not in refused["message"]
    w.wait_condition(ns, "celigo", "Ready", "False", reason)
    assert w.wait_event(ns, reason)["type"] == "Warning"
    after = w.deployment(ns)
    assert after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]
    # Taking the refused change back makes the connector Ready again, still without a rollout.
    w.patch_spec(ns, "celigo", {key: None for key in update})
    w.wait_ready(ns)
    assert generation(w, ns) == before["metadata"]["generation"]


def test_a_new_connector_with_a_refused_spec_gets_no_deployment(w: World) -> None:
    ns = w.namespace("policy-new")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, args=["--celigo-access-token=s3cr3t-arg"])
    refused = w.wait_condition(ns, "celigo", "Reconciled", "False", "InvalidSpec")
    assert "--celigo-access-token is refused" in refused["message"]
    assert w.deployment(ns) is None


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


def test_the_operator_will_not_start_on_a_configuration_that_widens_past_what_it_manages(
    tmp_path: Path,
) -> None:
    with world(tmp_path, start_operator=False) as w:
        op = w.start_operator(
            CELIGO_OPERATOR_ALLOWED_ARGS="--skip-full-sync,--client-secret",
            CELIGO_OPERATOR_IMAGE_ALLOWLIST="ghcr.io/conductorone/",
        )
        code = wait_for(lambda: op.proc.poll(), 60, what="the operator to exit")
        log = op.log()
        assert code == 2, log
        assert "CELIGO_OPERATOR_ALLOWED_ARGS may not allow --client-secret" in log
        assert "CELIGO_OPERATOR_IMAGE_ALLOWLIST entry 'ghcr.io/conductorone/' is not a repository" in log
        assert "Traceback" not in log
