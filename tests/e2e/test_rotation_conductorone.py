"""Active ConductorOne credential rotation, end to end: the real operator process, the emulator, the fakes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_operator.conductorone.auth import TOKEN_PATH
from celigo_operator.conductorone.client import ROTATE_PATH
from celigo_testkit.fake_conductorone import Fault as C1Fault
from celigo_testkit.harness import wait_for
from e2e.test_rotation_support import (
    Setup,
    assert_not_leaked,
    connector_values,
    live_c1_credentials,
    rotate_now,
    rotating_connector,
    rotation,
    wait_idle,
)

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(
        Path(tmp_path_factory.mktemp("e2e-rot-c1")),
        CELIGO_OPERATOR_CELIGO_TIMEOUT="1",
        CELIGO_OPERATOR_ROTATION_BACKOFF_BASE="1",
        CELIGO_OPERATOR_ROTATION_BACKOFF_MAX="2",
    ) as w:
        yield w


@pytest.fixture(autouse=True)
def _clear_faults(w: World) -> Iterator[None]:
    yield
    w.celigo.clear_faults()
    w.c1.clear_faults()


def test_rotate_now_rotates_rolls_and_revokes_the_old(w: World) -> None:
    s = rotating_connector(w)
    before = connector_values(w, s.ns)
    assert before["BATON_CLIENT_ID"] == s.initial_client
    value = rotate_now(w, s.ns)
    rot = wait_idle(w, s.ns, value)
    current = rot["conductorOne"]["current"]
    live = live_c1_credentials(w, s)
    assert [c["id"] for c in live] == [current["id"]]
    values = connector_values(w, s.ns)
    assert values["BATON_CLIENT_ID"] == live[0]["clientId"] != s.initial_client
    assert w.c1.is_valid_client(values["BATON_CLIENT_ID"])
    assert not w.c1.is_valid_client(s.initial_client)
    assert values["BATON_CELIGO_ACCESS_TOKEN"] == s.token
    assert rot["credentialSource"] == "Operator" and rot.get("trigger") is None
    assert rot["conductorOne"].get("previous") is None
    # the rotation journal (status.rotation) is written at each step, the conditions with the pass's status
    cond = w.wait_condition(s.ns, "celigo", "Rotation", "True")
    assert cond and cond["status"] == "True" and "ignored" in cond["message"]
    obj = w.get(s.ns)
    assert "celigo-operator.io/revoke-credential" in obj["metadata"].get("finalizers", [])
    w.wait_ready(s.ns)
    assert_not_leaked(w, values["BATON_CLIENT_SECRET"])
    # The operator owns the ConductorOne credential now: the source Secret's ConductorOne keys are ignored.
    template = w.deployment(s.ns)["spec"]["template"]
    other = w.credentials()
    w.put_secret(s.ns, {**other, "BATON_CELIGO_ACCESS_TOKEN": s.token})
    time.sleep(2.5)  # ticks pass
    assert w.deployment(s.ns)["spec"]["template"] == template
    assert connector_values(w, s.ns)["BATON_CLIENT_ID"] == values["BATON_CLIENT_ID"]



def _base(s: Setup) -> str:
    """Where one credential of the connector is read (GET) and revoked (POST): + /{id}."""
    return f"/api/v1/apps/{s.app}/connectors/{s.connector}/credentials"


FAILURES = {
    "rotate-5xx": ("Requesting", lambda s: C1Fault(path_prefix=ROTATE_PATH, method="POST", status=503, times=None)),
    "rotate-429": (
        "Requesting",
        lambda s: C1Fault(path_prefix=ROTATE_PATH, method="POST", status=429, retry_after=1, times=None),
    ),
    "rotate-timeout": (
        "Requesting", lambda s: C1Fault(path_prefix=ROTATE_PATH, method="POST", timeout=True, times=None)
    ),
    "verify-5xx": (
        "Stored",
        lambda s: C1Fault(path_prefix=TOKEN_PATH, method="POST", client_kind="connector", status=503, times=None),
    ),
    "revoke-5xx": (
        "Revoking",
        lambda s: C1Fault(path_prefix=f"{_base(s)}/{s.initial_credential}", method="POST", status=500, times=None),
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_conductorone_failing_mid_rotation_backs_off_and_keeps_a_live_credential(w: World, case: str) -> None:
    step, make = FAILURES[case]
    s = rotating_connector(w)
    w.c1.inject(make(s))
    value = rotate_now(w, s.ns)

    def backing_off() -> dict | None:
        rot = rotation(w, s.ns)
        return rot if (rot.get("attempts") or 0) >= 1 and rot.get("nextAttemptAt") and rot.get("lastError") else None

    rot = wait_for(backing_off, 30, what="backoff in status")
    assert rot["step"] == step
    w.wait_condition(s.ns, "celigo", "Rotation", "False", "RotationBackoff")
    client = connector_values(w, s.ns)["BATON_CLIENT_ID"]
    assert w.c1.is_valid_client(client), "the pods' credential stays live while the rotation fails"
    if step != "Revoking":
        assert client == s.initial_client
    assert w.condition(s.ns, "celigo", "Ready")["status"] == "True"
    w.c1.clear_faults()
    rot = wait_idle(w, s.ns, value)
    client = connector_values(w, s.ns)["BATON_CLIENT_ID"]
    assert w.c1.is_valid_client(client) and not w.c1.is_valid_client(s.initial_client)
    assert client == {c["id"]: c["clientId"] for c in live_c1_credentials(w, s)}[rot["conductorOne"]["current"]["id"]]
    w.wait_condition(s.ns, "celigo", "Rotation", "True", "Idle")


def test_each_annotation_value_triggers_once_and_is_echoed(w: World) -> None:
    s = rotating_connector(w)
    first = rotate_now(w, s.ns, "one")
    wait_idle(w, s.ns, first)
    rotated = w.c1.count("POST", _base(s))
    w.patch_spec(s.ns, "celigo", {"logLevel": "debug"})  # an unrelated change re-runs reconcile
    wait_for(lambda: w.get(s.ns)["status"].get("observedGeneration") == 2, 60, what="generation 2")
    time.sleep(2.5)  # a few ticks
    assert w.c1.count("POST", _base(s)) == rotated, "the same annotation value never rotates twice"
    assert rotation(w, s.ns)["rotateNow"] == "one"
    second = rotate_now(w, s.ns, "two")
    rot = wait_idle(w, s.ns, second)
    assert rot["rotateNow"] == "two" and len(live_c1_credentials(w, s)) == 1


def test_schedule_rotates_without_the_annotation(w: World) -> None:
    s = rotating_connector(w, schedule="1m")
    wait_for(lambda: rotation(w, s.ns).get("conductorOne", {}).get("enabledAt"), 60, what="enabledAt")
    time.sleep(1.5)  # let the creation's reconciles settle: an idle operator writes nothing
    # enabledAt is the schedule's base: move it back instead of waiting a minute.
    w.custom.patch_namespaced_custom_object_status(
        "celigo-operator.io", "v1alpha1", s.ns, "celigoconnectors", "celigo",
        {"status": {"rotation": {"conductorOne": {"enabledAt": "2020-01-01T00:00:00Z"}}}},
    )
    try:
        wait_for(lambda: rotation(w, s.ns).get("conductorOne", {}).get("lastResult") == "Succeeded", 40, what="sched")
    except TimeoutError:
        raise AssertionError(f"{rotation(w, s.ns)}\n{w.log_tail()}") from None
    rot = rotation(w, s.ns)
    assert rot["conductorOne"]["lastRotatedAt"] and not rot.get("rotateNow")
    assert not w.c1.is_valid_client(s.initial_client)
    assert not rot["conductorOne"].get("requested"), "the next one is due a full schedule after this one"


def test_deleting_the_resource_revokes_the_credential_the_operator_created(w: World) -> None:
    s = rotating_connector(w)
    rot = wait_idle(w, s.ns, rotate_now(w, s.ns))
    created = rot["conductorOne"]["current"]["id"]
    client = {c["id"]: c["clientId"] for c in w.c1.credentials(s.app, s.connector)}[created]
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", s.ns, "celigoconnectors", "celigo")
    wait_for(lambda: not w.custom.list_namespaced_custom_object(
        "celigo-operator.io", "v1alpha1", s.ns, "celigoconnectors")["items"], 20, what="resource gone")
    assert not w.c1.is_valid_client(client)


def test_deletion_gives_up_after_the_timeout_when_conductorone_is_down(w: World) -> None:
    s = rotating_connector(w, revokeOnDeleteTimeout="3s")
    rot = wait_idle(w, s.ns, rotate_now(w, s.ns))
    client = {c["id"]: c["clientId"] for c in w.c1.credentials(s.app, s.connector)}[rot["conductorOne"]["current"]["id"]]
    w.c1.inject(C1Fault(path_prefix=_base(s), status=503, times=None))
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", s.ns, "celigoconnectors", "celigo")
    wait_for(lambda: not w.custom.list_namespaced_custom_object(
        "celigo-operator.io", "v1alpha1", s.ns, "celigoconnectors")["items"], 30, what="resource let go")
    assert w.c1.is_valid_client(client)  # could not be revoked: said so in an Event, deletion did not hang
    w.wait_event(s.ns, "RevokeGaveUp")  # kopf posts Events in the background: it may land after the resource went


def test_no_finalizer_without_an_operator_created_credential(w: World) -> None:
    s = rotating_connector(w)
    assert "celigo-operator.io/revoke-credential" not in (w.get(s.ns)["metadata"].get("finalizers") or [])


def test_new_credential_refused_repeatedly_is_revoked_and_the_old_one_kept(w: World) -> None:
    s = rotating_connector(w)
    w.c1.inject(C1Fault(path_prefix=TOKEN_PATH, method="POST", client_kind="connector", status=401, times=None))
    rotate_now(w, s.ns)
    cond = w.wait_condition(s.ns, "celigo", "Rotation", "False", "RotationFailed", timeout=30)
    assert "refused the new credential" in cond["message"]
    live = live_c1_credentials(w, s)
    assert [c["clientId"] for c in live] == [s.initial_client], "the refused new credential was revoked"
    assert connector_values(w, s.ns)["BATON_CLIENT_ID"] == s.initial_client
    assert rotation(w, s.ns)["step"] == "Idle"
    stored = [x for x in w.owned_secrets(s.ns) if "-c1-" in x["metadata"]["name"]]
    assert stored == [], "the refused credential's Secret is gone with it"
