"""Reading a Retry-After header, for every outside-system client (Celigo and ConductorOne): a leaf module."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC

__all__ = ["parse_retry_after"]


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions accepted) or an HTTP date; None if absent
    or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - now()
    if seconds != seconds or seconds == float("inf"):  # NaN / inf
        return None
    return max(0.0, seconds)
