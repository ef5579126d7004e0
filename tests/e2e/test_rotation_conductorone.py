"""Active ConductorOne credential rotation, end to end: the real operator process, the emulator, the fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.world import World, world
from e2e.test_rotation_support import (
    connector_values,
    live_c1_credentials,
    rotate_now,
    rotating_connector,
    rotation,
    wait_idle,
)


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
    assert rot["conductorOne"]["previous"] is None or "previous" not in rot["conductorOne"]
    cond = w.condition(s.ns, "celigo", "Rotation")
    assert cond and cond["status"] == "True" and "ignored" in cond["message"]
    obj = w.get(s.ns)
    assert "celigo-operator.io/revoke-credential" in obj["metadata"].get("finalizers", [])
    w.wait_ready(s.ns)

