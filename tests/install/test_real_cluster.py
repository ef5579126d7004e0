"""The shipped install paths on a real kube-apiserver (celigo_testkit.controlplane, with the simulated node):
real Helm (helm-python-sdk's `Config`) installs, upgrades to two replicas with leader election and
uninstalls the chart; `kubectl apply -k` creates every deploy/ flavour and `kubectl delete -k` removes it.
The server does what the emulator cannot: admission of every object (Pod Security `restricted` on the
operator's namespace included), RBAC objects that must be valid to be stored, and the controller-manager
turning the operator's Deployment into a ReplicaSet and pods that the simulated node runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import pytest

from celigo_testkit import controlplane
from celigo_testkit.harness import Kubectl, wait_for
from install.installkit import CHART, DEPLOY

from support.realkube import shared_simulator

pytestmark = [pytest.mark.realkube, pytest.mark.slow]
CRD = "celigoconnectors.celigo-operator.io"


@pytest.fixture(scope="module")
def cp() -> controlplane.ControlPlane:
    cp = controlplane.shared()
    shared_simulator(cp)
    with cp.http() as h:  # e2e worlds keep the CRD between them; these installs bring their own
        _delete_crd_and_wait(h)
    return cp


def _get(h: httpx.Client, path: str) -> dict[str, Any] | None:
    resp = h.get(path)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    return dict(resp.json())


def _available(h: httpx.Client, ns: str, name: str, replicas: int) -> bool:
    dep = _get(h, f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    status = (dep or {}).get("status") or {}
    return bool(dep) and dep["spec"]["replicas"] == replicas and status.get("availableReplicas") == replicas and (
        status.get("updatedReplicas") == replicas
    )


def _delete_crd_and_wait(h: httpx.Client) -> None:
    h.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}")
    wait_for(lambda: _get(h, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}") is None, 120,
             what="CRD gone")


def _delete_namespace_and_wait(h: httpx.Client, ns: str) -> None:
    h.delete(f"/api/v1/namespaces/{ns}")
    wait_for(lambda: _get(h, f"/api/v1/namespaces/{ns}") is None, 180, what=f"namespace {ns} gone")


def test_helm_install_upgrade_uninstall(cp: controlplane.ControlPlane) -> None:
    ns = f"helm-{uuid.uuid4().hex[:6]}"
    release = "celigo-operator"
    cfg = helm.Config(kubeconfig_path=str(cp.kubeconfig), namespace=ns)
    chart = helm.Chart.load(CHART)
    with cp.http() as h:
        try:
            rel = cfg.install(chart, release, {}, namespace=ns, create_namespace=True, timeout=120)
            assert rel is not None
            wait_for(lambda: _available(h, ns, release, 1), 120, what="operator Deployment available (1)")
            assert _get(h, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}") is not None

            cfg.upgrade(chart, release, {"replicaCount": 2, "leaderElection": {"enabled": True}}, namespace=ns,
                        timeout=120)
            wait_for(lambda: _available(h, ns, release, 2), 120, what="operator Deployment available (2)")
            dep = _get(h, f"/apis/apps/v1/namespaces/{ns}/deployments/{release}")
            assert dep is not None
            env = {e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0].get("env") or []}
            assert any("LEADER" in k and v not in (None, "", "false") for k, v in env.items()), env
            roles = h.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles").json()["items"]
            assert any(
                "leases" in (rule.get("resources") or []) for role in roles for rule in role.get("rules") or []
            ), "the Lease Role is installed with leader election"
            history = cfg.history(release)
            assert len(list(history)) == 2

            cfg.uninstall(release, timeout=120)
            wait_for(lambda: _get(h, f"/apis/apps/v1/namespaces/{ns}/deployments/{release}") is None, 60,
                     what="operator Deployment removed")
            wait_for(lambda: not h.get(f"/api/v1/namespaces/{ns}/pods").json()["items"], 120,
                     what="operator pods garbage-collected")
            # helm.sh/resource-policy: keep
            assert _get(h, f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD}") is not None
        finally:
            try:
                cfg.uninstall(release, ignore_not_found=True, timeout=60)
            finally:
                cfg.close()
                _delete_crd_and_wait(h)
                _delete_namespace_and_wait(h, ns)


@pytest.mark.parametrize("flavour", ["", "namespaced", "ha"])
def test_kubectl_apply_k_every_deploy_flavour(cp: controlplane.ControlPlane, flavour: str, tmp_path: Path) -> None:
    kubectl = Kubectl(cp.kubeconfig, binary=cp.assets.kubectl)
    path = DEPLOY / flavour if flavour else DEPLOY
    replicas = 2 if flavour == "ha" else 1
    with cp.http() as h:
        try:
            if flavour == "namespaced":  # the watched namespace is the user's; the flavour only grants in it
                h.post("/api/v1/namespaces", json={"metadata": {"name": "celigo"}})
            out = kubectl("apply", "-k", str(path), "--server-side", "--field-manager=celigo-test")
            assert "serverside-applied" in out, out
            wait_for(lambda: _available(h, "celigo-operator", "celigo-operator", replicas), 120,
                     what=f"deploy/{flavour} operator Deployment available")
            ns = _get(h, "/api/v1/namespaces/celigo-operator")
            assert ns is not None and ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        finally:
            kubectl.run("delete", "-k", str(path), "--ignore-not-found", "--wait=true", check=False, timeout=300)
            _delete_crd_and_wait(h)
            for ns_name in ("celigo-operator", "celigo"):
                if _get(h, f"/api/v1/namespaces/{ns_name}") is not None:
                    _delete_namespace_and_wait(h, ns_name)
