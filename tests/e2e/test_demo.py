"""`DEMO_EXIT=1 make demo` on this checkout: what a user sees, checked line by line.

On the emulator whatever CELIGO_TEST_KUBE says: `make demo` starts its own emulator (what a user without a
cluster runs), and that is what this test checks."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from celigo_testkit.fake_celigo import FakeCeligo

ROOT = Path(__file__).resolve().parents[2]


def seeded_users() -> int:
    with FakeCeligo() as celigo:
        return len(celigo.account("us").ashares())


def test_make_demo_shows_the_operator_working() -> None:
    env = {**os.environ, "DEMO_EXIT": "1"}
    result = subprocess.run(
        ["make", "--no-print-directory", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "customresourcedefinition.apiextensions.k8s.io/celigoconnectors.celigo-operator.io created" in out
    assert "celigoconnector.celigo-operator.io/celigo created" in out
    assert out.count("condition met") >= 3

    # `kubectl get celigoconnectors` with our columns, Ready and the fake account's user count.
    header = re.search(r"^NAME\s+READY\s+REASON\s+REGION\s+USERS\s+CHECKED\s+AGE\s*$", out, re.M)
    assert header, out
    row = re.search(r"^celigo\s+True\s+Ready\s+us\s+(\d+)\s+\S+\s+\S+\s*$", out, re.M)
    assert row and int(row.group(1)) == seeded_users()
    assert re.search(r"^NAME\s+READY\s+REASON\s+REGION\s+USERS\s+CHECKED\s+AGE\s+MESSAGE\s+IMAGE", out, re.M)

    # The children, owned and shown by kubectl.
    assert re.search(r"^secret/celigo-baton-celigo-[0-9a-f]{10}\s+Opaque\s+3", out, re.M)
    assert re.search(r"^deployment.apps/celigo-baton-celigo\s+1/1\s+1\s+1", out, re.M)
    assert re.search(r"^pod/celigo-baton-celigo-\S+\s+1/1\s+Running", out, re.M)
    assert re.search(r"^CredentialsValid\tTrue\tValid", out, re.M)

    # Scenes: revoked token, recovery, rejected rotation that keeps the pods on the good set.
    assert re.search(r"^celigo\s+False\s+TokenRejected\s+us", out, re.M)
    assert "NewCredentialsRejected" in out
    assert "Deployment pod template unchanged (pods still on the last good credentials): True" in out
    assert "export KUBECONFIG=" in out and "DEMO FAILED" not in out
    # Nothing secret is printed: the demo's token values never appear.
    assert "secret-token:conductorone.com:v1:" not in out
