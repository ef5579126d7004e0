"""The client's reads against the fake over real HTTP: models, pagination, inventory, budgets, regions."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from celigo.conftest import list_shares
from celigo_operator.celigo import (
    REGION_BASE_URLS,
    CeligoClient,
    Inventory,
    MalformedResponse,
)
from celigo_testkit.fake_celigo import FakeCeligo, Fault


async def test_token_info(client: CeligoClient, fake: FakeCeligo) -> None:
    info = await client.token_info()
    assert info.user_id == fake.account("us").owner["_id"]
    assert info.scope == "*" and info.full_access


async def test_scoped_token_info(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    ids = list(fake.account("us").integrations)[:2]
    async with make_client(fake.add_token("us", scope=ids)) as scoped:
        info = await scoped.token_info()
    assert info.scope == ids and not info.full_access


async def test_shares_match_the_account(client: CeligoClient, fake: FakeCeligo) -> None:
    users = await list_shares(client)
    raw = fake.account("us").ashares()
    assert [u.id for u in users] == [r["_id"] for r in raw]
    for user, source in zip(users, raw, strict=True):
        assert user.access_level == source.get("accessLevel")
        assert user.integration_only == ("accessLevel" not in source)
        assert user.disabled == source["disabled"] and user.accepted == source["accepted"]
        assert user.shared_with_user is not None
        assert user.email == source["sharedWithUser"]["email"]
        assert user.shared_with_user.account_sso_linked == source["sharedWithUser"]["accountSSOLinked"]
        assert [e.integration_id for e in user.integration_access_level] == [
            e["_integrationId"] for e in source["integrationAccessLevel"]]
        assert user.created_at is not None and user.created_at.tzinfo is not None


async def test_integrations(client: CeligoClient, fake: FakeCeligo) -> None:
    integrations = await client.list_integrations()
    account = fake.account("us")
    assert sorted(i.id for i in integrations) == sorted(account.integrations)
    assert all(i.name == account.integrations[i.id]["name"] for i in integrations)


async def test_inventory_counts_equal_the_seeded_account(client: CeligoClient, fake: FakeCeligo) -> None:
    account = fake.account("us")
    shares = list(account.users.values())
    inventory = await client.inventory()
    assert inventory.users == len(shares) == 42
    assert inventory.integration_only_users == sum(1 for s in shares if "accessLevel" not in s)
    assert inventory.integrations == len(account.integrations)
    for level in ("administrator", "manage", "monitor"):
        assert getattr(inventory.roles, level) == sum(1 for s in shares if s.get("accessLevel") == level)
    assert inventory.disabled_users == sum(1 for s in shares if s["disabled"])
    assert inventory.pending_users == sum(1 for s in shares if not s["accepted"])
    dumped = inventory.model_dump(by_alias=True)
    assert set(dumped) >= {"users", "integrationOnlyUsers", "integrations", "roles"}
    assert Inventory.model_validate(dumped) == inventory


async def test_inventory_call_budget(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    async with make_client(page_limit=None) as c:
        await c.inventory()
    assert fake.count() == 2
    assert fake.count("/v1/ashares") == 1 and fake.count("/v1/integrations") == 1
    assert all(r.query == {} for r in fake.requests)  # no limit sent: one page, like the connector
    fake.reset_counts()
    async with make_client(page_limit=10) as c:
        await c.inventory()
    assert fake.count("/v1/ashares") == 5 and fake.count("/v1/integrations") == 1


async def test_pagination_over_many_pages(make_client: Callable[..., CeligoClient], fake: FakeCeligo) -> None:
    fake.set_users("us", 5000)
    async with make_client(page_limit=100) as c:
        users = await list_shares(c)
    assert len(users) == 5000 and len({u.id for u in users}) == 5000
    assert [u.id for u in users] == fake.account("us").user_ids()
    assert fake.count("/v1/ashares") == 50
    assert fake.requests[0].query == {"limit": "100"}
    assert all("after" in r.query for r in fake.requests[1:])


async def test_empty_lists(make_client: Callable[..., CeligoClient]) -> None:
    with FakeCeligo(users=0, integrations=0) as empty:
        async with CeligoClient(empty.default_token(), base_url=empty.url_for("us"), page_limit=5) as c:
            assert await list_shares(c) == []
            assert await c.list_integrations() == []
            inventory = await c.inventory()
    assert (inventory.users, inventory.integrations, inventory.integration_only_users) == (0, 0, 0)
    assert inventory.roles.model_dump() == {"administrator": 0, "manage": 0, "monitor": 0}


async def test_connection_reuse_and_headers(client: CeligoClient, fake: FakeCeligo) -> None:
    await client.token_info()
    await list_shares(client)
    await client.list_integrations()
    await client.token_info()
    assert len(fake.requests) == 4
    assert len({r.peer for r in fake.requests}) == 1  # one TCP connection for the whole sequence
    headers = fake.requests[0].headers
    assert headers["authorization"] == "Bearer <redacted>"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"].startswith("celigo-operator")


async def test_shared_pool_is_not_closed_by_the_client(fake: FakeCeligo) -> None:
    async with httpx.AsyncClient() as pool:
        for _ in range(2):
            async with CeligoClient(fake.default_token(), base_url=fake.url_for("us"), http=pool) as c:
                await c.token_info()
        assert not pool.is_closed
        async with CeligoClient(fake.default_token("eu"), region="eu", base_url=fake.url_for("eu"),
                                http=pool) as c:
            await c.token_info()
        assert not pool.is_closed
    assert len({r.peer for r in fake.requests if r.region == "us"}) == 1


async def test_own_pool_is_closed(fake: FakeCeligo) -> None:
    c = CeligoClient(fake.default_token(), base_url=fake.url_for("us"))
    await c.token_info()
    await c.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await c.token_info()


async def test_link_to_another_origin_is_refused(client: CeligoClient, fake: FakeCeligo) -> None:
    evil = '<http://127.0.0.2:9/v1/ashares?after=x>; rel="next"'
    fake.inject(Fault(path_prefix="/v1/ashares", body=[], headers={"Link": evil}))
    with pytest.raises(MalformedResponse, match="another origin"):
        await list_shares(client)
    assert fake.count() == 1


async def test_link_loop_is_detected(client: CeligoClient, fake: FakeCeligo) -> None:
    loop = f'<{fake.url_for("us")}/v1/ashares?after=same>; rel="next"'
    fake.inject(Fault(path_prefix="/v1/ashares", body=[], headers={"Link": loop}, times=None))
    with pytest.raises(MalformedResponse, match="loops"):
        await list_shares(client)
    assert fake.count() == 2


async def test_relative_link_is_resolved(client: CeligoClient, fake: FakeCeligo) -> None:
    first = fake.account("us").user_ids()[0]
    fake.inject(Fault(path_prefix="/v1/ashares", body=[fake.account("us").users[first]],
                      headers={"Link": f'</v1/ashares?after={first}>; rel="next"'}))
    users = await list_shares(client)
    assert len(users) == 42 and fake.count() == 2


def test_region_defaults_and_validation() -> None:
    assert REGION_BASE_URLS == {"us": "https://api.integrator.io", "eu": "https://api.eu.integrator.io"}
    assert CeligoClient("abc", region="eu").base_url == "https://api.eu.integrator.io"
    assert CeligoClient("abc").base_url == "https://api.integrator.io"
    assert CeligoClient("abc", base_url="http://127.0.0.1:1/").base_url == "http://127.0.0.1:1"
    for bad in ({"region": "EU"}, {"region": "xx"}, {"base_url": "ftp://x"}, {"base_url": "/relative"},
                {"timeout": 0}, {"page_limit": 0}, {"max_retries": -1}):
        with pytest.raises(ValueError):
            CeligoClient("abc", **bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", "abc def", "abc\n", "tök", "\tabc"])
def test_tokens_that_cannot_be_a_header_are_refused(token: str) -> None:
    with pytest.raises(ValueError) as info:
        CeligoClient(token)
    assert token.strip() == "" or token.strip() not in str(info.value)


async def test_ids_cannot_escape_their_path_segment(client: CeligoClient, fake: FakeCeligo) -> None:
    for bad in ("../tokenInfo", "a/b", "x?y=1", ""):
        with pytest.raises(ValueError):
            await client.get_access_token(bad)
    assert fake.count() == 0
