"""The fake serves what the real connector does (connector-contract.md, "Observed with a real build"),
and can run on its own for demos."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx

from celigo_testkit.fake_celigo import FakeCeligo


def test_connector_sync_pattern_is_answered_in_single_pages(fake_celigo: FakeCeligo) -> None:
    # baton-celigo: no Accept, no query string, one kept-alive connection, cannot follow Link headers,
    # every list body must be a top-level array.
    headers = {"Authorization": f"Bearer {fake_celigo.default_token()}", "User-Agent": "baton-sdk/v0.1.26"}
    base = fake_celigo.url_for("us")
    with httpx.Client(headers=headers) as connector:
        connector.headers.pop("Accept", None)
        integrations = connector.get(base + "/v1/integrations")
        responses = [integrations, connector.get(base + "/v1/ashares")]
        responses += [connector.get(f"{base}/v1/integrations/{i['_id']}/ashares") for i in integrations.json()]
        responses += [connector.get(base + "/v1/ashares") for _ in range(3)]  # once per role
    n = len(integrations.json())
    assert fake_celigo.count() == 5 + n
    for response in responses:
        assert response.status_code == 200 and isinstance(response.json(), list)
        assert "link" not in response.headers
    assert len(responses[1].json()) == 42
    assert len({r.peer for r in fake_celigo.requests}) == 1
    assert all(r.query == {} and "accept" not in r.headers for r in fake_celigo.requests)
    assert fake_celigo.requests[0].headers["user-agent"] == "baton-sdk/v0.1.26"


def test_runs_standalone_with_a_chosen_token() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "celigo_testkit", "fake-celigo", "--token", "demo-token-123", "--users", "5"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["tokens"]["us"] == "demo-token-123" and set(info["base_urls"]) == {"us", "eu"}
        r = httpx.get(info["base_urls"]["us"] + "/v1/ashares", headers={"Authorization": "Bearer demo-token-123"})
        assert r.status_code == 200 and len(r.json()) == 5
        eu = httpx.get(info["base_urls"]["eu"] + "/v1/tokenInfo",
                       headers={"Authorization": f"Bearer {info['tokens']['eu']}"})
        assert eu.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
