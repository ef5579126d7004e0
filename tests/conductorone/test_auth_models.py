"""Pure pieces of the client: the signed assertion, the token cache, response parsing, Retry-After."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from celigo_operator.conductorone import ConnectorSyncStatus, Credential, MalformedResponse, SyncStatus
from celigo_operator.conductorone.auth import (
    ASSERTION_TYPE,
    AccessToken,
    TokenCache,
    build_client_assertion,
    token_request_form,
)
from celigo_operator.conductorone.client import ConductorOneClient
from celigo_operator.conductorone.errors import RateLimited, Unavailable
from celigo_operator.conductorone.models import parse_timestamp
from celigo_operator.credentials import parse_client_id, parse_client_secret
from celigo_operator.retry_after import parse_retry_after  # the one copy, shared by both clients
from celigo_testkit.credentials import generate_client_credentials


def test_assertion_claims_and_signature() -> None:
    raw_id, raw_secret = generate_client_credentials("acme.conductor.one:8443")
    client_id, secret = parse_client_id(raw_id), parse_client_secret(raw_secret)
    token = build_client_assertion(client_id, secret, now=1_000_000.0, lifetime=120)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == secret.key_id
    claims = jwt.decode(token, secret.public_key, algorithms=["EdDSA"], audience="acme.conductor.one",
                        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})
    assert claims["iss"] == claims["sub"] == raw_id
    assert claims["aud"] == "acme.conductor.one"  # never the port
    assert claims["iat"] == 1_000_000 and claims["exp"] == 1_000_120
    assert claims["nbf"] <= claims["iat"]
    other = build_client_assertion(client_id, secret, now=1_000_000.0)
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]


def test_assertion_from_another_key_does_not_verify() -> None:
    raw_id, raw_secret = generate_client_credentials("acme.conductor.one")
    _, other_secret = generate_client_credentials("acme.conductor.one")
    token = build_client_assertion(parse_client_id(raw_id), parse_client_secret(raw_secret))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, parse_client_secret(other_secret).public_key, algorithms=["EdDSA"],
                   audience="acme.conductor.one")


def test_token_request_form() -> None:
    raw_id, raw_secret = generate_client_credentials("acme.conductor.one")
    form = token_request_form(parse_client_id(raw_id), parse_client_secret(raw_secret))
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == raw_id
    assert form["client_assertion_type"] == ASSERTION_TYPE == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert form["client_assertion"].count(".") == 2


async def test_token_cache_fetches_once_for_concurrent_callers() -> None:
    now = [0.0]
    calls = 0

    async def fetch() -> tuple[str, float]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return f"tok-{calls}", 100.0

    cache = TokenCache(refresh_margin=10, clock=lambda: now[0])
    tokens = await asyncio.gather(*(cache.get(fetch) for _ in range(20)))
    assert {t.value for t in tokens} == {"tok-1"}
    now[0] = 89.0
    assert (await cache.get(fetch)).value == "tok-1"
    now[0] = 90.0
    assert (await cache.get(fetch)).value == "tok-2"
    stale = await cache.get(fetch)
    cache.invalidate(AccessToken(value="other", expires_at=1e9))  # not the cached one: kept
    assert (await cache.get(fetch)) is stale
    cache.invalidate(stale)
    assert (await cache.get(fetch)).value == "tok-3"
    cache.invalidate()
    assert (await cache.get(fetch)).value == "tok-4"


def test_access_token_repr_hides_the_value() -> None:
    token = AccessToken(value="very-secret-token", expires_at=5.0)
    assert "very-secret-token" not in repr(token) and "very-secret-token" not in str(token)
    assert "very-secret-token" not in repr(TokenCache())


# ---------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SYNC_STATUS_RUNNING", SyncStatus.RUNNING),
        ("SYNC_STATUS_DONE", SyncStatus.DONE),
        ("SYNC_STATUS_ERROR", SyncStatus.ERROR),
        ("SYNC_STATUS_UNSPECIFIED", SyncStatus.UNSPECIFIED),
        (None, SyncStatus.UNSPECIFIED),
        ("", SyncStatus.UNSPECIFIED),
        ("SYNC_STATUS_SOMETHING_NEW", SyncStatus.UNKNOWN),
        ("UNKNOWN", SyncStatus.UNKNOWN),
        (3, SyncStatus.UNKNOWN),
    ],
)
def test_sync_status_parse(raw: object, expected: SyncStatus) -> None:
    assert SyncStatus.parse(raw) is expected


def test_connector_status_from_json() -> None:
    status = ConnectorSyncStatus.from_connector({"status": {
        "status": "SYNC_STATUS_ERROR", "lastError": "boom", "startedAt": "2026-01-01T00:00:00Z",
        "completedAt": "2026-01-01T00:01:00.5+00:00", "updatedAt": "2026-01-01T00:01:00.123456789Z"}})
    assert status.status is SyncStatus.ERROR and status.last_error == "boom"
    assert status.started_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert status.completed_at == datetime(2026, 1, 1, 0, 1, 0, 500000, tzinfo=UTC)
    assert status.updated_at is not None and status.updated_at.microsecond == 123456
    assert ConnectorSyncStatus.from_connector({}).status is SyncStatus.UNSPECIFIED


def test_parse_timestamp_edges() -> None:
    assert parse_timestamp(None) is None and parse_timestamp("") is None
    assert parse_timestamp("2026-01-01T00:00:00") == datetime(2026, 1, 1, tzinfo=UTC)  # naive: UTC
    for bad in ("not a time", 12, ["x"]):
        with pytest.raises(MalformedResponse):
            parse_timestamp(bad)


def test_credential_from_json() -> None:
    cred = Credential.from_json({"id": "c1", "clientId": "a@b/c", "expiresTime": "2026-02-01T00:00:00Z",
                                 "deletedAt": None, "extra": {"ignored": True}})
    assert cred.id == "c1" and cred.client_id == "a@b/c" and cred.deleted_at is None
    assert cred.expires_at == datetime(2026, 2, 1, tzinfo=UTC)
    bad_values: list[object] = [None, [], {"clientId": "x"}, {"id": ""}, {"id": "c", "displayName": 3}]
    for bad in bad_values:
        with pytest.raises(MalformedResponse):
            Credential.from_json(bad)


# ---------------------------------------------------------------- retry policy


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("3", 3.0), ("0.25", 0.25), ("-4", 0.0), ("soon", None), ("nan", None), ("inf", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    earlier = (now - timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now.timestamp) == 30.0
    assert parse_retry_after(earlier, now=now.timestamp) == 0.0


def test_backoff_policy() -> None:
    _, secret = generate_client_credentials("acme.conductor.one")
    client = ConductorOneClient(generate_client_credentials("acme.conductor.one")[0], secret,
                                max_retries=3, backoff_base=0.5, max_backoff=1.5, max_retry_wait=10)
    plain = Unavailable("x")
    assert [client._backoff(n, plain) for n in range(4)] == [0.5, 1.0, 1.5, None]
    assert client._backoff(0, RateLimited("x", retry_after=7)) == 7
    assert client._backoff(0, RateLimited("x", retry_after=11)) is None
    assert client._backoff(0, RateLimited("x", retry_after=None)) == 0.5
    assert client._backoff(1, Unavailable("x", retry_after=2)) == 2
