"""One work queue, like controller-runtime's rate-limited queue.

Every change enqueues the connector key(s) it concerns. A key waits at most once (adds while it waits are
merged), at most one reconcile per key runs at a time (an add while it runs makes it run once more after),
and a key whose reconcile fails is retried with exponential per-key backoff (`base * 2**failures`, capped)
through the scheduler; a success resets its failures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Process = Callable[
    [str, bool], Awaitable[bool]
]  # (key, check_now) -> succeeded (False: failed, as a condition)


class WorkQueue:
    def __init__(
        self,
        process: Process,
        later: Callable[[str, float], None],
        *,
        workers: int = 4,
        base_delay: float = 0.5,
        max_delay: float = 300.0,
    ) -> None:
        self._process = process
        self._later = later  # "add this key again after so many seconds" (the scheduler)
        self.workers = max(1, workers)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.pending: dict[str, bool] = {}  # key -> check_now, for keys waiting or to run again
        self.since: dict[str, float] = {}  # key -> when it began waiting (monotonic), for the metrics
        self.active: set[str] = set()
        self.failures: dict[str, int] = {}
        self._ready: asyncio.Queue[str] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, key: str, *, check_now: bool = False) -> None:
        queued = key in self.pending
        self.since[key] = self.since[key] if queued else time.monotonic()
        self.pending[key] = self.pending.get(key, False) or check_now
        if not queued and key not in self.active and self._ready is not None:
            self._ready.put_nowait(key)

    def backoff(self, key: str) -> float:
        """The delay before the next retry of `key`, counting this failure."""
        n = self.failures.get(key, 0)
        self.failures[key] = n + 1
        return float(min(self.max_delay, self.base_delay * (2**n)))

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)

    def forget(self, key: str) -> None:
        self.pending.pop(key, None)
        self.since.pop(key, None)
        self.failures.pop(key, None)

    @property
    def idle(self) -> bool:
        return not self.pending and not self.active

    def start(self) -> None:
        self._ready = asyncio.Queue()
        for key in self.pending:
            self._ready.put_nowait(key)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._worker(), name=f"celigo-worker-{i}") for i in range(self.workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    async def _worker(self) -> None:
        assert self._ready is not None
        while True:
            key = await self._ready.get()
            if key not in self.pending or key in self.active:
                continue  # forgotten, or a stale duplicate
            check_now = self.pending.pop(key)
            self.active.add(key)
            try:
                ok = await self._process(key, check_now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = self.backoff(key)
                log.warning("reconcile of %s failed (%s); retrying in %.1fs", key, type(exc).__name__, delay)
                self._later(key, delay)
            else:
                if ok:
                    self.succeeded(key)
                else:  # a failure reported as a condition is retried too
                    self._later(key, self.backoff(key))
            finally:
                self.active.discard(key)
                if key in self.pending:
                    self._ready.put_nowait(key)
