"""The operator against a real kube-apiserver that misbehaves: the fault-injecting proxy (celigo_testkit.
faultproxy) sits between the operator and the server and answers 500 and 429 (Retry-After), drops
connections and cuts every watch stream after a few seconds. The connector still becomes Ready, and a
credentials change made while watches keep being cut still rolls. Real server only: the faults are the
proxy's, the resource handling the real API server's."""

from __future__ import annotations

from pathlib import Path

import pytest

from celigo_testkit.faultproxy import FaultProxy, ProxyFault
from celigo_testkit.harness import wait_for

from support.world import world

pytestmark = [pytest.mark.realkube, pytest.mark.slow]


def test_converges_through_errors_drops_and_watch_cuts(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="real") as w, FaultProxy(w.emu.cp) as proxy:  # type: ignore[union-attr]
        faults = [
            proxy.inject(ProxyFault(method="POST", path_contains="/deployments", status=500, times=2)),
            proxy.inject(ProxyFault(method="GET", path_contains="/secrets/", drop=True, times=2)),
            proxy.inject(ProxyFault(method="PATCH", path_contains="/celigoconnectors/", status=429, retry_after=1, times=2)),
            proxy.inject(ProxyFault(method="GET", path_contains="/celigoconnectors", delay=0.5, times=3)),
            proxy.inject(ProxyFault(watch=True, cut_after=3.0, times=None)),
        ]
        w.start_operator(kubeconfig=proxy.write_kubeconfig(tmp_path / "proxied-kubeconfig"))
        ns = w.namespace()
        w.put_secret(ns, w.credentials())
        w.create_connector(ns)
        first = w.wait_ready(ns, timeout=120)
        assert all(f.hits for f in faults[:3]), [(f.method, f.path_contains, f.hits) for f in faults]
        wait_for(lambda: faults[4].hits >= 2, 60, what="watches cut and restarted")
        # a change that reaches the operator only through (cut and resumed) watches
        w.put_secret(ns, w.credentials())
        wait_for(
            lambda: w.get(ns)["status"]["credentials"]["version"] != first["status"]["credentials"]["version"],
            120, what="new credentials version despite cut watches",
        )
        w.wait_ready(ns, timeout=120)
        assert w.operator.running, w.log_tail()
