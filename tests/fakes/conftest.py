"""Fixtures for the fake servers' contract tests: a started fake and a plain httpx client (no project client)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from celigo_testkit.fake_celigo import FakeCeligo


@pytest.fixture
def fake_celigo() -> Iterator[FakeCeligo]:
    """A fresh fake Celigo (both regions, seeded account of 42 users) per test: no state leaks."""
    with FakeCeligo() as fake:
        yield fake


@pytest.fixture
def celigo_http() -> Iterator[httpx.Client]:
    """A raw HTTP client, so the contract is checked against the docs, not against our own client."""
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def us_auth(fake_celigo: FakeCeligo) -> dict[str, str]:
    """Headers carrying the us account's default token."""
    return {"Authorization": f"Bearer {fake_celigo.default_token('us')}"}
