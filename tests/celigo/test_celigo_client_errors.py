"""Every error type, retry policy and the rate limiter, against the fake over real HTTP.

Waits are measured on the fake's recorded arrival times (monotonic), never by timing the test itself.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Callable

import pytest

from celigo.conftest import list_shares
from celigo_operator.celigo import (
    CeligoClient,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    RateLimiter,
    Timeout,
    Unauthorized,
    Unavailable,
    parse_retry_after,
)
from celigo_testkit.fake_celigo import FakeCeligo, Fault


def gaps(fake: FakeCeligo) -> list[float]:
    times = [r.at for r in fake.requests]
    return [b - a for a, b in itertools.pairwise(times)]


# ------------------------------------------------------------------------------------------------ 4xx
async def test_unknown_revoked_expired_and_other_region_tokens(make_client: Callable[..., CeligoClient],
                                                               fake: FakeCeligo) -> None:
    revoked, expired = fake.add_token("us"), fake.add_token("us")
    fake.revoke_token(revoked)
    fake.expire_token(expired)
    for token in ("f" * 32, revoked, expired, fake.default_token("eu")):
        async with make_client(token) as c:
            with pytest.raises(Unauthorized) as info:
                await c.token_info()
        assert info.value.status_code == 401 and info.value.reason == "authentication_failed"
    assert fake.count() == 4  # 401 is never retried


async def test_header_missing_body_is_told_apart(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=401, body={"message": "Unauthorized"}))
    with pytest.raises(Unauthorized) as info:
        await client.token_info()
    assert info.value.reason == "header_missing"


async def test_forbidden(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    scoped = fake.add_token("us", scope=[next(iter(fake.account("us").integrations))])
    async with make_client(scoped) as c:
        with pytest.raises(Forbidden) as info:
            await list_shares(c)
    assert (info.value.status_code, info.value.code) == (403, "forbidden")
    assert fake.count() == 1


async def test_not_found(client: CeligoClient, fake: FakeCeligo) -> None:
    with pytest.raises(NotFound) as info:
        await client.get_access_token("0" * 24)
    assert (info.value.status_code, info.value.code, info.value.path) == (
        404, "not_found", "/v1/accesstokens/" + "0" * 24)
    with pytest.raises(NotFound):
        await client.display_access_token("nope")
    assert fake.count() == 2


async def test_invalid_request_carries_code_and_field(client: CeligoClient, fake: FakeCeligo) -> None:
    with pytest.raises(InvalidRequest) as info:
        await client.create_access_token("no scope at all", scopes={"_exportIds": []})
    assert (info.value.status_code, info.value.code, info.value.field) == (422, "invalid_field", "fullAccess")
    fake.inject(Fault(status=400, body={"errors": [{"code": "invalid_query_params", "message": "no"}]}))
    with pytest.raises(InvalidRequest) as info:
        await list_shares(client)
    assert info.value.code == "invalid_query_params"
    assert fake.count(method="POST") == 1 and fake.count("/v1/ashares") == 1


async def test_conflict(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=409, body={"errors": [{"code": "conflict", "message": "busy"}]}))
    with pytest.raises(Conflict) as info:
        await client.token_info()
    assert (info.value.status_code, info.value.code) == (409, "conflict")


# ------------------------------------------------------------------------------------------ 429 / 5xx
async def test_429_is_retried_after_retry_after(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=429, retry_after=1))
    assert (await client.token_info()).full_access
    assert fake.count() == 2
    assert gaps(fake)[0] >= 1.0


async def test_fractional_retry_after_on_5xx(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=503, retry_after=0.3, times=2))
    await client.token_info()
    assert fake.count() == 3 and all(g >= 0.3 for g in gaps(fake))


async def test_retry_after_longer_than_max_backoff_is_not_waited(
        make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(status=429, retry_after=120))
    async with make_client(max_backoff=5.0) as c:
        with pytest.raises(RateLimited) as info:
            await c.token_info()
    assert info.value.retry_after == 120 and info.value.code == "rate_limited"
    assert fake.count() == 1


async def test_429_exhausted(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(status=429, retry_after=0.05, times=None))
    async with make_client(max_retries=2) as c:
        with pytest.raises(RateLimited) as info:
            await c.token_info()
    assert info.value.retry_after == pytest.approx(0.05) and fake.count() == 3


async def test_real_bucket_429_recovers(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.set_rate_limit(bucket_size=3, refill_per_second=1.0)
    async with make_client(max_retries=3) as c:
        for _ in range(4):
            await c.token_info()
    assert fake.count(status=429) >= 1
    first_429 = next(i for i, r in enumerate(fake.requests) if r.status == 429)
    assert fake.requests[first_429 + 1].at - fake.requests[first_429].at >= 1.0  # Retry-After: 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_retried_then_succeeds(client: CeligoClient, fake: FakeCeligo, status: int) -> None:
    fake.inject(Fault(path_prefix="/v1/ashares", status=status, times=2))
    assert len(await list_shares(client)) == 42
    assert fake.count("/v1/ashares") == 3


async def test_5xx_exhausted_is_unavailable_with_backoff(make_client: Callable[..., CeligoClient],
                                                         fake: FakeCeligo) -> None:
    fake.inject(Fault(status=502, body="<html>bad gateway</html>", content_type="text/html", times=None))
    async with make_client(max_retries=2, backoff_base=0.1) as c:
        with pytest.raises(Unavailable) as info:
            await c.token_info()
    assert info.value.status_code == 502 and "<html>" not in str(info.value)
    assert fake.count() == 3
    first, second = gaps(fake)
    assert first >= 0.05 and second >= 0.1  # exponential: equal jitter keeps at least half of each step


async def test_no_retries_when_disabled(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(status=500, times=None))
    async with make_client(max_retries=0) as c:
        with pytest.raises(Unavailable):
            await c.token_info()
    assert fake.count() == 1


async def test_non_idempotent_calls_are_not_retried_after_sending(client: CeligoClient,
                                                                  fake: FakeCeligo) -> None:
    fake.inject(Fault(path_prefix="/v1/accesstokens", status=503, method="POST"))
    with pytest.raises(OutcomeUnknown) as info:
        await client.create_access_token("rotation")
    assert info.value.status_code == 503 and fake.count() == 1
    fake.inject(Fault(path_prefix="/v1/accesstokens", method="POST", timeout=True))
    with pytest.raises(OutcomeUnknown):
        async with CeligoClient(fake.default_token(), base_url=fake.url_for("us"), timeout=0.2) as c:
            await c.create_access_token("rotation")
    assert fake.count("/v1/accesstokens", method="POST") == 2


async def test_429_is_retried_even_for_non_idempotent_calls(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=429, retry_after=0.05, method="POST"))
    created = await client.create_access_token("rotation")
    assert created.record.name == "rotation" and fake.count("/v1/accesstokens", method="POST") == 2


# -------------------------------------------------------------------------------- timeouts / network
async def test_timeout_retried_then_raised(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(timeout=True, times=None))
    async with make_client(timeout=0.2, max_retries=1) as c:
        with pytest.raises(Timeout) as info:
            await c.token_info()
    assert info.value.path == "/v1/tokenInfo" and fake.count() == 2


async def test_timeout_then_success(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(timeout=True))
    async with make_client(timeout=0.5) as c:
        assert (await c.token_info()).full_access
    assert fake.count() >= 2 and fake.requests[0].status is None  # the first is still held by the fake


async def test_slow_answer_within_timeout_is_fine(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.inject(Fault(delay=0.1))
    async with make_client(timeout=2.0) as c:
        await c.token_info()
    assert fake.count() == 1


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with CeligoClient("abc", base_url=f"http://127.0.0.1:{port}", max_retries=1, backoff_base=0.01) as c:
        with pytest.raises(Unavailable) as info:
            await c.token_info()
    assert info.value.status_code is None and "ConnectError" in str(info.value)


# ------------------------------------------------------------------------------------------ bad bodies
async def test_malformed_json(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(body=b'[{"_id": "x",'))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        await list_shares(client)
    fake.inject(Fault(body=b"{nope"))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        await client.token_info()
    assert fake.count() == 2  # not retried


async def test_non_json_content_type(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(body="<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(MalformedResponse, match="expected JSON, got text/html"):
        await client.list_integrations()


async def test_list_endpoint_answering_an_object(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(body={"errors": []}))
    with pytest.raises(MalformedResponse, match="list of AShare"):
        await list_shares(client)


async def test_wrong_shape_names_the_place(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(body=[{"accessLevel": "monitor"}]))
    with pytest.raises(MalformedResponse, match=r"0\._id"):
        await list_shares(client)
    fake.inject(Fault(body={"scope": "*"}))
    with pytest.raises(MalformedResponse, match="_userId"):
        await client.token_info()


async def test_204_where_a_body_is_expected(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(status=204))
    with pytest.raises(MalformedResponse, match="204"):
        await client.token_info()


async def test_204_is_an_empty_list(client: CeligoClient, fake: FakeCeligo) -> None:
    """Celigo documents 204 with no body as an empty list (connections); any list may do it."""
    fake.inject(Fault(path_prefix="/v1/accesstokens", status=204))
    assert await client.list_access_tokens() == []
    fake.inject(Fault(path_prefix="/v1/ashares", status=204))
    fake.inject(Fault(path_prefix="/v1/integrations", status=204))
    inventory = await client.inventory()
    assert (inventory.users, inventory.integrations) == (0, 0)
    assert fake.count() == 3  # success: nothing retried


async def test_204_revoke_is_done_not_retried(client: CeligoClient, fake: FakeCeligo) -> None:
    """A revoke PUT that answers 204 succeeded: raising would retry a done revoke forever."""
    token = fake.add_token("us")
    record_id = fake.token_record(token)["_id"]
    fake.inject(Fault(path_prefix=f"/v1/accesstokens/{record_id}", method="PUT", status=204))
    await client.revoke_access_token(record_id)
    assert fake.count(f"/v1/accesstokens/{record_id}", method="PUT") == 1

# -------------------------------------------------------------------------------------- rate limiter
async def test_shared_limiter_prevents_429s(fake: FakeCeligo) -> None:
    # The limiter paces send times; connection set-up and a stalled loop (a busy CI machine) bunch
    # arrivals together. Production configures headroom below Celigo's numbers for the same reason (and
    # the connector spends from the same bucket); here the headroom absorbs stalls of up to ~0.7 s.
    fake.set_rate_limit(bucket_size=40, refill_per_second=100.0)
    limiter = RateLimiter(capacity=4, refill_per_second=50.0)
    clients = [CeligoClient(fake.default_token(), base_url=fake.url_for("us"), rate_limiter=limiter,
                            max_retries=0) for _ in range(10)]
    await asyncio.gather(*(c.token_info() for c in clients for _ in range(6)))
    for c in clients:
        await c.aclose()
    assert fake.count() == 60 and fake.count(status=429) == 0


async def test_without_limiter_a_burst_beyond_the_bucket_hits_429(fake: FakeCeligo) -> None:
    # Slow refill so a loaded machine cannot serve the burst slower than the bucket refills.
    fake.set_rate_limit(bucket_size=40, refill_per_second=10.0)
    async with CeligoClient(fake.default_token(), base_url=fake.url_for("us"), max_retries=0) as c:
        results = await asyncio.gather(*(c.token_info() for _ in range(120)), return_exceptions=True)
    assert any(isinstance(r, RateLimited) for r in results)
    assert fake.count(status=429) >= 1


async def test_429_penalizes_the_shared_limiter(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    limiter = RateLimiter(capacity=1000, refill_per_second=300.0)
    fake.inject(Fault(status=429, retry_after=0.2))
    async with make_client(rate_limiter=limiter) as c:
        await c.token_info()
    assert fake.count() == 2 and gaps(fake)[0] >= 0.2


def test_rate_limiter_bucket_arithmetic() -> None:
    now = [0.0]
    limiter = RateLimiter(capacity=2, refill_per_second=10.0, clock=lambda: now[0])
    assert [limiter.reserve() for _ in range(2)] == [0.0, 0.0]
    assert limiter.reserve() == pytest.approx(0.1)
    assert limiter.reserve() == pytest.approx(0.2)  # first come, first served
    now[0] = 10.0
    assert limiter.available == 2.0  # never more than the capacity
    limiter.penalize(0.5)
    assert limiter.reserve() == pytest.approx(0.6)
    with pytest.raises(ValueError):
        RateLimiter(capacity=0)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("nan") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
