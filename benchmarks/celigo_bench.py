"""The embedded Celigo client against the fake: a 50 000-user inventory vs a raw httpx loop, and a burst of
health checks for many connectors sharing one account's rate limit.

Runs in-process (the client is a library); the fake serves from its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from celigo_operator import celigo
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_testkit.fake_celigo import FakeCeligo

PAGE = 1000


async def raw_pages(base_url: str, token: str) -> int:
    """The floor: GET every page with plain httpx, follow Link rel=next, json-decode, count."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    count = 0
    async with httpx.AsyncClient(headers=headers, timeout=30.0) as http:
        url: str | None = f"{base_url}/v1/ashares?limit={PAGE}"
        while url:
            response = await http.get(url)
            response.raise_for_status()
            count += len(response.json())
            url = response.links.get("next", {}).get("url")
    return count


async def client_inventory(base_url: str, token: str) -> int:
    """What a caller of CeligoClient.inventory() pays: users (lean model) and integrations, concurrently."""
    async with celigo.CeligoClient(token, base_url=base_url, page_limit=PAGE) as client:
        inventory = await client.inventory()
    return int(inventory.users)


async def client_list_users(base_url: str, token: str) -> int:
    """Full AShare models for every user: what health.check_celigo() calls today."""
    async with celigo.CeligoClient(token, base_url=base_url, page_limit=PAGE) as client:
        return len(await client.list_users())


async def health_check(base_url: str, token: str) -> int:
    """The operator's own health check (tokenInfo + users + integrations) through HealthChecker."""
    checker = HealthChecker(OperatorConfig(celigo_base_urls={"us": base_url}, celigo_timeout=30.0))
    try:
        result = await checker.check_celigo("us", token)
    finally:
        await checker.aclose()
    assert result.inventory is not None, result.reachable
    return int(result.inventory["users"])


def _median_run(fn: Any, base_url: str, token: str, repeats: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = asyncio.run(fn(base_url, token))
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def inventory(users: int = 50_000, latency: float = 0.05, repeats: int = 2) -> dict[str, Any]:
    """Inventory of `users` over pages of 1000, each answer delayed by `latency` in the fake."""
    with FakeCeligo(latency=latency, rate_limit=True) as fake:
        fake.seed_large_account("us", users=users)
        token, url = fake.default_token("us"), fake.url_for("us")
        raw_s, raw_n = _median_run(raw_pages, url, token, repeats)
        results: dict[str, Any] = {
            "users": users,
            "page_size": PAGE,
            "pages": -(-users // PAGE),
            "fake_latency_s": latency,
            "repeats": repeats,
            "raw_httpx_s": round(raw_s, 3),
        }
        for name, fn in (("client_inventory", client_inventory), ("client_list_users", client_list_users),
                         ("health_check", health_check)):
            seconds, count = _median_run(fn, url, token, repeats)
            if count != raw_n:
                raise AssertionError(f"{name} counted {count} users, raw loop {raw_n}")
            results[f"{name}_s"] = round(seconds, 3)
            results[f"{name}_ratio"] = round(seconds / raw_s, 2)
        results["fake_429"] = fake.count(status=429)
        return results


def rate_limit_burst(connectors: int = 1000, latency: float = 0.02, timeout: float = 90.0) -> dict[str, Any]:
    """`connectors` health checks at once with one shared token (one account), through one HealthChecker
    as the operator makes them (default Celigo timeout): 429s seen, checks that succeeded within `timeout`,
    duration, and the floor the account's bucket allows (capacity up front, then the refill rate)."""
    with FakeCeligo(latency=latency, rate_limit=True, bucket_size=1000, refill_per_second=300.0) as fake:
        token, url = fake.default_token("us"), fake.url_for("us")

        async def burst() -> list[bool]:
            checker = HealthChecker(OperatorConfig(celigo_base_urls={"us": url}))
            tasks = [asyncio.ensure_future(checker.check_celigo("us", token)) for _ in range(connectors)]
            try:
                await asyncio.wait(tasks, timeout=timeout)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await checker.aclose()
            return [t.done() and not t.cancelled() and t.exception() is None and t.result().inventory is not None
                    for t in tasks]

        fake.reset_counts()
        start = time.perf_counter()
        ok = asyncio.run(burst())
        seconds = time.perf_counter() - start
        calls = fake.count()
        floor = max(0.0, (calls - 1000) / 300.0)
        return {
            "connectors": connectors,
            "bucket": 1000,
            "refill_per_s": 300,
            "celigo_calls": calls,
            "calls_per_check": round(calls / connectors, 2),
            "checks_ok": sum(ok),
            "celigo_429": fake.count(status=429),
            "checks_failed_or_unfinished": connectors - sum(ok),
            "duration_s": round(seconds, 2),
            "bucket_floor_s": round(floor, 2),
        }
