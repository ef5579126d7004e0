"""The whole suite: the real control plane a test process started (each xdist worker starts its own) is
stopped when the session ends, not left to interpreter exit: an xdist worker need not run atexit handlers.
In an xdist worker, the test files are ordered longest first (support/schedule.py), the order the controller
hands them out in under `--dist loadfile --no-loadscope-reorder` (Makefile)."""

from __future__ import annotations

import pytest

from support.realkube import stop_shared
from support.schedule import longest_first, recorded


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if hasattr(config, "workerinput"):  # every worker sorts its identical collection the same way
        longest_first(items, recorded())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
