"""Contract: authentication, tokenInfo, regions and the request log, as Celigo's public docs describe them."""

from __future__ import annotations

import socket

import httpx
import pytest

from celigo_testkit.fake_celigo import FakeCeligo

UNAUTHORIZED = {"message": "Unauthorized"}
AUTH_FAILED = {"message": "Bearer Authentication Failed"}


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_info_returns_user_and_full_scope(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=h(fake_celigo.default_token()))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"_userId": fake_celigo.account("us").owner["_id"], "scope": "*"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Token abc"},
                                     {"Authorization": "Bearer"}])
def test_missing_or_non_bearer_header_gets_plain_unauthorized(
        fake_celigo: FakeCeligo, celigo_http: httpx.Client, headers: dict[str, str]) -> None:
    for path in ("/v1/tokenInfo", "/v1/ashares", "/v1/integrations", "/v1/does-not-exist"):
        r = celigo_http.get(fake_celigo.url_for("us") + path, headers=headers)
        assert (r.status_code, r.json()) == (401, UNAUTHORIZED), path


def test_unknown_token_fails_authentication(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares", headers=h("0" * 32))
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)


def test_revoked_token_fails_and_others_still_work(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    doomed = fake_celigo.add_token("us")
    url = fake_celigo.url_for("us") + "/v1/tokenInfo"
    assert celigo_http.get(url, headers=h(doomed)).status_code == 200
    fake_celigo.revoke_token(doomed)
    r = celigo_http.get(url, headers=h(doomed))
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)
    assert celigo_http.get(url, headers=h(fake_celigo.default_token())).status_code == 200


def test_expired_token_fails(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    token = fake_celigo.add_token("us")
    fake_celigo.expire_token(token)
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=h(token))
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)


def test_auto_purge_at_is_honoured_on_the_fake_clock(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    token = fake_celigo.add_token("us", auto_purge_at=fake_celigo.now() + 3600)
    url = fake_celigo.url_for("us") + "/v1/tokenInfo"
    assert celigo_http.get(url, headers=h(token)).status_code == 200
    fake_celigo.advance_time(3599)
    assert celigo_http.get(url, headers=h(token)).status_code == 200
    fake_celigo.advance_time(2)
    assert celigo_http.get(url, headers=h(token)).json() == AUTH_FAILED


def test_regions_are_separate(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    us, eu = fake_celigo.default_token("us"), fake_celigo.default_token("eu")
    assert us != eu
    assert fake_celigo.url_for("us") != fake_celigo.url_for("eu")
    assert set(fake_celigo.base_urls) == {"us", "eu"}
    r = celigo_http.get(fake_celigo.url_for("eu") + "/v1/tokenInfo", headers=h(us))
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=h(eu))
    assert (r.status_code, r.json()) == (401, AUTH_FAILED)
    r = celigo_http.get(fake_celigo.url_for("eu") + "/v1/tokenInfo", headers=h(eu))
    assert r.json()["_userId"] == fake_celigo.account("eu").owner["_id"]


def test_tokens_of_another_account_see_only_their_data(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    other = fake_celigo.create_account("us", users=5, integrations=1)
    token = fake_celigo.add_token("us", account=other)
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares", headers=h(token))
    assert sorted(u["_id"] for u in r.json()) == sorted(other.users)
    assert not set(other.users) & set(fake_celigo.account("us").users)


def test_scoped_token_sees_its_integrations_only(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    integration_ids = list(fake_celigo.account("us").integrations)
    token = fake_celigo.add_token("us", scope=integration_ids[:2])
    base = fake_celigo.url_for("us")
    assert celigo_http.get(base + "/v1/tokenInfo", headers=h(token)).json()["scope"] == integration_ids[:2]
    listed = celigo_http.get(base + "/v1/integrations", headers=h(token)).json()
    assert sorted(i["_id"] for i in listed) == sorted(integration_ids[:2])
    r = celigo_http.get(base + "/v1/ashares", headers=h(token))
    assert r.status_code == 403
    assert r.json()["errors"][0]["code"] == "forbidden"
    assert celigo_http.get(f"{base}/v1/integrations/{integration_ids[3]}", headers=h(token)).status_code == 403


def test_request_log_records_everything_but_the_token(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    token = fake_celigo.default_token()
    celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares?limit=5", headers={**h(token), "User-Agent": "t/1"})
    celigo_http.get(fake_celigo.url_for("eu") + "/v1/tokenInfo")
    first, second = fake_celigo.requests
    assert (first.region, first.method, first.path, first.query, first.status) == (
        "us", "GET", "/v1/ashares", {"limit": "5"}, 200)
    assert first.headers["authorization"] == "Bearer <redacted>"
    assert first.headers["user-agent"] == "t/1"
    assert first.token_valid is True and second.token_valid is False
    assert (second.region, second.status) == ("eu", 401)
    assert token not in repr(fake_celigo.requests)
    assert first.peer is not None and first.at <= second.at


def test_counts_filter_and_reset(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                 us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    for _ in range(3):
        celigo_http.get(base + "/v1/ashares", headers=us_auth)
    celigo_http.get(base + "/v1/integrations", headers=us_auth)
    celigo_http.put(base + "/v1/ashares/nope/disable", headers=us_auth)
    assert fake_celigo.count() == 5
    assert fake_celigo.count("/v1/ashares") == 3
    assert fake_celigo.count(prefix="/v1/ashares") == 4
    assert fake_celigo.count(method="PUT") == 1
    assert fake_celigo.count(status=404) == 1
    assert fake_celigo.count(region="eu") == 0
    fake_celigo.reset_counts()
    assert fake_celigo.count() == 0


def test_stop_releases_the_ports() -> None:
    fake = FakeCeligo(users=3, integrations=1).start()
    port = int(fake.url_for("us").rsplit(":", 1)[1])
    fake.stop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free again: nothing left listening
