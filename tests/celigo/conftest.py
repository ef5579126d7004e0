"""Fixtures for the Celigo client tests: a fresh fake Celigo per test and clients tuned for fast tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from celigo_operator.celigo import AShare, CeligoClient
from celigo_testkit.fake_celigo import FakeCeligo

FAST: dict[str, Any] = {"timeout": 5.0, "max_retries": 3, "backoff_base": 0.01, "max_backoff": 2.0}


@pytest.fixture
def fake() -> Iterator[FakeCeligo]:
    """A fresh fake (both regions, the realistic 42-user account) per test."""
    with FakeCeligo() as server:
        yield server


@pytest.fixture
def make_client(fake: FakeCeligo) -> Iterator[Callable[..., CeligoClient]]:
    """Build clients against the fake's us listener (overridable); the test closes them or uses async with."""

    def build(token: str | None = None, **overrides: Any) -> CeligoClient:
        options = {**FAST, "base_url": fake.url_for(overrides.get("region", "us")), **overrides}
        return CeligoClient(token or fake.default_token(options.get("region", "us")), **options)

    yield build


@pytest.fixture
async def client(make_client: Callable[..., CeligoClient]) -> AsyncIterator[CeligoClient]:
    async with make_client() as c:
        yield c


async def list_shares(client: CeligoClient) -> list[AShare]:
    """``GET /v1/ashares``, every page, as full share models: the list machinery the inventory runs on (the
    client has no public per-user call: the operator only counts users)."""
    return await client._list("/v1/ashares", AShare)
