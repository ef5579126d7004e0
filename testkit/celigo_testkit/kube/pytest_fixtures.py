"""pytest fixtures for the emulator; enable with `pytest_plugins = ["celigo_testkit.kube.pytest_fixtures"]`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .emulator import EmulatorSettings, KubeEmulator


def fast_settings() -> EmulatorSettings:
    """Delays short enough for tests while keeping the same ordering of events."""
    return EmulatorSettings(rollout_delay=0.05, bookmark_interval=1.0, gc_interval=0.02)


@pytest.fixture
def kube_emulator() -> Iterator[KubeEmulator]:
    """A fresh emulator per test (state never leaks between tests)."""
    with KubeEmulator(settings=fast_settings()) as emu:
        yield emu


@pytest.fixture(scope="session")
def kube_emulator_session() -> Iterator[KubeEmulator]:
    """One emulator for a whole session, for read-mostly tests that isolate themselves by namespace."""
    with KubeEmulator(settings=fast_settings()) as emu:
        yield emu
