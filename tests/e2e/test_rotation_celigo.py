"""Celigo token rotation through the accesstokens API, and expiry warnings, end to end."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from celigo_testkit.fake_celigo import Fault
from celigo_testkit.harness import wait_for
from e2e.test_rotation_support import (
    assert_not_leaked,
    connector_values,
    rotate_now,
    rotating_connector,
    rotation,
    wait_idle,
)

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(
        Path(tmp_path_factory.mktemp("e2e-rot-celigo")),
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


def test_token_rotation_creates_verifies_rolls_and_revokes(w: World) -> None:
    s = rotating_connector(w, c1=False, celigo=True)
    value = rotate_now(w, s.ns)
    rot = wait_idle(w, s.ns, value, "celigo")
    token = connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"]
    assert token != s.token
    record = w.celigo.token_record(token)
    assert record["_id"] == rot["celigo"]["current"]["id"] and not record["revoked"]
    assert record["name"].startswith(f"celigo-operator {s.ns}/celigo ")
    assert w.celigo.token_record(s.token)["revoked"]
    assert connector_values(w, s.ns)["BATON_CLIENT_ID"] == s.initial_client  # ConductorOne untouched
    assert rot["credentialSource"] == "SourceSecret"
    w.wait_ready(s.ns)
    assert_not_leaked(w, token)


@pytest.mark.parametrize(
    ("case", "step"),
    [("create-5xx", "Requesting"), ("create-429", "Requesting"), ("verify-timeout", "Stored"), ("revoke-5xx", "Revoking")],
)
def test_celigo_failing_mid_rotation_backs_off(w: World, case: str, step: str) -> None:
    s = rotating_connector(w, c1=False, celigo=True)
    fault = {
        "create-5xx": Fault(path_prefix="/v1/accesstokens", method="POST", status=503, times=None),
        "create-429": Fault(path_prefix="/v1/accesstokens", method="POST", status=429, retry_after=1, times=None),
        "verify-timeout": Fault(
            path_prefix="/v1/tokenInfo", timeout=True, hold=5, times=None, match_token=lambda t: t != s.token
        ),
        "revoke-5xx": Fault(path_prefix=f"/v1/accesstokens/{s.token_id}", method="PUT", status=500, times=None),
    }[case]
    w.celigo.inject(fault)
    value = rotate_now(w, s.ns)

    def backing_off() -> dict | None:
        rot = rotation(w, s.ns)
        return rot if (rot.get("attempts") or 0) >= 1 and rot.get("nextAttemptAt") else None

    rot = wait_for(backing_off, 30, what="backoff")
    assert rot["step"] == step and rot["lastError"]
    token = connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"]
    assert not w.celigo.token_record(token)["revoked"], "the pods' token stays live"
    if step != "Revoking":
        assert token == s.token
    w.celigo.clear_faults()
    rot = wait_idle(w, s.ns, value, "celigo")
    token = connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"]
    assert w.celigo.token_record(token)["_id"] == rot["celigo"]["current"]["id"]
    assert w.celigo.token_record(s.token)["revoked"]


@pytest.mark.parametrize("status", [403, 404])
def test_accesstokens_refused_is_unsupported_and_not_tried_again(w: World, status: int) -> None:
    s = rotating_connector(w, c1=False, celigo=True)
    w.celigo.inject(Fault(path_prefix="/v1/accesstokens", status=status, times=None))
    rotate_now(w, s.ns, "first")
    cond = w.wait_condition(s.ns, "celigo", "Rotation", "False", "RotationUnsupported")
    assert "by hand" in cond["message"]
    assert w.condition(s.ns, "celigo", "Ready")["status"] == "True", "Rotation never changes Ready"
    calls = w.celigo.count(prefix="/v1/accesstokens")
    rotate_now(w, s.ns, "second")
    wait_for(lambda: rotation(w, s.ns).get("rotateNow") == "second", 60, what="echo")
    time.sleep(2)
    assert w.celigo.count(prefix="/v1/accesstokens") == calls, "stopped trying"
    assert rotation(w, s.ns)["celigo"]["lastResult"] == "Unsupported"
    assert connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"] == s.token


def test_expiring_token_and_credential_are_warned_about(w: World) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    token = w.celigo.add_token("us", auto_purge_at=soon)
    s = rotating_connector(w, c1=False, celigo=False, wait=False)
    # Point the source Secret at a token that auto-purges in two days, named by spec.rotation.celigo.tokenId.
    secret = w.core.read_namespaced_secret("celigo-credentials", s.ns)
    values = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    values["BATON_CELIGO_ACCESS_TOKEN"] = token
    w.put_secret(s.ns, values)
    w.patch_spec(s.ns, "celigo", {"rotation": {"celigo": {"tokenId": w.celigo.token_record(token)["_id"]}}})
    cond = w.wait_condition(s.ns, "celigo", "CredentialsExpiring", "True", "ExpiresSoon", timeout=30)
    assert "Celigo API token" in cond["message"]
    w.wait_event(s.ns, "CredentialsExpiring")
    w.wait_ready(s.ns)  # a warning, never a reason for Ready=False
    assert w.condition(s.ns, "celigo", "CredentialsExpiring")["status"] == "True"
    # A warning window shorter than the time left clears it.
    w.patch_spec(s.ns, "celigo", {"rotation": {"expiryWarning": "24h"}})
    w.wait_condition(s.ns, "celigo", "CredentialsExpiring", "False", "NotExpiring", timeout=30)


def test_conductorone_credential_expiry_is_read(w: World) -> None:
    s = rotating_connector(w, c1=False, celigo=False, expiryWarning="2400h")  # credentials live 90 days
    cond = w.wait_condition(s.ns, "celigo", "CredentialsExpiring", "True", "ExpiresSoon", timeout=30)
    assert "ConductorOne credential" in cond["message"]


def test_new_token_refused_repeatedly_is_revoked_and_the_old_one_kept(w: World) -> None:
    s = rotating_connector(w, c1=False, celigo=True)
    w.celigo.inject(Fault(path_prefix="/v1/tokenInfo", status=401, times=None, match_token=lambda t: t != s.token))
    rotate_now(w, s.ns)
    cond = w.wait_condition(s.ns, "celigo", "Rotation", "False", "RotationFailed", timeout=30)
    assert "refused the new token" in cond["message"]
    assert connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"] == s.token
    assert not w.celigo.token_record(s.token)["revoked"]
    made = [r for r in w.celigo.account("us").access_tokens.values()
            if (r["name"] or "").startswith(f"celigo-operator {s.ns}/")]
    assert len(made) == 1 and made[0]["revoked"], "the refused new token was revoked"


@pytest.mark.parametrize("status", [403, 404])
def test_unreadable_new_token_is_revoked_at_once(w: World, status: int) -> None:
    """Fail safe: Celigo created the token but `display` (in no public doc) refused to show its value. The
    token is revoked at once, never left live; the rotation says so and stops asking."""
    s = rotating_connector(w, c1=False, celigo=True)
    w.celigo.inject(Fault(path_prefix="/v1/accesstokens/", path_suffix="/display", status=status, times=None))
    rotate_now(w, s.ns)
    cond = w.wait_condition(s.ns, "celigo", "Rotation", "False", "RotationUnsupported", timeout=30)
    assert "revoked that token at once" in cond["message"] and "by hand" in cond["message"]
    made = [r for r in w.celigo.account("us").access_tokens.values()
            if (r["name"] or "").startswith(f"celigo-operator {s.ns}/")]
    assert len(made) == 1 and made[0]["revoked"], "the token nobody could read was revoked"
    assert connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"] == s.token
    assert not w.celigo.token_record(s.token)["revoked"], "the token in use stays live"
    rot = rotation(w, s.ns)
    assert rot["celigo"]["lastResult"] == "Unsupported" and not rot["celigo"].get("created")
    assert any(e["reason"] == "UnusableCredentialRevoked" for e in w.events(s.ns))
    w.wait_ready(s.ns)


def test_a_token_shown_only_at_creation_needs_no_display(w: World) -> None:
    """If Celigo shows the value in the create answer, the flow uses it and never calls `display`."""
    s = rotating_connector(w, c1=False, celigo=True)
    w.celigo.token_on_create, w.celigo.display_api = True, False
    try:
        value = rotate_now(w, s.ns)
        rot = wait_idle(w, s.ns, value, "celigo")
    finally:
        w.celigo.token_on_create, w.celigo.display_api = False, True
    token = connector_values(w, s.ns)["BATON_CELIGO_ACCESS_TOKEN"]
    assert w.celigo.token_record(token)["_id"] == rot["celigo"]["current"]["id"]
    assert w.celigo.token_record(s.token)["revoked"]
    assert w.celigo.count(prefix=f"/v1/accesstokens/{rot['celigo']['current']['id']}/display") == 0
