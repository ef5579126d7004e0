"""The event-driven controller (issue 15) across operator restarts and cut watches: a connector deleted while
no operator runs, the finalizer of earlier versions removed, a held ConductorOne credential revoked on delete,
dropped and expired watches.

Each test has its own world and operator. They live apart from test_events_controller.py's module-wide world:
on the real control plane, which every world shares, that world's operator (talking to its own fake Celigo and
ConductorOne) would act on these tests' connectors too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from celigo_testkit.faultproxy import FaultProxy, ProxyFault
from celigo_testkit.harness import wait_for
from e2e.test_events_controller import NO_TICKS, ready_connector, template_version
from e2e.test_health import token_of
from e2e.test_rotation_support import rotating_connector, rotation

from support.world import GROUP, PLURAL, VERSION, world

LEGACY_FINALIZER = "celigo-operator.io/finalizer"
REVOKE_FINALIZER = "celigo-operator.io/revoke-credential"

def test_delete_with_the_operator_stopped_completes(tmp_path: Path) -> None:
    with world(tmp_path, **NO_TICKS) as w:
        ns, _ = ready_connector(w)
        assert w.operator is not None
        w.operator.stop()
        w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "celigo")
        wait_for(lambda: not w.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"], 30,
                 what="deleted without an operator")


def test_the_finalizer_of_earlier_versions_is_removed(tmp_path: Path) -> None:
    with world(tmp_path, **NO_TICKS) as w:
        ns, _ = ready_connector(w)
        assert w.operator is not None
        w.operator.stop()
        w.custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "celigo", {"metadata": {"finalizers": [LEGACY_FINALIZER]}}
        )
        w.start_operator("upgraded.log", **NO_TICKS)
        wait_for(lambda: not w.get(ns)["metadata"].get("finalizers"), 30, what="the old finalizer removed")
        w.operator.stop()
        w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "celigo")
        wait_for(lambda: not w.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"], 30,
                 what="deleted without an operator")


def test_a_held_conductorone_credential_keeps_its_finalizer_and_is_revoked_on_delete(tmp_path: Path) -> None:
    with world(tmp_path, CELIGO_OPERATOR_CELIGO_TIMEOUT="1", **NO_TICKS) as w:
        s = rotating_connector(w)
        w.custom.patch_namespaced_custom_object(
            GROUP, VERSION, s.ns, PLURAL, "celigo",
            {"metadata": {"annotations": {"celigo-operator.io/rotate-now": "1"}}},
        )
        wait_for(lambda: ((rotation(w, s.ns).get("conductorOne") or {}).get("current") or {}).get("id"), 60,
                 what="an operator-created credential")
        wait_for(lambda: REVOKE_FINALIZER in (w.get(s.ns)["metadata"].get("finalizers") or []), 30, what="finalizer")
        held = rotation(w, s.ns)["conductorOne"]["current"]["id"]
        assert w.operator is not None
        w.operator.stop()
        w.custom.delete_namespaced_custom_object(GROUP, VERSION, s.ns, PLURAL, "celigo")
        time.sleep(1)
        assert w.get(s.ns)["metadata"].get("deletionTimestamp"), "deletion waits for the revoke"
        w.start_operator("again.log", CELIGO_OPERATOR_CELIGO_TIMEOUT="1", **NO_TICKS)
        wait_for(lambda: not w.custom.list_namespaced_custom_object(GROUP, VERSION, s.ns, PLURAL)["items"], 60,
                 what="deleted after the revoke")
        revoked = {c["id"]: c["revoked"] for c in w.c1.credentials(s.app, s.connector)}
        assert revoked[held], "revoked on delete"


def test_a_refresh_asked_while_the_operator_was_stopped_is_checked_at_restart(tmp_path: Path) -> None:
    """The refresh annotation set with no operator running still forces a check once one starts: the
    connector's managedFields tell its annotations were written after its last check. The health interval is
    a day, so no scheduled check could come within the test's deadline instead."""
    with world(tmp_path, **NO_TICKS) as w:
        ns, obj = ready_connector(w, healthCheck={"interval": "24h"})
        assert w.operator is not None
        w.operator.stop()
        w.celigo.revoke_token(token_of(w, ns))
        checked = obj["status"]["lastCheckTime"]
        # managedFields times are to the second: the annotation must be written in a later second.
        wait_for(lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > checked, 5, what="a new second")
        w.custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "celigo",
            {"metadata": {"annotations": {"celigo-operator.io/refresh": str(time.time_ns())}}},
        )
        w.start_operator("restarted.log", **NO_TICKS)
        w.wait_condition(ns, "celigo", "CredentialsValid", "False", "TokenRejected", timeout=60)


@pytest.mark.realkube
def test_dropped_and_expired_watches_resync_and_a_change_made_meanwhile_is_rolled(tmp_path: Path) -> None:
    """Real server only: the faults are the fault proxy's (celigo_testkit.faultproxy) in front of it."""
    # Watches end every 2 s, so the operator keeps re-watching and the faults below meet a fresh watch.
    with world(tmp_path, start_operator=False, kube="real") as w, FaultProxy(w.emu.cp) as proxy:  # type: ignore[union-attr]
        w.start_operator(kubeconfig=proxy.write_kubeconfig(tmp_path / "proxied-kubeconfig"),
                         CELIGO_OPERATOR_WATCH_SERVER_TIMEOUT="2", **NO_TICKS)
        ns, obj = ready_connector(w)
        before = obj["status"]["credentials"]["version"]
        dropped = proxy.inject(ProxyFault(path_contains="/secrets", watch=True, cut_after=0.01, times=2))
        # The next Secret watch waits 3 s and then answers 410 Gone: the Secret changes while no watch is open.
        expired = proxy.inject(ProxyFault(path_contains="/secrets", watch=True, expire=True, delay=3, times=1))
        wait_for(lambda: expired.hits >= 1, 60, what="the Secret watch down")
        w.put_secret(ns, w.credentials())
        wait_for(lambda: template_version(w, ns) not in (None, before), 60, what="rolled after the resync")
        assert dropped.hits == 2
        w.wait_ready(ns, timeout=60)
