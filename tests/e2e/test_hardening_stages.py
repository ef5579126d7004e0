"""Issue 16, no exception escapes a reconcile: a failure injected into each stage of the pipeline (read, verify,
apply, observe, rotate, health, and the status write after it) becomes Reconciled=False ReconcileFailed naming
the stage and the exception type (never its text), a Warning Event, a count of the reconcile-errors metric by
reason and a retry (the pass reports failure to the work queue, which backs off); Ready never stays True; a
failing rotation or health stage does not stop the drift repair of the children; and another connector keeps
reconciling.

The cluster and the fakes are real HTTP (the emulator, or the real control plane with CELIGO_TEST_KUBE=real).
Every Kubernetes and Celigo failure that HTTP can cause is already a condition of its own (ApplyFailed,
SecretUnreadable, CeligoUnavailable, ...), so what is injected here is what only a bug can cause: each stage's
collaborator (the Kube facade, the health checker, the rotator, the status writer) is built as a subclass that
raises for the connectors of one namespace. No HTTP client is patched."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from kubernetes import config as k8s_config

from celigo_operator import metrics
from celigo_operator.conditions import Cond
from celigo_operator.config import OperatorConfig
from celigo_operator.health import CeligoHealth, HealthChecker
from celigo_operator.kube import Kube
from celigo_operator.outcome import Outcome
from celigo_operator.reconcile import Reconciler
from celigo_operator.rotation import Context, Result, RotationSettings, Rotator
from celigo_operator.runtime import Runtime
from celigo_operator.scheduler import Scheduler
from celigo_operator.status_writer import Pass, StatusWriter

from support.world import World, world

LEAK = "tok=NOT-TO-BE-SHOWN-9f8e7d"  # in every injected exception's text: must never reach status or Events
STAGES = ("read", "verify", "apply", "observe", "rotate", "health", "status")
log = logging.getLogger("test")


class Injected(RuntimeError):
    """What a bug would raise."""


class Faults:
    """namespace -> the stage that fails there."""

    def __init__(self) -> None:
        self.by_ns: dict[str, str] = {}
        self.ns_of_uid: dict[str, str] = {}

    def check(self, stage: str, namespace: str | None) -> None:
        if namespace is not None and self.by_ns.get(namespace) == stage:
            raise Injected(f"injected {stage} failure ({LEAK})")


class FaultyKube(Kube):
    def __init__(self, api_client: Any, faults: Faults) -> None:
        super().__init__(api_client)
        self.faults = faults

    async def get_deployment(self, namespace: str, name: str) -> dict | None:
        self.faults.check("read", namespace)
        return await super().get_deployment(namespace, name)

    async def create_deployment(self, body: Mapping[str, Any]) -> dict:
        self.faults.check("apply", body["metadata"]["namespace"])
        return await super().create_deployment(body)

    async def list_pods(self, namespace: str, label_selector: str) -> list[dict]:
        self.faults.check("observe", namespace)
        return await super().list_pods(namespace, label_selector)


class FaultyHealth(HealthChecker):
    def __init__(self, config: OperatorConfig, faults: Faults) -> None:
        super().__init__(config)
        self.faults = faults

    async def check_celigo(
        self, region: str, token: str, *, inventory: bool = True, uid: str | None = None
    ) -> CeligoHealth:
        self.faults.check("verify", self.faults.ns_of_uid.get(uid or ""))
        return await super().check_celigo(region, token, inventory=inventory, uid=uid)

    async def check_conductorone(self, spec: Any, namespace: str, api_secret: Any) -> Cond:
        self.faults.check("health", namespace)
        return await super().check_conductorone(spec, namespace, api_secret)


class FaultyRotator(Rotator):
    def __init__(self, faults: Faults, *args: Any) -> None:
        super().__init__(*args)
        self.faults = faults

    async def advance(self, ctx: Context) -> Result:
        self.faults.check("rotate", ctx.owner.namespace)
        return await super().advance(ctx)


class FaultyWriter(StatusWriter):
    """The status write of a pass fails (once per pass); writing the failure itself works."""

    def __init__(self, kube: Kube, config: OperatorConfig, faults: Faults) -> None:
        super().__init__(kube, config)
        self.faults = faults

    async def publish(self, p: Pass, outcome: Outcome, logger: Any) -> None:
        reconciled = next((c for c in outcome.status.conditions or [] if c.type == "Reconciled"), None)
        if reconciled is None or reconciled.reason != "ReconcileFailed":
            self.faults.check("status", p.namespace)
        await super().publish(p, outcome, logger)


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("hardening-stages")), start_operator=False) as w:
        yield w


def _runtime(w: World, faults: Faults) -> Runtime:
    config = OperatorConfig(
        celigo_base_urls=w.celigo.base_urls, conductorone_base_url=w.c1.url, min_ready_seconds=0,
        metrics_port=None, liveness_endpoint=None,
    )
    client = k8s_config.new_client_from_config(config_file=str(w.kubeconfig))
    rt = Runtime(config=config, api_client=client)
    kube = FaultyKube(client, faults)
    health = FaultyHealth(config, faults)
    rt.kube, rt.health = kube, health
    rt.reconciler = Reconciler(kube, config, b"k" * 32, health)
    rt.reconciler.rotator = FaultyRotator(faults, kube, config, health, RotationSettings.from_env())
    rt.writer = FaultyWriter(kube, config, faults)
    rt.scheduler = Scheduler(lambda key: None)
    return rt


def _errors(ns: str) -> float:
    value = metrics.METRICS.registry.get_sample_value(
        "celigo_operator_reconcile_errors_total", {"namespace": ns, "reason": "ReconcileFailed"}
    )
    return value or 0.0


def _connector(w: World, faults: Faults, ns: str, **spec: Any) -> dict:
    w.put_secret(ns, w.credentials())
    made = w.create_connector(ns, **spec)
    faults.ns_of_uid[made["metadata"]["uid"]] = ns
    return made


async def _pass(w: World, rt: Runtime, ns: str) -> bool:
    return await rt.handle(w.get(ns), log, check_now=True)


@pytest.mark.parametrize("stage", STAGES)
async def test_a_failing_stage_is_reported_counted_and_retried_and_others_go_on(w: World, stage: str) -> None:
    faults = Faults()
    rt = _runtime(w, faults)
    try:
        bad, good = w.namespace(f"fail-{stage}"), w.namespace("good")
        spec: dict[str, Any] = {}
        if stage == "health":  # the health stage's own call: ConductorOne (Celigo was asked by verify already)
            spec["conductorOne"] = {"appId": "app", "connectorId": "conn", "credentialsSecretRef": {"name": "c1"}}
        _connector(w, faults, bad, **spec)
        _connector(w, faults, good)
        faults.by_ns[bad] = stage
        before = _errors(bad)

        assert await _pass(w, rt, bad) is False  # False: the work queue retries it with backoff
        assert await _pass(w, rt, good) is True

        conds = {c["type"]: c for c in w.get(bad)["status"]["conditions"]}
        reconciled = conds["Reconciled"]
        assert (reconciled["status"], reconciled["reason"]) == ("False", "ReconcileFailed")
        assert f"the {stage} stage (Injected)" in reconciled["message"]
        assert conds["Ready"]["status"] != "True"
        event = w.wait_event(bad, "ReconcileFailed")
        assert event["type"] == "Warning" and f"the {stage} stage" in event["message"]
        assert _errors(bad) == before + 1
        blob = str(w.get(bad)) + str(w.events(bad))
        assert LEAK not in blob and "injected" not in blob

        assert w.condition(good, "celigo", "Reconciled")["status"] == "True"
        assert w.deployment(good) is not None

        if stage in ("rotate", "health", "observe", "status"):
            # the children are still applied, and repaired: a failing later stage never stops drift repair
            assert w.deployment(bad) is not None
            w.apps.delete_namespaced_deployment("celigo-baton-celigo", bad)
            assert await _pass(w, rt, bad) is False
            assert w.deployment(bad) is not None, "the deleted Deployment was not put back"

        faults.by_ns.clear()  # the bug is gone: the next retry recovers
        assert await _pass(w, rt, bad) is True
        assert w.condition(bad, "celigo", "Reconciled")["reason"] != "ReconcileFailed"
    finally:
        await rt.health.aclose()  # type: ignore[union-attr]
        rt.kube.close()  # type: ignore[union-attr]


async def test_a_stale_ready_true_is_not_left_behind(w: World) -> None:
    faults = Faults()
    rt = _runtime(w, faults)
    try:
        ns = w.namespace("stale-ready")
        _connector(w, faults, ns)
        deadline = time.monotonic() + 60
        while not (await _pass(w, rt, ns) and w.condition(ns, "celigo", "Ready")["status"] == "True"):
            assert time.monotonic() < deadline, w.get(ns)["status"]
            await asyncio.sleep(0.2)  # the pod becomes available (the emulator's kubelet or the simulated node)
        faults.by_ns[ns] = "rotate"
        assert await _pass(w, rt, ns) is False
        ready = w.condition(ns, "celigo", "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "ReconcileFailed")
    finally:
        await rt.health.aclose()  # type: ignore[union-attr]
        rt.kube.close()  # type: ignore[union-attr]
