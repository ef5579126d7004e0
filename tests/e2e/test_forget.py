"""What the operator holds in memory about a connector goes with the connector's DELETED watch event.

The operator runs in this process (as `celigo-operator run -A` would, in a thread) so the test can look at
its in-memory maps directly; everything else is real HTTP to the cluster and the fake Celigo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from celigo_operator import metrics
from celigo_operator.config import OperatorConfig
from celigo_operator.kube import load_api_client
from celigo_operator.runtime import Runtime, run
from celigo_testkit.harness import operator_env, wait_for

from support.world import GROUP, PLURAL, VERSION, World, world

# Every map must be empty again, exactly, so one connector left behind fails the test whatever the count;
# three batches (a token each) are enough to see limiters and schedules come and go.
CYCLES, BATCH = 60, 20


def held(runtime: Runtime) -> dict[str, int]:
    """Sizes of every per-connector map the operator keeps."""
    assert runtime.health is not None and runtime.reconciler is not None
    ready_series = [
        s for m in metrics.METRICS.ready.collect() for s in m.samples if s.labels.get("namespace", "").startswith("fg-")
    ]
    return {
        "locks": len(runtime.locks),
        "followups": len(runtime.followups),
        "schedule": len(runtime.health.schedule.next_due),
        "limiters": len(runtime.health._limiters),
        "limiter users": len(runtime.health._limiter_of),
        "wave slots": len(runtime.reconciler.waves.rolling),
        "wave halts": len(runtime.reconciler.waves.halted_by),
        "ready gauge series": len(ready_series),
        "ready states": sum(1 for ns, _ in metrics.METRICS._ready_by_connector if ns.startswith("fg-")),
    }


def in_process_operator(w: World) -> tuple[Runtime, Callable[[], None]]:
    env = operator_env(w.kubeconfig, celigo_urls=w.celigo.base_urls, conductorone_url=w.c1.url)
    config = replace(OperatorConfig.from_env(env), namespaces=())
    api_client = load_api_client(str(w.kubeconfig))
    runtime = Runtime(config=config, api_client=api_client)
    ready = threading.Event()
    thread = threading.Thread(
        target=run, args=(config, api_client), kwargs={"runtime": runtime, "ready_flag": ready}, daemon=True
    )
    thread.start()
    assert ready.wait(60), "the in-process operator did not start"

    def stop() -> None:
        runtime.stop_flag.set()
        thread.join(60)

    return runtime, stop


@pytest.mark.slow
def test_create_delete_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False) as w:
        runtime, stop = in_process_operator(w)
        try:
            peak: dict[str, int] = {}
            for batch in range(CYCLES // BATCH):
                ns = w.namespace("fg")
                w.put_secret(ns, w.credentials())  # a token per batch: one limiter each
                names = [f"c{i}" for i in range(BATCH)]
                for name in names:
                    w.create_connector(ns, name)

                def all_checked(ns: str = ns) -> bool:
                    items: list[dict[str, Any]] = w.custom.list_namespaced_custom_object(
                        GROUP, VERSION, ns, PLURAL
                    )["items"]
                    return len(items) == BATCH and all(
                        (i.get("status") or {}).get("lastCheckTime") for i in items
                    )

                wait_for(all_checked, 120, what=f"batch {batch} checked")
                peak = {k: max(v, peak.get(k, 0)) for k, v in held(runtime).items()}
                for name in names:
                    w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
            empty = {k: 0 for k in peak}
            wait_for(lambda: held(runtime) == empty, 120, what=f"maps empty (now {held(runtime)})")
        finally:
            stop()
    # The maps did hold each connector while it lived: the test would see a leak.
    for key in ("locks", "schedule", "limiters", "limiter users", "ready gauge series", "ready states"):
        assert peak[key] >= 1, (key, peak)
