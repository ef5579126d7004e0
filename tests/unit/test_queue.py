"""The work queue and the scheduler: de-duplication, one reconcile per key at a time, per-key backoff, and
due times that fire once, earliest first. Driven by events (asyncio.Event), never by how fast the machine is."""

from __future__ import annotations

import asyncio

from celigo_operator.queue import WorkQueue
from celigo_operator.scheduler import Scheduler


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_adds_while_waiting_are_merged_and_check_now_is_kept() -> None:
    async def main() -> list[tuple[str, bool]]:
        seen: list[tuple[str, bool]] = []
        done = asyncio.Event()

        async def process(key: str, check_now: bool) -> bool:
            seen.append((key, check_now))
            if len(seen) == 2:
                done.set()
            return True

        q = WorkQueue(process, lambda k, d: None, workers=2)
        q.add("ns/a")
        q.add("ns/a", check_now=True)
        q.add("ns/a")
        q.add("ns/b")
        q.start()
        await asyncio.wait_for(done.wait(), 30)
        await q.stop()
        return seen

    assert sorted(run(main())) == [("ns/a", True), ("ns/b", False)]


def test_one_reconcile_per_key_at_a_time_and_an_add_while_running_runs_once_more() -> None:
    async def main() -> tuple[int, int]:
        running = 0
        most = 0
        calls = 0
        release = asyncio.Event()
        entered = asyncio.Event()
        second = asyncio.Event()

        async def process(key: str, check_now: bool) -> bool:
            nonlocal running, most, calls
            calls += 1
            running += 1
            most = max(most, running)
            entered.set()
            if calls == 1:
                await release.wait()
            else:
                second.set()
            running -= 1
            return True

        q = WorkQueue(process, lambda k, d: None, workers=4)
        q.start()
        q.add("ns/a")
        await asyncio.wait_for(entered.wait(), 30)
        q.add("ns/a")
        q.add("ns/a")
        release.set()
        await asyncio.wait_for(second.wait(), 30)
        await asyncio.sleep(0)
        await q.stop()
        return most, calls

    most, calls = run(main())
    assert most == 1
    assert calls == 2


def test_failures_back_off_exponentially_per_key_and_success_resets() -> None:
    delays: list[float] = []
    q = WorkQueue(
        lambda k, c: asyncio.sleep(0, True), lambda k, d: delays.append(d), base_delay=0.5, max_delay=4
    )
    assert [q.backoff("ns/a") for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert q.backoff("ns/b") == 0.5
    q.succeeded("ns/a")
    assert q.backoff("ns/a") == 0.5


def test_a_failure_reported_as_a_condition_is_retried_with_backoff() -> None:
    async def main() -> list[tuple[str, float]]:
        later: list[tuple[str, float]] = []
        done = asyncio.Event()

        async def process(key: str, check_now: bool) -> bool:
            return False

        def retry(key: str, delay: float) -> None:
            later.append((key, delay))
            done.set()

        q = WorkQueue(process, retry, base_delay=0.25)
        q.start()
        q.add("ns/a")
        await asyncio.wait_for(done.wait(), 30)
        await q.stop()
        return later

    assert run(main()) == [("ns/a", 0.25)]


def test_scheduler_fires_each_key_once_at_its_earliest_time_in_order() -> None:
    async def main() -> list[str]:
        fired: list[str] = []
        done = asyncio.Event()

        def fire(key: str) -> None:
            fired.append(key)
            if len(fired) == 2:
                done.set()

        s = Scheduler(fire)
        s.start()
        now = s.now()
        s.at("b", now + 0.2)
        s.at("a", now + 0.1)
        s.at("b", now + 0.05)  # earlier wins
        s.at("a", now + 5)  # later does not move it
        s.set("c", now + 0.1)
        s.cancel("c")
        await asyncio.wait_for(done.wait(), 30)
        await s.stop()
        return fired

    assert run(main()) == ["b", "a"]


def test_scheduler_set_replaces_and_none_clears() -> None:
    async def main() -> dict[str, float]:
        s = Scheduler(lambda k: None)
        now = s.now()
        s.set("a", now + 100)
        s.set("a", now + 10)
        assert s.due["a"] == now + 10
        s.set("a", None)
        return s.due

    assert run(main()) == {}
