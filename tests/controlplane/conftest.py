from __future__ import annotations

from collections.abc import Iterator

import pytest

from celigo_testkit import controlplane
from celigo_testkit.podsim import PodSimulator

from support.realkube import shared_control_plane, shared_simulator


@pytest.fixture(scope="session")
def cp() -> controlplane.ControlPlane:
    try:
        return shared_control_plane()  # the e2e suite's, if it started first, or started as e2e worlds want it
    except controlplane.AssetsMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def sim(cp: controlplane.ControlPlane) -> Iterator[PodSimulator]:
    yield shared_simulator(cp)
