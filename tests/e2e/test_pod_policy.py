"""The pod policy end to end: a refused update of a Ready connector is reported (condition naming the field,
an Event) and rolls nothing; a refused new connector gets no Deployment. Widening by operator settings:
test_pod_policy_settings.py (a world of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
