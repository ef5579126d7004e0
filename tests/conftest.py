"""The whole suite: the real control plane a test process started (each xdist worker starts its own) is
stopped when the session ends, not left to interpreter exit: an xdist worker need not run atexit handlers."""

from __future__ import annotations

import pytest

from support.realkube import stop_shared


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
