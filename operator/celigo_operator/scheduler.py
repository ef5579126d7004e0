"""One scheduler for every timed thing: a heap of due times, one asyncio task.

Health checks, the hourly status refresh, rotation schedules and backoff, expiry warnings, an upgrade wave's
stall timeout, the retry of a rejected credential and the backoff of a failed reconcile all come down to
"look at this connector again at time t". Each key has at most one due time (the earliest asked for); when
it comes, `fire(key)` is called (the runtime enqueues the key). Nothing polls: the task sleeps until the
earliest due time or until an earlier one is added. Times are the event loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, fire: Callable[[str], None]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, int, str]] = []
        self.due: dict[
            str, float
        ] = {}  # key -> when (the live entry; heap entries not equal to it are stale)
        self._seq = 0
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def at(self, key: str, when: float) -> None:
        """Wake `key` at `when`, unless it is already due earlier."""
        current = self.due.get(key)
        if current is not None and current <= when:
            return
        self._push(key, when)

    def set(self, key: str, when: float | None) -> None:
        """Replace `key`'s due time (None: nothing timed for it)."""
        if when is None:
            self.due.pop(key, None)
            return
        if self.due.get(key) == when:
            return
        self._push(key, when)

    def after(self, key: str, delay: float) -> None:
        self.at(key, self.now() + max(0.0, delay))

    def cancel(self, key: str) -> None:
        self.due.pop(key, None)

    def _push(self, key: str, when: float) -> None:
        self.due[key] = when
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, key))
        if self._changed is not None and self._heap[0][2] == key and self._heap[0][0] == when:
            self._changed.set()

    def start(self) -> None:
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="celigo-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        assert self._changed is not None
        while True:
            now = self.now()
            while self._heap and self._heap[0][0] <= now:
                when, _, key = heapq.heappop(self._heap)
                if self.due.get(key) != when:
                    continue  # replaced or cancelled
                del self.due[key]
                try:
                    self._fire(key)
                except Exception:  # a broken callback must not stop every other timed thing
                    log.exception("scheduler: firing %s failed", key)
            self._changed.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass
