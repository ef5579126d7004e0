"""Contract of the fake Celigo knobs the rotation tests rely on: faults that hold a request until released
(``gate``/``arrived``), faults scoped by token, and the token lifecycle (create, display, revoke, expiry)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx

from celigo_testkit.fake_celigo import FakeCeligo, Fault


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_gate_holds_a_request_until_released(fake_celigo: FakeCeligo) -> None:
    token = fake_celigo.default_token("us")
    gate = threading.Event()
    fault = fake_celigo.inject(Fault(path_prefix="/v1/tokenInfo", gate=gate))
    result: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10.0) as http:
            result.append(http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=_auth(token)).status_code)

    thread = threading.Thread(target=call)
    thread.start()
    assert fault.arrived.wait(5)
    thread.join(0.3)
    assert thread.is_alive() and result == [], "held while the gate is closed"
    gate.set()
    thread.join(5)
    assert result == [200], "then answered normally"


def test_match_token_scopes_a_fault(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    old = fake_celigo.default_token("us")
    new = fake_celigo.add_token("us")
    fake_celigo.inject(Fault(path_prefix="/v1/tokenInfo", status=503, times=None, match_token=lambda t: t != old))
    url = fake_celigo.url_for("us") + "/v1/tokenInfo"
    assert celigo_http.get(url, headers=_auth(old)).status_code == 200
    assert celigo_http.get(url, headers=_auth(new)).status_code == 503


def test_created_token_works_and_revoked_token_stops(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    admin = fake_celigo.default_token("us")
    base = fake_celigo.url_for("us")
    created = celigo_http.post(f"{base}/v1/accesstokens", headers=_auth(admin), json={"name": "rotated", "fullAccess": True})
    assert created.status_code == 201 and created.json()["token"] == "********"
    record_id = created.json()["_id"]
    value = celigo_http.get(f"{base}/v1/accesstokens/{record_id}/display", headers=_auth(admin)).json()["token"]
    assert celigo_http.get(f"{base}/v1/tokenInfo", headers=_auth(value)).status_code == 200
    assert celigo_http.get(f"{base}/v1/tokenInfo", headers=_auth(admin)).status_code == 200  # coexist
    record = celigo_http.get(f"{base}/v1/accesstokens/{record_id}", headers=_auth(admin)).json()
    put = celigo_http.put(f"{base}/v1/accesstokens/{record_id}", headers=_auth(admin),
                          json={**{k: v for k, v in record.items() if k != "token"}, "revoked": True})
    assert put.status_code == 200
    assert celigo_http.get(f"{base}/v1/tokenInfo", headers=_auth(value)).status_code == 401


def test_auto_purge_is_readable_and_expires(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    admin = fake_celigo.default_token("us")
    soon = datetime.now(UTC) + timedelta(days=2)
    token = fake_celigo.add_token("us", auto_purge_at=soon)
    record_id = fake_celigo.token_record(token)["_id"]
    base = fake_celigo.url_for("us")
    record = celigo_http.get(f"{base}/v1/accesstokens/{record_id}", headers=_auth(admin)).json()
    assert datetime.fromisoformat(record["autoPurgeAt"].replace("Z", "+00:00")) - soon < timedelta(seconds=1)
    fake_celigo.advance_time(3 * 86400)
    assert celigo_http.get(f"{base}/v1/tokenInfo", headers=_auth(token)).status_code == 401
