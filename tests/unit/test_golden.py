"""Golden connector pod templates: an operator upgrade must never roll every connector by surprise.

The pod template the operator builds for representative resources is compared with tests/golden/. When a
change alters it, regenerate the files (`UPDATE_GOLDEN=1 make test PYTEST_ARGS=tests/unit/test_golden.py`)
and add a CHANGELOG.md entry containing "rolls connector pods" and the new golden digest printed by the
failure: the test fails until both are there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from celigo_operator import api, manifests
from celigo_operator.config import OperatorConfig
from celigo_operator.manifests import ConnectorCredentials, Owner

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
OWNER = Owner(name="celigo", namespace="baton", uid="00000000-0000-4000-8000-000000000001")
CREDS = ConnectorCredentials("golden@tenant.conductor.one/pcc", "secret-token:conductorone.com:v1:golden", "golden-token")
KEY = b"golden-hmac-key-0123456789abcdef"

CASES = {
    "minimal": {"credentialsSecretRef": {"name": "celigo-credentials"}},
    "eu-provisioning": {"region": "eu", "provisioning": True, "credentialsSecretRef": {"name": "c"}},
    "everything": {
        "credentialsSecretRef": {"name": "c", "keys": {"clientId": "ID"}},
        "image": "public.ecr.aws/conductorone/baton-celigo@sha256:" + "a" * 64,
        "hostId": "prod-celigo",
        "healthServer": {"enabled": True, "port": 9000},
        "replicas": 2,
        "logLevel": "debug",
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "1Gi"}},
        "nodeSelector": {"pool": "tools"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools", "effect": "NoSchedule"}],
        "podLabels": {"team": "iam"},
        "podAnnotations": {"owner": "iam"},
        "imagePullSecrets": ["ecr"],
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    },
}


def template(spec: dict) -> dict:
    parsed = api.CeligoConnectorSpec.model_validate(spec)
    version = manifests.credentials_version(KEY, CREDS)
    dep = manifests.build_deployment(OWNER, parsed, OperatorConfig(), manifests.secret_name(OWNER.name, version), version)
    return dict(dep["spec"]["template"])


def rendered() -> dict[str, str]:
    return {name: yaml.safe_dump(template(spec), sort_keys=True) for name, spec in CASES.items()}


def digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:12]


def test_pod_templates_match_the_golden_files() -> None:
    files = rendered()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for name, text in files.items():
            (GOLDEN / f"{name}.pod-template.yaml").write_text(text)
    changed = [n for n, text in files.items() if not (GOLDEN / f"{n}.pod-template.yaml").exists()
               or (GOLDEN / f"{n}.pod-template.yaml").read_text() != text]
    assert not changed, (
        f"the connector pod template changed for {changed}: every running connector would roll on upgrade. "
        f"If intended, run UPDATE_GOLDEN=1 and add a CHANGELOG.md entry 'rolls connector pods (golden {digest(files)})'."
    )


def test_every_golden_change_is_announced_in_the_changelog() -> None:
    files = {p.name.removesuffix(".pod-template.yaml"): p.read_text() for p in GOLDEN.glob("*.pod-template.yaml")}
    assert set(files) == set(CASES)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    entry = f"golden {digest(files)}"
    lines = [line for line in changelog.splitlines() if entry in line]
    assert lines and all("rolls connector pods" in line for line in lines), (
        f"tests/golden changed: add a CHANGELOG.md line with 'rolls connector pods ({entry})' saying why"
    )


@pytest.mark.parametrize("name", list(CASES))
def test_operator_restart_inputs_do_not_change_templates(name: str) -> None:
    """Settings that are not part of the pod (ticks, timeouts, logging) never change the template."""
    spec = api.CeligoConnectorSpec.model_validate(CASES[name])
    version = manifests.credentials_version(KEY, CREDS)
    secret = manifests.secret_name(OWNER.name, version)
    base = manifests.build_deployment(OWNER, spec, OperatorConfig(), secret, version)["spec"]["template"]
    other = OperatorConfig(tick_interval=5, api_timeout=3, log_format="json", log_level="DEBUG", celigo_timeout=2,
                           status_refresh=60, leader_election=True, metrics_port=None)
    assert manifests.build_deployment(OWNER, spec, other, secret, version)["spec"]["template"] == base
