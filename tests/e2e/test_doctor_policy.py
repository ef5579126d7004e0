"""`celigo-operator doctor --policy`: before an upgrade, list the stored CeligoConnectors this release's pod
policy would refuse (no operator running: they were accepted by an older one), with reasons, and check again
with the settings that would widen the policy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("doctor-policy")), start_operator=False) as w:
        yield w


def doctor(w: World, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELIGO_OPERATOR_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "celigo_operator",
            "doctor",
            "--policy",
            "--kubeconfig",
            str(w.kubeconfig),
            *args,
        ],
        env={**env, **settings},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_doctor_lists_the_connectors_the_policy_would_refuse(w: World) -> None:
    a, b = w.namespace("doctor-a"), w.namespace("doctor-b")
    w.create_connector(a, "good", args=["--skip-full-sync"], extraEnv=[{"name": "TZ", "value": "UTC"}])
    w.create_connector(a, "svc", args=["service"])
    w.create_connector(a, "leaky", args=["--client-secret=s3cr3t-arg"])
    w.create_connector(b, "github", image="ghcr.io/conductorone/baton-github:latest")
    w.create_connector(b, "proxied", extraEnv=[{"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"}])

    everywhere = doctor(w)
    assert everywhere.returncode == 1, everywhere.stdout + everywhere.stderr
    fails = {line.split()[1]: line for line in everywhere.stdout.splitlines() if "[FAIL]" in line}
    assert set(fails) == {f"{a}/svc", f"{a}/leaky", f"{b}/github", f"{b}/proxied"}, everywhere.stdout
    assert "InvalidSpec: spec.args: `service` is refused" in fails[f"{a}/svc"]
    assert "InvalidSpec: spec.args: --client-secret is refused" in fails[f"{a}/leaky"]
    assert "ImageNotAllowed: spec.image ghcr.io/conductorone/baton-github:latest" in fails[f"{b}/github"]
    assert "InvalidSpec: spec.extraEnv: HTTPS_PROXY is refused" in fails[f"{b}/proxied"]
    assert "s3cr3t-arg" not in everywhere.stdout and "proxy.corp" not in everywhere.stdout
    assert (
        "4 would be refused" in everywhere.stdout and "CELIGO_OPERATOR_ALLOWED_EXTRA_ENV" in everywhere.stdout
    )

    one = doctor(w, "-n", b)
    assert one.returncode == 1
    assert {line.split()[1] for line in one.stdout.splitlines() if "[FAIL]" in line} == {
        f"{b}/github",
        f"{b}/proxied",
    }

    widened = doctor(
        w,
        "-n",
        b,
        CELIGO_OPERATOR_ALLOWED_EXTRA_ENV="HTTPS_PROXY",
        CELIGO_OPERATOR_IMAGE_ALLOWLIST="public.ecr.aws/conductorone/baton-celigo,ghcr.io/conductorone/baton-github",
    )
    assert widened.returncode == 0, widened.stdout
    assert "none would be refused" in widened.stdout


def test_doctor_reports_settings_that_would_stop_the_operator(w: World) -> None:
    ns = w.namespace("doctor-c")
    w.create_connector(ns, "good")
    result = doctor(w, "-n", ns, CELIGO_OPERATOR_IMAGE_ALLOWLIST="ghcr.io/conductorone/")
    assert result.returncode == 1
    assert "operator settings  CELIGO_OPERATOR_IMAGE_ALLOWLIST entry 'ghcr.io/conductorone/'" in result.stdout
