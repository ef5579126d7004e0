"""The API-token (rotation) calls against the fake: each request pinned (method, path, body) as Celigo's docs
define it, and the answers the client must cope with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from celigo_operator.celigo import (
    CeligoClient,
    Forbidden,
    MalformedResponse,
    NotFound,
    Unauthorized,
)
from celigo_testkit.fake_celigo import MASK, FakeCeligo, Fault


async def test_access_token_lifecycle(client: CeligoClient, fake: FakeCeligo) -> None:
    listed = await client.list_access_tokens()
    assert [t.token for t in listed] == [MASK]
    created = await client.create_access_token("rotation-1", description="by the operator")
    record = created.record
    assert record.name == "rotation-1" and record.full_access and not record.revoked
    assert created.value is None  # masked in the answer: read it some other way
    post = fake.requests[-1]
    assert (post.method, post.path, post.body) == (
        "POST", "/v1/accesstokens", {"name": "rotation-1", "description": "by the operator", "fullAccess": True})
    value = await client.display_access_token(record.id)
    assert value == fake.token_record(value)["token"]
    assert fake.requests[-1].path == f"/v1/accesstokens/{record.id}/display"
    async with CeligoClient(value, base_url=fake.url_for("us")) as fresh:
        assert (await fresh.token_info()).full_access
        await client.revoke_access_token(record.id)
        with pytest.raises(Unauthorized):
            await fresh.token_info()
    get, put = fake.requests[-3], fake.requests[-2]
    assert (get.method, get.path) == ("GET", f"/v1/accesstokens/{record.id}")
    assert (put.method, put.path) == ("PUT", f"/v1/accesstokens/{record.id}")
    assert put.body["revoked"] is True and "token" not in put.body
    assert (await client.get_access_token(record.id)).revoked


async def test_create_with_auto_purge_at_and_a_scope(client: CeligoClient, fake: FakeCeligo) -> None:
    purge = datetime.now(UTC) + timedelta(days=1)
    created = await client.create_access_token("short", auto_purge_at=purge,
                                               scopes={"_exportIds": ["e1"], "_importIds": ["i1"]})
    assert created.record.auto_purge_at is not None
    assert abs(created.record.auto_purge_at - purge) < timedelta(seconds=1)
    assert created.record.full_access is False
    body = fake.requests[-1].body
    assert set(body) == {"name", "description", "_exportIds", "_importIds", "autoPurgeAt"}
    assert body["_exportIds"] == ["e1"] and body["autoPurgeAt"].endswith("Z")
    assert "autoPurge" not in body and "_integrationIds" not in body and "fullAccess" not in body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auto_purge_at": datetime.now(UTC) + timedelta(days=31)},
        {"auto_purge_at": datetime.now(UTC) - timedelta(seconds=1)},
        {"auto_purge_at": datetime(2030, 1, 1)},  # naive
        {"scopes": {"_integrationIds": ["i"]}},
        {"scopes": {}},
    ],
    ids=["31d", "past", "naive", "_integrationIds", "empty-scopes"],
)
async def test_create_refuses_what_celigo_does_not_define(client: CeligoClient, fake: FakeCeligo,
                                                          kwargs: dict) -> None:
    with pytest.raises(ValueError):
        await client.create_access_token("x", **kwargs)
    assert fake.count() == 0


async def test_a_value_shown_at_creation_is_returned_once(make_client: Callable[..., CeligoClient]) -> None:
    with FakeCeligo(users=2, integrations=1, token_on_create=True) as fake:
        async with CeligoClient(fake.default_token(), base_url=fake.url_for("us")) as c:
            created = await c.create_access_token("shown")
        assert created.value is not None and fake.token_record(created.value)["_id"] == created.record.id
        assert created.value not in repr(created) and created.record.token == created.value
        assert created.value not in repr(created.record)


async def test_display_without_a_value_is_malformed(client: CeligoClient, fake: FakeCeligo) -> None:
    fake.inject(Fault(body={"_id": "x"}))
    with pytest.raises(MalformedResponse):
        await client.display_access_token("x")


async def test_display_absent_is_not_found(make_client: Callable[..., CeligoClient]) -> None:
    with FakeCeligo(users=2, integrations=1, display_api=False) as fake:
        async with CeligoClient(fake.default_token(), base_url=fake.url_for("us")) as c:
            created = await c.create_access_token("unreadable")
            with pytest.raises(NotFound):
                await c.display_access_token(created.record.id)


async def test_token_api_forbidden_is_forbidden(make_client: Callable[..., CeligoClient]) -> None:
    with FakeCeligo(users=2, integrations=1, accesstokens_api=False) as fake:
        async with CeligoClient(fake.default_token(), base_url=fake.url_for("us")) as c:
            assert (await c.token_info()).full_access  # the token itself is fine
            with pytest.raises(Forbidden):
                await c.list_access_tokens()


async def test_put_bodies_never_send_the_masked_value(client: CeligoClient, fake: FakeCeligo) -> None:
    record_id = fake.token_record(fake.add_token("us"))["_id"]
    seen: list[bytes] = []

    async def capture(request: httpx.Request) -> None:
        if request.method == "PUT":
            seen.append(request.content)

    async with httpx.AsyncClient(event_hooks={"request": [capture]}) as pool:
        async with CeligoClient(fake.default_token(), base_url=fake.url_for("us"), http=pool) as c:
            await c.revoke_access_token(record_id)
    assert len(seen) == 1 and b'"token"' not in seen[0] and b'"revoked":true' in seen[0].replace(b" ", b"")
