"""Fixtures for the ConductorOne client tests: a fake ConductorOne over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from celigo_operator.conductorone import ConductorOneClient
from celigo_testkit.fake_conductorone import FakeConductorOne, IssuedCredential

APP = "app-1"
CONN = "conn-1"

ClientFactory = Callable[..., ConductorOneClient]


@pytest.fixture
def fake() -> Iterator[FakeConductorOne]:
    """A fresh fake per test (no shared state), token lifetime one hour."""
    with FakeConductorOne(token_ttl=3600) as server:
        yield server


@pytest.fixture
def connector(fake: FakeConductorOne) -> IssuedCredential:
    """The connector APP/CONN, synced fine, with its first credential (what the connector pod uses)."""
    issued = fake.add_connector(APP, CONN)
    assert issued is not None
    return issued


@pytest.fixture
def api_credentials(fake: FakeConductorOne) -> tuple[str, str]:
    """The operator's own API client id and secret, registered with the fake."""
    return fake.register_client()


@pytest.fixture
async def make_client(fake: FakeConductorOne, api_credentials: tuple[str, str]) -> AsyncIterator[ClientFactory]:
    """Build clients pointed at the fake with fast retry settings; all closed at teardown."""
    clients: list[ConductorOneClient] = []

    def make(client_id: str | None = None, client_secret: str | None = None, **options: Any) -> ConductorOneClient:
        settings: dict[str, Any] = {
            "base_url": fake.url,
            "timeout": 5.0,
            "max_retries": 3,
            "backoff_base": 0.001,
            "max_backoff": 0.01,
            "clock": fake.now,
        }
        settings.update(options)
        client = ConductorOneClient(
            client_id if client_id is not None else api_credentials[0],
            client_secret if client_secret is not None else api_credentials[1],
            **settings,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> ConductorOneClient:
    return make_client()
