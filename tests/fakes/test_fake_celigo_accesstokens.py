"""Contract: the accesstokens resource used for API-driven rotation (opt-in), as Celigo's docs define it:
``POST /v1/accesstokens`` (name, description, exactly one of ``fullAccess: true`` or the scope lists,
``autoPurgeAt`` at most 30 days ahead) -> 201, reads masked, revoke = a full-replace PUT with ``revoked: true``
-> 200. ``GET .../{id}/display`` is in no public doc: served by default, switchable off (then 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from celigo_testkit.fake_celigo import MASK, FakeCeligo

SCOPE_FIELDS = ("_connectionIds", "_exportIds", "_importIds", "_apiIds", "_mcpServerIds")


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_list_is_masked_and_display_reveals(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                            us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    listed = celigo_http.get(base + "/v1/accesstokens", headers=us_auth).json()
    assert len(listed) == 1 and listed[0]["token"] == MASK
    assert {"_id", "name", "description", "token", "fullAccess", "revoked", "autoPurgeAt"} <= set(listed[0])
    assert not any(k.startswith("__") for k in listed[0]) and "_integrationIds" not in listed[0]
    assert fake_celigo.default_token() not in celigo_http.get(base + "/v1/accesstokens", headers=us_auth).text
    shown = celigo_http.get(f"{base}/v1/accesstokens/{listed[0]['_id']}/display", headers=us_auth).json()
    assert shown == {"_id": listed[0]["_id"], "token": fake_celigo.default_token()}


def test_create_then_use_the_new_token(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                       us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    r = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                         json={"name": "rotation-2", "description": "d", "fullAccess": True})
    assert r.status_code == 201
    created = r.json()
    assert created["token"] == MASK and created["revoked"] is False and created["autoPurgeAt"] is None
    assert created["fullAccess"] is True and all(created[k] == [] for k in SCOPE_FIELDS)
    assert fake_celigo.requests[-1].body == {"name": "rotation-2", "description": "d", "fullAccess": True}
    value = celigo_http.get(f"{base}/v1/accesstokens/{created['_id']}/display", headers=us_auth).json()["token"]
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(value)).json()["scope"] == "*"
    assert len(celigo_http.get(base + "/v1/accesstokens", headers=us_auth).json()) == 2


def test_create_with_a_scope_list_and_auto_purge_at(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                    us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    purge = datetime.now(UTC) + timedelta(days=30) - timedelta(seconds=5)
    r = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                         json={"name": "narrow", "_exportIds": ["e1"], "_mcpServerIds": ["m1"],
                               "autoPurgeAt": iso(purge)})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["fullAccess"] is False and created["_exportIds"] == ["e1"] and created["_mcpServerIds"] == ["m1"]
    assert abs(datetime.fromisoformat(created["autoPurgeAt"].replace("Z", "+00:00")) - purge) < timedelta(seconds=1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "fullAccess": True, "autoPurge": "never"}, "autoPurge"),
        ({"name": "x", "_integrationIds": ["i1"]}, "_integrationIds"),
        ({"name": "x", "fullAccess": True, "_connectionIds": ["c1"]}, "fullAccess"),  # both
        ({"name": "x"}, "fullAccess"),  # neither
        ({"name": "x", "fullAccess": True, "autoPurgeAt": "soon"}, "autoPurgeAt"),
        ({"name": "x", "fullAccess": True, "autoPurgeAt": "31d"}, "autoPurgeAt"),
        ({"fullAccess": True}, "name"),
        ({"name": "x", "_apiIds": "a1"}, "_apiIds"),
    ],
    ids=["autoPurge", "_integrationIds", "both-scopes", "no-scope", "bad-date", "not-a-date", "no-name",
         "scope-not-a-list"],
)
def test_create_refuses_what_celigo_does_not_define(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                    us_auth: dict[str, str], body: dict[str, Any],
                                                    field: str) -> None:
    r = celigo_http.post(fake_celigo.url_for("us") + "/v1/accesstokens", headers=us_auth, json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    assert len(fake_celigo.account("us").access_tokens) == 1  # nothing was created


@pytest.mark.parametrize("ahead", [timedelta(days=30, minutes=1), timedelta(seconds=-1)], ids=["31d", "past"])
def test_auto_purge_at_must_be_within_30_days(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                              us_auth: dict[str, str], ahead: timedelta) -> None:
    r = celigo_http.post(fake_celigo.url_for("us") + "/v1/accesstokens", headers=us_auth,
                         json={"name": "x", "fullAccess": True, "autoPurgeAt": iso(datetime.now(UTC) + ahead)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "autoPurgeAt"


def test_the_value_shown_once_at_creation_when_asked(celigo_http: httpx.Client) -> None:
    with FakeCeligo(users=2, integrations=1, token_on_create=True) as fake:
        base, admin = fake.url_for("us"), h(fake.default_token())
        created = celigo_http.post(base + "/v1/accesstokens", headers=admin,
                                   json={"name": "n", "fullAccess": True}).json()
        assert created["token"] != MASK and fake.token_record(created["token"])["_id"] == created["_id"]
        assert celigo_http.get(f"{base}/v1/accesstokens/{created['_id']}", headers=admin).json()["token"] == MASK


def test_display_can_be_absent_like_any_unknown_path(celigo_http: httpx.Client) -> None:
    with FakeCeligo(users=2, integrations=1, display_api=False) as fake:
        base, admin = fake.url_for("us"), h(fake.default_token())
        record_id = fake.token_record(fake.default_token())["_id"]
        shown = celigo_http.get(f"{base}/v1/accesstokens/{record_id}/display", headers=admin)
        unknown = celigo_http.get(f"{base}/v1/accesstokens/{record_id}/nowhere", headers=admin)
        assert (shown.status_code, shown.json()) == (unknown.status_code, unknown.json())
        assert shown.status_code == 404 and shown.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize("path", ["generate", "regenerate"])
def test_invented_token_endpoints_are_unknown(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                              us_auth: dict[str, str], path: str) -> None:
    old = fake_celigo.add_token("us", name="connector")
    record_id = fake_celigo.token_record(old)["_id"]
    r = celigo_http.post(f"{fake_celigo.url_for('us')}/v1/accesstokens/{record_id}/{path}", headers=us_auth)
    assert r.status_code == 404
    assert celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=h(old)).status_code == 200


def test_revoke_via_put_then_soft_delete(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    base = fake_celigo.url_for("us")
    admin = h(fake_celigo.default_token())
    old = fake_celigo.add_token("us", name="old")
    record_id = fake_celigo.token_record(old)["_id"]
    url = f"{base}/v1/accesstokens/{record_id}"
    assert celigo_http.delete(url, headers=admin).status_code == 409  # revoke first
    record = celigo_http.get(url, headers=admin).json()
    r = celigo_http.put(url, headers=admin, json={**record, "revoked": True})
    assert r.status_code == 200 and r.json()["revoked"] is True and r.json()["token"] == MASK
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(old)).json() == {"message": "Bearer Authentication Failed"}
    # a full replace that omits `revoked` never un-revokes (a fake safety choice)
    renamed = celigo_http.put(url, headers=admin, json={"name": "renamed", "fullAccess": True}).json()
    assert renamed["revoked"] is True
    assert celigo_http.delete(url, headers=admin).status_code == 204
    assert celigo_http.get(url, headers=admin).status_code == 404
    assert record_id not in {t["_id"] for t in celigo_http.get(base + "/v1/accesstokens", headers=admin).json()}


def test_put_is_a_full_replace(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                               us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    purge = iso(datetime.now(UTC) + timedelta(days=1))
    created = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                               json={"name": "n", "description": "keep?", "fullAccess": True,
                                     "autoPurgeAt": purge}).json()
    url = f"{base}/v1/accesstokens/{created['_id']}"
    replaced = celigo_http.put(url, headers=us_auth, json={"name": "n", "fullAccess": True}).json()
    assert replaced["description"] == "" and replaced["autoPurgeAt"] is None  # omitted = cleared


def test_auto_purge_expires_token_and_record(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                             us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    created = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                               json={"name": "short", "fullAccess": True,
                                     "autoPurgeAt": iso(datetime.now(UTC) + timedelta(hours=1))}).json()
    assert created["autoPurgeAt"] is not None
    value = celigo_http.get(f"{base}/v1/accesstokens/{created['_id']}/display", headers=us_auth).json()["token"]
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(value)).status_code == 200
    fake_celigo.advance_time(3601)
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(value)).status_code == 401
    listed = celigo_http.get(base + "/v1/accesstokens", headers=us_auth).json()
    assert created["_id"] not in {t["_id"] for t in listed}


def test_tokens_api_can_be_forbidden_for_api_tokens(celigo_http: httpx.Client) -> None:
    with FakeCeligo(users=3, integrations=1, accesstokens_api=False) as fake:
        r = celigo_http.get(fake.url_for("us") + "/v1/accesstokens", headers=h(fake.default_token()))
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == "forbidden"


def test_scoped_tokens_cannot_manage_tokens(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    scoped = fake_celigo.add_token("us", scope=[next(iter(fake_celigo.account("us").integrations))])
    r = celigo_http.post(fake_celigo.url_for("us") + "/v1/accesstokens", headers=h(scoped),
                         json={"name": "x", "fullAccess": True})
    assert r.status_code == 403
