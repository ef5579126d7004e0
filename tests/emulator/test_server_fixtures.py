"""The packaged pytest fixtures (celigo_testkit.kube.pytest_fixtures) give working emulators."""

from __future__ import annotations

import httpx

from celigo_testkit.kube import KubeEmulator


def test_function_fixture_is_fresh(kube_emulator: KubeEmulator) -> None:
    with httpx.Client(
        base_url=kube_emulator.url, headers={"Authorization": f"Bearer {kube_emulator.token}"}
    ) as c:
        assert c.get("/api/v1/namespaces/default/configmaps").json()["items"] == []
        assert (
            c.post("/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "x"}}).status_code
            == 201
        )


def test_session_fixture_is_shared(kube_emulator_session: KubeEmulator) -> None:
    assert kube_emulator_session.url.startswith("http://127.0.0.1:")
    assert kube_emulator_session.tls_url.startswith("https://127.0.0.1:")
