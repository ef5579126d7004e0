"""Contract: ashares, invite, integrations and their ashares, error envelopes and projections."""

from __future__ import annotations

import httpx
import pytest

from celigo_testkit import celigo_seed
from celigo_testkit.fake_celigo import FakeCeligo


def codes(response: httpx.Response) -> list[str]:
    body = response.json()
    assert isinstance(body["errors"], list) and body["errors"], body
    return [e["code"] for e in body["errors"]]


def test_seeded_account_is_realistic(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                     us_auth: dict[str, str]) -> None:
    users = celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares", headers=us_auth).json()
    assert len(users) == 42
    levels = [u.get("accessLevel") for u in users]
    assert {lvl for lvl in levels if lvl} == {"administrator", "manage", "monitor"}
    integration_only = [u for u in users if "accessLevel" not in u]
    assert integration_only and all(u["integrationAccessLevel"] for u in integration_only)
    assert any(not u["accepted"] for u in users) and any(u["disabled"] for u in users)
    owner = fake_celigo.account("us").owner["_id"]
    assert all(u["sharedWithUser"]["_id"] != owner for u in users)
    for user in users:
        assert user["_id"] != user["sharedWithUser"]["_id"]
        assert {"_id", "accepted", "disabled", "integrationAccessLevel", "accountSSORequired",
                "accountMFARequired", "createdAt", "lastModified", "sharedWithUser"} <= set(user)
        assert {"_id", "email", "name", "allowedToResetMFA", "accountSSOLinked"} <= set(user["sharedWithUser"])
        assert user["sharedWithUser"]["accountSSOLinked"] in celigo_seed.SSO_LINK_STATES
    integrations = celigo_http.get(fake_celigo.url_for("us") + "/v1/integrations", headers=us_auth).json()
    assert len(integrations) == 7
    assert all({"_id", "name", "description", "readme", "lastModified", "createdAt"} <= set(i)
               for i in integrations)


