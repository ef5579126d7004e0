"""An operator release that changes connector pod templates rolls in waves: at most N connectors at a time,
the next only when the previous are available; a failing connector halts the wave; Hold and a pinned image
opt out; spec changes still roll at once."""

from __future__ import annotations

import time
from pathlib import Path

from celigo_testkit.harness import wait_for

from support.world import GROUP, PLURAL, VERSION, World, world

OLD = "public.ecr.aws/conductorone/baton-celigo:v0.1.7"
NEW = "public.ecr.aws/conductorone/baton-celigo:v0.1.8"
PINNED = "public.ecr.aws/conductorone/baton-celigo:v0.1.6"


def image(w: World, ns: str, name: str) -> str:
    return str(w.deployment(ns, name)["spec"]["template"]["spec"]["containers"][0]["image"])


def rolling(w: World, ns: str, names: list[str]) -> list[str]:
    """Connectors on the new template whose rollout has not finished."""
    out = []
    for name in names:
        dep = w.deployment(ns, name)
        st = dep.get("status") or {}
        new = dep["spec"]["template"]["spec"]["containers"][0]["image"] == NEW
        done = (
            st.get("observedGeneration", 0) >= dep["metadata"]["generation"]
            and st.get("updatedReplicas", 0) >= 1 and st.get("availableReplicas", 0) >= 1
            and st.get("replicas", 0) <= 1
        )
        if new and not done:
            out.append(name)
    return out


def stalled_wave(w: World, names: list[str]) -> tuple[str, list[str]]:
    """Connectors Ready on the old release whose pods all crash-loop, then the new release with wave size 1:
    returns the namespace and the connectors that stalled the wave."""
    w.start_operator("v1.log", CELIGO_OPERATOR_DEFAULT_IMAGE=OLD)
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    for name in names:
        w.create_connector(ns, name)
    for name in names:
        w.wait_ready(ns, name)
    w.operator.stop()
    for name in names:
        # The failure mode covers every pod of a Deployment: whichever connector the wave picks first cannot
        # become available on the new template.
        w.emu.workload.crash_loop(ns, f"{name}-baton-celigo")
    w.start_operator("v2.log", CELIGO_OPERATOR_DEFAULT_IMAGE=NEW, CELIGO_OPERATOR_UPGRADE_WAVE_SIZE="1")
    stalled = wait_for(
        lambda: [n for n in names if (c := w.condition(ns, n, "OperatorUpgrade")) and c["reason"] == "Stalled"],
        40, what="one connector stalls the wave",
    )
    return ns, stalled


def test_template_changing_upgrade_rolls_in_waves(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False) as w:
        w.emu.settings.rollout_delay = 0.6  # slow enough to see who rolls at the same time
        w.start_operator("v1.log", CELIGO_OPERATOR_DEFAULT_IMAGE=OLD)
        ns = w.namespace()
        w.put_secret(ns, w.credentials())
        names = [f"c{i}" for i in range(6)]
        for name in names:
            w.create_connector(ns, name)
        w.create_connector(ns, "held", operatorUpgrade={"policy": "Hold"})
        w.create_connector(ns, "pinned", image=PINNED)
        for name in [*names, "held", "pinned"]:
            w.wait_ready(ns, name, timeout=40)
        w.operator.stop()

        # The new release: a new default image, wave size 2.
        w.start_operator("v2.log", CELIGO_OPERATOR_DEFAULT_IMAGE=NEW, CELIGO_OPERATOR_UPGRADE_WAVE_SIZE="2")
        most = 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            most = max(most, len(rolling(w, ns, names)))
            if all(image(w, ns, n) == NEW for n in names) and not rolling(w, ns, names):
                break
            time.sleep(0.05)
        assert all(image(w, ns, n) == NEW for n in names), w.log_tail()
        assert 1 <= most <= 2, most
        assert image(w, ns, "pinned") == PINNED
        assert image(w, ns, "held") == OLD
        held = w.wait_condition(ns, "held", "OperatorUpgrade", "False", "Held")
        assert "Hold" in held["message"]
        assert w.condition(ns, "held", "Ready")["status"] == "True", "a held upgrade never changes Ready"
        for name in names:
            w.wait_ready(ns, name)
            assert w.condition(ns, name, "OperatorUpgrade") is None
        # A spec change rolls at once, whatever the policy.
        w.patch_spec(ns, "held", {"logLevel": "debug"})
        wait_for(lambda: image(w, ns, "held") == NEW, 60, what="held connector rolls on its spec change")


def test_a_failing_connector_halts_the_wave(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False) as w:
        names = ["a", "b", "c"]
        ns, stalled = stalled_wave(w, names)
        assert len(stalled) == 1
        first = stalled[0]
        w.wait_event(ns, "UpgradeStalled", name=first)
        time.sleep(3)
        others = [n for n in names if n != first]
        assert all(image(w, ns, n) == OLD for n in others), "the wave went on past a failure"
        assert all(w.condition(ns, n, "OperatorUpgrade")["reason"] == "Waiting" for n in others)

        for name in names:
            w.emu.workload.heal(ns, f"{name}-baton-celigo")
        wait_for(lambda: all(image(w, ns, n) == NEW for n in names), 60, what="wave resumes after recovery")
        for name in names:
            w.wait_ready(ns, name, timeout=40)


def test_deleting_the_connector_that_halted_a_wave_lets_the_others_upgrade(tmp_path: Path) -> None:
    """The halt is held in memory: it must go with the connector's DELETED event, not at a restart."""
    with world(tmp_path, start_operator=False) as w:
        names = ["a", "b"]
        ns, stalled = stalled_wave(w, names)
        first = stalled[0]
        other = next(n for n in names if n != first)
        wait_for(
            lambda: (c := w.condition(ns, other, "OperatorUpgrade")) and c["reason"] == "Waiting"
            and f"halted by {ns}/{first}" in c["message"],
            40, what="the other connector waits behind the halt",
        )

        w.emu.workload.heal(ns, f"{other}-baton-celigo")
        w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, first)
        wait_for(lambda: image(w, ns, other) == NEW, 60, what="the wave goes on once its halter is deleted")
        # The new template is seen before the status of the pass that wrote it: wait for the roll to finish.
        wait_for(lambda: w.condition(ns, other, "OperatorUpgrade") is None, 40, what="the upgrade finished")
        w.wait_ready(ns, other, timeout=40)
