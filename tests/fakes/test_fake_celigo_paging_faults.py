"""Contract: Link pagination, the rate-limit bucket and every injectable fault."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from celigo_testkit.fake_celigo import FakeCeligo, Fault


def walk(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[list[dict], list[httpx.Response]]:
    items: list[dict] = []
    responses: list[httpx.Response] = []
    next_url: str | None = url
    while next_url:
        r = client.get(next_url, headers=headers)
        assert r.status_code == 200, r.text
        responses.append(r)
        items.extend(r.json())
        next_url = r.links.get("next", {}).get("url")
    return items, responses


def test_pagination_walk_covers_every_user_once(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    items, responses = walk(celigo_http, base + "/v1/ashares?limit=10", us_auth)
    assert len(responses) == 5
    assert [u["_id"] for u in items] == [u["_id"] for u in fake_celigo.account("us").ashares()]
    first_next = responses[0].links["next"]["url"]
    assert first_next.startswith(base + "/v1/ashares?")  # absolute URL
    assert "prev" not in responses[0].links
    assert responses[1].links["prev"]["url"].startswith(base)
    assert "next" not in responses[-1].links and len(responses[-1].json()) == 2


def test_prev_link_goes_back(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    first = celigo_http.get(base + "/v1/ashares?limit=10", headers=us_auth)
    second = celigo_http.get(first.links["next"]["url"], headers=us_auth)
    back = celigo_http.get(second.links["prev"]["url"], headers=us_auth)
    assert back.json() == first.json()


def test_no_link_without_limit_or_when_limit_covers_all(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                         us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    for query in ("", "?limit=42", "?limit=1000"):
        r = celigo_http.get(base + "/v1/ashares" + query, headers=us_auth)
        assert len(r.json()) == 42 and "link" not in r.headers, query


def test_projection_survives_pagination(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                        us_auth: dict[str, str]) -> None:
    items, _ = walk(celigo_http, fake_celigo.url_for("us") + "/v1/ashares?limit=7&include=accessLevel", us_auth)
    assert len(items) == 42 and all(set(i) <= {"_id", "accessLevel"} for i in items)


@pytest.mark.parametrize("limit", ["0", "-3", "ten"])
def test_bad_limit_is_invalid_query_params(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                           us_auth: dict[str, str], limit: str) -> None:
    r = celigo_http.get(fake_celigo.url_for("us") + f"/v1/ashares?limit={limit}", headers=us_auth)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "invalid_query_params"


def test_integrations_and_their_users_paginate(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                               us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    items, responses = walk(celigo_http, base + "/v1/integrations?limit=3", us_auth)
    assert len(items) == 7 and len(responses) == 3
    integration_id = items[0]["_id"]
    users, pages = walk(celigo_http, f"{base}/v1/integrations/{integration_id}/ashares?limit=5", us_auth)
    expected = fake_celigo.account("us").integration_users(integration_id)
    assert [u["_id"] for u in users] == [u["_id"] for u in expected] and len(pages) > 1


@pytest.mark.slow
def test_large_account_serves_50k_users_in_one_page_and_in_pages(celigo_http: httpx.Client) -> None:
    with FakeCeligo(users=0, integrations=0) as fake:
        fake.seed_large_account("us", users=50_000, integrations=20)
        auth = {"Authorization": f"Bearer {fake.default_token()}"}
        whole = celigo_http.get(fake.url_for("us") + "/v1/ashares", headers=auth)
        assert len(whole.json()) == 50_000
        items, responses = walk(celigo_http, fake.url_for("us") + "/v1/ashares?limit=5000&include=_id", auth)
        assert len(responses) == 10 and len({i["_id"] for i in items}) == 50_000


def test_rate_limit_bucket_answers_429_with_retry_after(celigo_http: httpx.Client) -> None:
    with FakeCeligo(bucket_size=5, refill_per_second=0.5) as fake:
        auth = {"Authorization": f"Bearer {fake.default_token()}"}
        url = fake.url_for("us") + "/v1/tokenInfo"
        assert [celigo_http.get(url, headers=auth).status_code for _ in range(5)] == [200] * 5
        r = celigo_http.get(url, headers=auth)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json() == {"errors": [{"code": "rate_limited",
                                        "message": f"Too many requests. Retry after {r.headers['retry-after']} seconds."}]}
        # the bucket is per account: the eu account is untouched
        eu = {"Authorization": f"Bearer {fake.default_token('eu')}"}
        assert celigo_http.get(fake.url_for("eu") + "/v1/tokenInfo", headers=eu).status_code == 200


def test_rate_limit_bucket_refills(celigo_http: httpx.Client) -> None:
    with FakeCeligo(bucket_size=2, refill_per_second=4.0) as fake:
        auth = {"Authorization": f"Bearer {fake.default_token()}"}
        url = fake.url_for("us") + "/v1/tokenInfo"
        statuses = [celigo_http.get(url, headers=auth).status_code for _ in range(6)]
        assert 429 in statuses
        time.sleep(0.6)  # 4/s refills at least 2 requests' worth
        assert celigo_http.get(url, headers=auth).status_code == 200
        fake.rate_limit = False
        assert all(celigo_http.get(url, headers=auth).status_code == 200 for _ in range(10))


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_5xx_uses_the_envelope_once(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                             us_auth: dict[str, str], status: int) -> None:
    fault = fake_celigo.inject(Fault(path_prefix="/v1/ashares", status=status))
    base = fake_celigo.url_for("us")
    assert celigo_http.get(base + "/v1/integrations", headers=us_auth).status_code == 200  # other path
    r = celigo_http.get(base + "/v1/ashares", headers=us_auth)
    assert r.status_code == status and r.json()["errors"][0]["code"] == "internal_error"
    assert celigo_http.get(base + "/v1/ashares", headers=us_auth).status_code == 200  # times=1
    assert fault.hits == 1


def test_injected_429_and_401(fake_celigo: FakeCeligo, celigo_http: httpx.Client, us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    fake_celigo.inject(Fault(status=429, retry_after=2))
    r = celigo_http.get(base + "/v1/tokenInfo", headers=us_auth)
    assert (r.status_code, r.headers["retry-after"], r.json()["errors"][0]["code"]) == (429, "2", "rate_limited")
    fake_celigo.inject(Fault(status=429, retry_after=0.25))
    assert celigo_http.get(base + "/v1/tokenInfo", headers=us_auth).headers["retry-after"] == "0.25"
    fake_celigo.inject(Fault(status=401))
    r = celigo_http.get(base + "/v1/tokenInfo", headers=us_auth)
    assert (r.status_code, r.json()) == (401, {"message": "Bearer Authentication Failed"})


def test_malformed_json_and_wrong_content_type(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                               us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    fake_celigo.inject(Fault(body=b'[{"_id": "x",'))
    r = celigo_http.get(base + "/v1/ashares", headers=us_auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        r.json()
    fake_celigo.inject(Fault(status=502, body="<html>Bad gateway</html>", content_type="text/html"))
    r = celigo_http.get(base + "/v1/ashares", headers=us_auth)
    assert (r.status_code, r.headers["content-type"], r.text) == (502, "text/html", "<html>Bad gateway</html>")
    fake_celigo.inject(Fault(body={"not": "a list"}))
    assert celigo_http.get(base + "/v1/ashares", headers=us_auth).json() == {"not": "a list"}


def test_timeout_fault_holds_past_the_client_timeout(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                     us_auth: dict[str, str]) -> None:
    fake_celigo.inject(Fault(path_prefix="/v1/tokenInfo", timeout=True))
    with pytest.raises(httpx.ReadTimeout):
        celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth, timeout=0.2)
    assert celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth).status_code == 200


def test_delay_fault_is_slow_but_normal(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                        us_auth: dict[str, str]) -> None:
    fake_celigo.inject(Fault(delay=5.0))
    with pytest.raises(httpx.ReadTimeout):
        celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth, timeout=0.2)
    fake_celigo.inject(Fault(delay=0.05))
    r = celigo_http.get(fake_celigo.url_for("us") + "/v1/ashares", headers=us_auth)
    assert r.status_code == 200 and len(r.json()) == 42


def test_fault_scoping_by_method_region_and_times(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                                  us_auth: dict[str, str]) -> None:
    base = fake_celigo.url_for("us")
    fake_celigo.inject(Fault(status=503, method="PUT", times=None))
    fake_celigo.inject(Fault(status=500, region="eu", times=2))
    for _ in range(3):
        assert celigo_http.get(base + "/v1/tokenInfo", headers=us_auth).status_code == 200
        assert celigo_http.put(base + "/v1/ashares/x/disable", headers=us_auth).status_code == 503
    eu = {"Authorization": f"Bearer {fake_celigo.default_token('eu')}"}
    eu_url = fake_celigo.url_for("eu") + "/v1/tokenInfo"
    assert [celigo_http.get(eu_url, headers=eu).status_code for _ in range(3)] == [500, 500, 200]
    fake_celigo.clear_faults()
    assert celigo_http.put(base + "/v1/ashares/x/disable", headers=us_auth).status_code == 404


def test_latency_knob_and_connection_reuse(fake_celigo: FakeCeligo, celigo_http: httpx.Client,
                                           us_auth: dict[str, str]) -> None:
    fake_celigo.latency = 0.01
    for _ in range(4):
        assert celigo_http.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth).status_code == 200
    assert len({r.peer for r in fake_celigo.requests}) == 1  # keep-alive honoured


def test_gate_holds_a_request_until_released(fake_celigo: FakeCeligo, us_auth: dict[str, str]) -> None:
    gate = threading.Event()
    fault = fake_celigo.inject(Fault(path_prefix="/v1/tokenInfo", gate=gate))
    result: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=10) as c:
            result.append(c.get(fake_celigo.url_for("us") + "/v1/tokenInfo", headers=us_auth).status_code)

    worker = threading.Thread(target=call)
    worker.start()
    assert fault.arrived.wait(10)
    worker.join(0.2)
    assert worker.is_alive() and result == []  # still held
    gate.set()
    worker.join(10)
    assert result == [200]  # no status/body configured: released into the normal answer


def test_fault_can_match_by_token(fake_celigo: FakeCeligo, celigo_http: httpx.Client) -> None:
    old = fake_celigo.default_token()
    new = fake_celigo.add_token("us")
    fake_celigo.inject(Fault(status=503, times=None, match_token=lambda t: t != old))
    url = fake_celigo.url_for("us") + "/v1/tokenInfo"
    assert celigo_http.get(url, headers={"Authorization": f"Bearer {old}"}).status_code == 200
    assert celigo_http.get(url, headers={"Authorization": f"Bearer {new}"}).status_code == 503
