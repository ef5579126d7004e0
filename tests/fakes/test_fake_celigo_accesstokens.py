"""Contract: the accesstokens resource used for API-driven rotation (opt-in, see celigo-api.md)."""

from __future__ import annotations

import httpx

from celigo_testkit.fake_celigo import MASK, FakeCeligo


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_list_is_masked_and_display_reveals(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                            us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    listed = celigo_http.get(base + "/v1/accesstokens", headers=us_auth).json()
    assert len(listed) == 1 and listed[0]["token"] == MASK
    assert {"_id", "name", "description", "token", "fullAccess", "revoked", "autoPurgeAt"} <= set(listed[0])
    assert not any(k.startswith("__") for k in listed[0])
    assert fake_celigo.default_token() not in celigo_http.get(base + "/v1/accesstokens", headers=us_auth).text
    shown = celigo_http.get(f"{base}/v1/accesstokens/{listed[0]['_id']}/display", headers=us_auth).json()
    assert shown == {"_id": listed[0]["_id"], "token": fake_celigo.default_token()}


def test_create_then_use_the_new_token(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                       us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    r = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                         json={"name": "rotation-2", "fullAccess": True, "autoPurge": "never"})
    assert r.status_code == 201
    created = r.json()
    assert created["token"] == MASK and created["revoked"] is False and created["autoPurgeAt"] is None
    value = celigo_http.get(f"{base}/v1/accesstokens/{created['_id']}/display", headers=us_auth).json()["token"]
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(value)).json()["scope"] == "*"
    assert len(celigo_http.get(base + "/v1/accesstokens", headers=us_auth).json()) == 2
    bad = celigo_http.post(base + "/v1/accesstokens", headers=us_auth, json={"name": "x", "autoPurge": "2y"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "autoPurge"


def test_generate_replaces_the_value_in_the_same_record(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    base = fake_celigo.url_for("us")
    admin = h(fake_celigo.default_token())
    old = fake_celigo.add_token("us", name="connector")
    record_id = fake_celigo.token_record(old)["_id"]
    r = celigo_http.post(f"{base}/v1/accesstokens/{record_id}/generate", headers=admin)
    assert r.status_code == 200
    new = r.json()["token"]
    assert r.json()["_id"] == record_id and new != old
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(old)).status_code == 401
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(new)).status_code == 200
    assert celigo_http.get(f"{base}/v1/accesstokens/{record_id}/display", headers=admin).json()["token"] == new


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
    # a rename that omits `revoked` never un-revokes
    assert celigo_http.put(url, headers=admin, json={"name": "renamed"}).json()["revoked"] is True
    assert celigo_http.delete(url, headers=admin).status_code == 204
    assert celigo_http.get(url, headers=admin).status_code == 404
    assert record_id not in {t["_id"] for t in celigo_http.get(base + "/v1/accesstokens", headers=admin).json()}


def test_auto_purge_expires_token_and_record(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                             us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    created = celigo_http.post(base + "/v1/accesstokens", headers=us_auth,
                               json={"name": "short", "autoPurge": "1h"}).json()
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
    r = celigo_http.post(fake_celigo.url_for("us") + "/v1/accesstokens", headers=h(scoped), json={"name": "x"})
    assert r.status_code == 403
