"""The operator reports ready only once its caches are synced (issue 15): kopf serves /healthz only after the
startup handler, which lists each watched kind before kopf's watches (and reconciles) start. A leader that
just took over goes through the same startup."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

from celigo_testkit.harness import wait_for
from celigo_testkit.kube.types import Fault as KubeFault

from support.world import world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_healthz_answers_only_after_the_caches_are_listed(tmp_path: Path) -> None:
    # The emulator holds the operator's first pod list (its cache sync) for a long time.
    with world(tmp_path, start_operator=False, kube="emulator") as w:
        held = w.emu.faults.add(KubeFault(resource="pods", verb="list", status=None, delay=30, times=1))
        ns = w.namespace("sync")
        w.put_secret(ns, w.credentials())
        w.create_connector(ns)
        url = f"http://127.0.0.1:{free_port()}/healthz"
        w.start_operator(CELIGO_OPERATOR_LIVENESS_ENDPOINT=url)

        def pod_lists() -> list:
            return [r for r in w.emu.request_log if r.resource == "pods" and r.verb == "list"
                    and "celigo-operator" in r.user_agent]

        wait_for(lambda: held.hits >= 1, 60, what="the cache's pod list held")
        for _ in range(3):
            assert not answers(url), "ready before the pod cache was listed"
        assert pod_lists()[0].status_code == 0, "the list was still held while /healthz did not answer"
        assert w.get(ns).get("status") is None, "reconciled before the caches were synced"
        wait_for(lambda: answers(url), 90, what="/healthz once the caches are synced")
        assert pod_lists()[0].status_code == 200
        w.wait_ready(ns, timeout=60)
