"""What a support engineer reads: the metrics page and `celigo-operator doctor` — right, and free of secrets."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from celigo_testkit.harness import wait_for

from support.world import GROUP, PLURAL, VERSION, World, world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    port = free_port()
    with world(Path(tmp_path_factory.mktemp("e2e-obs")), CELIGO_OPERATOR_METRICS_PORT=str(port)) as w:
        w.metrics_url = f"http://127.0.0.1:{port}/metrics"  # type: ignore[attr-defined]
        yield w


def canaries(w: World) -> list[str]:
    values = [s for s in w.secrets_seen if len(s) >= 16]
    return values + [base64.b64encode(v.encode()).decode() for v in values]


def doctor(w: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CELIGO_OPERATOR_CELIGO_BASE_URLS": ",".join(f"{k}={v}" for k, v in w.celigo.base_urls.items()),
        "CELIGO_OPERATOR_CONDUCTORONE_BASE_URL": w.c1.url,
    }
    return subprocess.run(
        [sys.executable, "-m", "celigo_operator", "doctor", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_metrics_page(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    w.wait_ready(ns)
    page = wait_for(
        lambda: (t := httpx.get(w.metrics_url).text) and f'celigoconnector_ready{{name="celigo",namespace="{ns}"}} 1.0' in t and t,
        60, what="ready gauge",
    )
    assert 'endpoint="/v1/tokenInfo"' in page and 'system="celigo"' in page
    assert "celigo_operator_reconcile_duration_seconds_bucket" in page
    assert "celigoconnector_last_successful_health_check_timestamp_seconds" in page
    for canary in canaries(w):
        assert canary not in page


def test_a_deleted_connector_leaves_no_series(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    w.wait_ready(ns)
    series = f'name="celigo",namespace="{ns}"'
    wait_for(lambda: series in httpx.get(w.metrics_url).text, 60, what="the connector's series")
    w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "celigo")
    wait_for(lambda: series not in httpx.get(w.metrics_url).text, 30, what="its series gone after deletion")


def test_doctor_from_resource_and_token(w: World, tmp_path: Path) -> None:
    ns = w.namespace()
    creds = w.credentials()
    w.put_secret(ns, creds)
    w.create_connector(ns)
    w.wait_ready(ns)
    result = doctor(w, "--from-resource", f"{ns}/celigo", "--kubeconfig", str(w.kubeconfig))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy" in result.stdout and "Inventory" in result.stdout and "FAIL" not in result.stdout

    token_file = tmp_path / "token"
    token_file.write_text(creds["BATON_CELIGO_ACCESS_TOKEN"])
    ok = doctor(w, "--region", "us", "--token-file", str(token_file))
    assert ok.returncode == 0, ok.stdout
    wrong = doctor(w, "--region", "eu", "--token-file", str(token_file))
    assert wrong.returncode == 1 and "WrongRegion" in wrong.stdout
    w.celigo.revoke_token(creds["BATON_CELIGO_ACCESS_TOKEN"])
    bad = doctor(w, "--region", "us", "--token-file", str(token_file))
    assert bad.returncode == 1 and "TokenRejected" in bad.stdout and "NOT healthy" in bad.stdout
    for out in (result, ok, wrong, bad):
        for canary in canaries(w):
            assert canary not in out.stdout + out.stderr


def test_doctor_explains_a_broken_resource(w: World) -> None:
    ns = w.namespace()
    w.create_connector(ns)
    w.wait_condition(ns, "celigo", "CredentialsValid", "False", "SecretNotFound")
    result = doctor(w, "--from-resource", f"{ns}/celigo", "--kubeconfig", str(w.kubeconfig))
    assert result.returncode == 1
    assert "SecretNotFound" in result.stdout and "does not exist" in result.stdout
