from __future__ import annotations

from collections.abc import Iterator

import pytest

from celigo_testkit import controlplane
from celigo_testkit.podsim import PodSimulator


@pytest.fixture(scope="session")
def cp() -> controlplane.ControlPlane:
    try:
        return controlplane.shared()
    except controlplane.AssetsMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def sim(cp: controlplane.ControlPlane) -> Iterator[PodSimulator]:
    from support.realkube import shared_simulator

    yield shared_simulator(cp)
