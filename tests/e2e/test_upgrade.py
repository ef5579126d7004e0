"""Operator upgrades: a resource written under the previous CRD stays valid and reconciles unchanged, and an
operator restart with settings outside the pod template restarts no connector pod."""

from __future__ import annotations

import time
from pathlib import Path

from celigo_testkit.harness import wait_for

from support.world import ROOT, world

PREVIOUS_CRD = ROOT / "tests" / "golden" / "crd-v1alpha1-0.1.0.yaml"


def test_resource_from_the_previous_crd_survives_the_upgrade(tmp_path: Path) -> None:
    with world(tmp_path, crd=PREVIOUS_CRD) as w:
        ns = w.namespace()
        w.put_secret(ns, w.credentials())
        w.create_connector(ns, logLevel="warn")
        before = w.wait_ready(ns)
        dep = w.deployment(ns)
        pods = sorted(p["metadata"]["name"] for p in w.pods(ns))

        # The new release: CRD first (kubectl apply -f crds/), then the new operator build.
        w.upgrade_crd()
        obj = w.get(ns)
        w.custom.replace_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo", obj)
        assert w.get(ns)["spec"]["logLevel"] == "warn"
        w.operator.stop()
        w.start_operator("upgraded.log", CELIGO_OPERATOR_STATUS_REFRESH="120", CELIGO_OPERATOR_LOG_FORMAT="json")
        mark = len(w.emu.request_log)
        wait_for(lambda: "Activity 'register.<locals>.startup' succeeded" in w.operator.log(), 60, what="upgraded up")
        time.sleep(3)  # several ticks of the upgraded operator
        after = w.deployment(ns)
        assert after["metadata"]["generation"] == dep["metadata"]["generation"], "the upgrade changed the template"
        assert sorted(p["metadata"]["name"] for p in w.pods(ns)) == pods, "connector pods restarted"
        # A fresh process creates its content-named Secret first and reads it only when the name is taken: the
        # create answered 409 AlreadyExists changed nothing.
        changed = [r for r in w.writes_since(mark) if r.resource in ("deployments", "secrets") and r.status_code < 400]
        assert not changed, changed
        assert w.get(ns)["status"]["credentials"]["version"] == before["status"]["credentials"]["version"]
