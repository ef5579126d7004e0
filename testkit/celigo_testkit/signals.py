"""Wait for SIGINT/SIGTERM in a long-running testkit command, whichever thread the kernel delivers it to.

Python runs signal handlers in the main thread, but the kernel may deliver the signal to a server thread;
then a main thread blocked in ``Event.wait()`` without a timeout is never woken and the process never
exits. Waiting in short slices lets the handler run within half a second whoever received the signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["wait_for_stop_signal"]


def wait_for_stop_signal(alive: Callable[[], bool] = lambda: True, poll: float = 0.5) -> None:
    """Block until SIGINT or SIGTERM arrives (or ``alive()`` turns false); restore the old handlers."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(poll) and alive():
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