def test_get_one_share_and_404_envelope(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                        us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    share_id = next(iter(fake_celigo.account("us").users))
    r = celigo_http.get(f"{base}/v1/ashares/{share_id}", headers=us_auth)
    assert r.status_code == 200 and r.json() == fake_celigo.account("us").users[share_id]
    for path in ("/v1/ashares/000000000000000000000000", "/v1/integrations/nope", "/v1/nothing-here"):
        r = celigo_http.get(base + path, headers=us_auth)
        assert r.status_code == 404 and codes(r) == ["not_found"], path


def test_put_is_a_full_replace(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                               us_auth: dict[str, str]) -> None:
    account = fake_celigo.account("us")
    share = next(u for u in account.ashares()
                 if u.get("accessLevel") == "monitor" and u["accountSSORequired"] and u["integrationAccessLevel"])
    url = f"{fake_celigo.url_for('us')}/v1/ashares/{share['_id']}"
    before = celigo_http.get(url, headers=us_auth).json()
    r = celigo_http.put(url, headers=us_auth, json={"accessLevel": "manage"})
    assert r.status_code == 204 and r.content == b""
    after = celigo_http.get(url, headers=us_auth).json()
    assert after["accessLevel"] == "manage"
    assert after["integrationAccessLevel"] == [] and after["accountSSORequired"] is False
    assert after["sharedWithUser"] == before["sharedWithUser"] and after["createdAt"] == before["createdAt"]
    # GET, modify, PUT keeps everything else
    after["accountMFARequired"] = True
    assert celigo_http.put(url, headers=us_auth, json=after).status_code == 204
    assert celigo_http.get(url, headers=us_auth).json()["accountMFARequired"] is True


def test_put_without_access_level_makes_an_integration_only_user(
        fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    account = fake_celigo.account("us")
    share_id = account.users_with_level("manage")[0]["_id"]
    integration_id = next(iter(account.integrations))
    url = f"{fake_celigo.url_for('us')}/v1/ashares/{share_id}"
    body = {"integrationAccessLevel": [{"_integrationId": integration_id, "accessLevel": "monitor"}]}
    assert celigo_http.put(url, headers=us_auth, json=body).status_code == 204
    assert "accessLevel" not in celigo_http.get(url, headers=us_auth).json()


@pytest.mark.parametrize(("body", "field"), [
    ({"accessLevel": "owner"}, "accessLevel"),
    ({}, "accessLevel"),
    ({"integrationAccessLevel": [{"_integrationId": "nope", "accessLevel": "monitor"}]},
     "integrationAccessLevel[0]"),
])
def test_put_validation_is_422_invalid_field(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                             us_auth: dict[str, str], body: dict, field: str) -> None:
    share_id = next(iter(fake_celigo.account("us").users))
    r = celigo_http.put(f"{fake_celigo.url_for('us')}/v1/ashares/{share_id}", headers=us_auth, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0] == {"code": "invalid_field", "message": r.json()["errors"][0]["message"],
                                     "field": field}


def test_malformed_request_body_is_400(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                       us_auth: dict[str, str]) -> None:
    share_id = next(iter(fake_celigo.account("us").users))
    r = celigo_http.put(f"{fake_celigo.url_for('us')}/v1/ashares/{share_id}", headers=us_auth, content=b"{nope")
    assert r.status_code == 400 and codes(r) == ["invalid_json"]


def test_disable_toggles(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    share = next(u for u in fake_celigo.account("us").ashares() if not u["disabled"])
    url = f"{fake_celigo.url_for('us')}/v1/ashares/{share['_id']}"
    assert celigo_http.put(url + "/disable", headers=us_auth).status_code == 204
    assert celigo_http.get(url, headers=us_auth).json()["disabled"] is True
    assert celigo_http.put(url + "/disable", headers=us_auth).status_code == 204
    assert celigo_http.get(url, headers=us_auth).json()["disabled"] is False


def test_delete_share(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    share_id = next(iter(fake_celigo.account("us").users))
    base = fake_celigo.url_for("us")
    assert celigo_http.delete(f"{base}/v1/ashares/{share_id}", headers=us_auth).status_code == 204
    assert celigo_http.get(f"{base}/v1/ashares/{share_id}", headers=us_auth).status_code == 404
    assert len(celigo_http.get(f"{base}/v1/ashares", headers=us_auth).json()) == 41
    assert celigo_http.delete(f"{base}/v1/ashares/{share_id}", headers=us_auth).status_code == 404


def test_invite_creates_a_pending_share(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                        us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    r = celigo_http.post(base + "/v1/invite", headers=us_auth,
                         json={"email": "new.person@example.com", "accessLevel": "monitor"})
    assert r.status_code == 201
    share = r.json()
    assert share["accepted"] is False and share["accessLevel"] == "monitor"
    assert share["sharedWithUser"]["email"] == "new.person@example.com"
    listed = celigo_http.get(base + "/v1/ashares", headers=us_auth).json()
    assert share["_id"] in {u["_id"] for u in listed} and len(listed) == 43
    again = celigo_http.post(base + "/v1/invite", headers=us_auth,
                             json={"email": "NEW.person@example.com", "accessLevel": "manage"})
    assert again.status_code == 409
    bad = celigo_http.post(base + "/v1/invite", headers=us_auth, json={"accessLevel": "monitor"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"


def test_integrations_crud(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    r = celigo_http.post(base + "/v1/integrations", headers=us_auth, json={"name": "A - B"})
    assert r.status_code == 201
    new_id = r.json()["_id"]
    assert celigo_http.get(f"{base}/v1/integrations/{new_id}", headers=us_auth).json()["name"] == "A - B"
    r = celigo_http.put(f"{base}/v1/integrations/{new_id}", headers=us_auth, json={"name": "A - C"})
    assert r.status_code == 200 and r.json()["name"] == "A - C" and r.json()["description"] == ""
    assert celigo_http.put(f"{base}/v1/integrations/{new_id}", headers=us_auth, json={}).status_code == 422
    assert celigo_http.delete(f"{base}/v1/integrations/{new_id}", headers=us_auth).status_code == 204
    assert celigo_http.get(f"{base}/v1/integrations/{new_id}", headers=us_auth).status_code == 404


def test_integration_ashares(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    account = fake_celigo.account("us")
    base = fake_celigo.url_for("us")
    account_level = {u["_id"] for u in account.ashares() if u.get("accessLevel")}
    seen_integration_only = 0
    for integration_id in account.integrations:
        rows = celigo_http.get(f"{base}/v1/integrations/{integration_id}/ashares", headers=us_auth).json()
        ids = {u["_id"] for u in rows}
        assert account_level <= ids
        for row in rows:
            original = account.users[row["_id"]]
            if "accessLevel" in original:
                assert row["accessLevel"] == original["accessLevel"]
            else:
                seen_integration_only += 1
                entry = next(e for e in original["integrationAccessLevel"] if e["_integrationId"] == integration_id)
                assert row["accessLevel"] == entry["accessLevel"]
    assert seen_integration_only >= len(account.integration_only_users())
    assert celigo_http.get(f"{base}/v1/integrations/nope/ashares", headers=us_auth).status_code == 404


def test_empty_lists_are_200_json_arrays(celigo_http: httpx.Client) -> None:
    with FakeCeligo(users=0, integrations=0) as fake:
        auth = {"Authorization": f"Bearer {fake.default_token()}"}
        for path in ("/v1/ashares", "/v1/integrations", "/v1/ashares?limit=10"):
            r = celigo_http.get(fake.url_for("us") + path, headers=auth)
            assert r.status_code == 200 and r.json() == [] and "link" not in r.headers
            assert r.headers["content-type"].startswith("application/json")


def test_include_exclude_projections(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                     us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    rows = celigo_http.get(base + "/v1/ashares?include=accessLevel,disabled", headers=us_auth).json()
    assert all(set(r) <= {"_id", "accessLevel", "disabled"} and "_id" in r for r in rows)
    rows = celigo_http.get(base + "/v1/integrations?exclude=readme,description", headers=us_auth).json()
    assert rows and all("readme" not in r and "description" not in r and "name" in r for r in rows)
    r = celigo_http.get(base + "/v1/ashares?include=_id&exclude=disabled", headers=us_auth)
    assert r.status_code == 400 and codes(r) == ["invalid_query_params"]


def test_wrong_method_is_405(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    r = celigo_http.post(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth)
    assert r.status_code == 405 and codes(r) == ["method_not_allowed"]


def test_a_bug_in_the_fake_answers_500_envelope(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                us_auth: dict[str, str]) -> None:
    account = fake_celigo.account("us")
    account.users["ffffffffffffffffffffffff"] = {"_id": "ffffffffffffffffffffffff", "broken": object()}
    account.touch_users()
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares", headers=us_auth)
    assert r.status_code == 500 and codes(r) == ["internal_error"]
    assert fake_celigo.requests[-1].status == 500
