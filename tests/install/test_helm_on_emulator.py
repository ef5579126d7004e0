"""The chart installed, upgraded and uninstalled by real Helm 4 (helm-python-sdk's Config) against the emulator.

Users install with Helm, so this runs Helm's own install/upgrade/uninstall (its kube client, its release
storage in Secrets, its resource policy) end to end: install the defaults, upgrade to two replicas with
leader election (the Lease Role appears, replicas follow), uninstall — everything goes except the
CeligoConnector CRD, which the chart keeps (helm.sh/resource-policy: keep) so that uninstalling never deletes
users' connectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import helm_python as helm
import pytest

from celigo_testkit.harness import wait_for
from celigo_testkit.kube import KubeEmulator

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "celigo-operator"
NS = "celigo-system"
RELEASE = "celigo"
FULLNAME = "celigo-celigo-operator"
CRD = "celigoconnectors.celigo-operator.io"
# group_resource keys of what the chart may create (the store's names)
KINDS = (
    "deployments.apps",
    "replicasets.apps",
    "pods",
    "services",
    "serviceaccounts",
    "secrets",
    "configmaps",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
    "poddisruptionbudgets.policy",
    "networkpolicies.networking.k8s.io",
    "leases.coordination.k8s.io",
)


def wait_available(emulator: KubeEmulator, replicas: int) -> None:
    wait_for(
        lambda: (emulator.get_object("deployments.apps", NS, FULLNAME) or {}).get("status", {}).get("availableReplicas")
        == replicas,
        20, what=f"{replicas} available replicas",
    )


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as emu:
        yield emu


@pytest.fixture
def cfg(emulator: KubeEmulator, tmp_path: Path) -> Iterator[helm.Config]:
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    with helm.Config(kubeconfig_path=kubeconfig, namespace=NS) as config:
        yield config


def release_objects(emu: KubeEmulator) -> dict[str, list[str]]:
    """Every object in the release's namespace or labelled as the release's, by kind (defaults excluded)."""
    out: dict[str, list[str]] = {}
    for resource in KINDS:
        for obj in emu.list_objects(resource):
            meta = obj["metadata"]
            labels = meta.get("labels") or {}
            mine = meta.get("namespace") == NS or labels.get("app.kubernetes.io/instance") == RELEASE
            if not mine or (resource == "serviceaccounts" and meta["name"] == "default"):
                continue
            out.setdefault(resource, []).append(meta["name"])
    return {k: sorted(v) for k, v in out.items()}


def test_install_upgrade_uninstall_keeps_only_the_crd(emulator: KubeEmulator, cfg: helm.Config) -> None:
    installed = cfg.install(str(CHART), RELEASE, {}, namespace=NS, create_namespace=True)
    assert (
        installed["info"]["status"] == "deployed"
        if "info" in installed
        else installed["status"] == "deployed"
    )
    deployment = emulator.get_object("deployments.apps", NS, FULLNAME)
    assert deployment is not None and deployment["spec"]["replicas"] == 1
    assert emulator.get_object("customresourcedefinitions.apiextensions.k8s.io", "", CRD) is not None
    assert emulator.get_object("clusterroles.rbac.authorization.k8s.io", "", FULLNAME) is not None
    objects = release_objects(emulator)
    assert "sh.helm.release.v1.celigo.v1" in objects["secrets"]
    assert not any(name.endswith("-leader") for name in objects.get("roles.rbac.authorization.k8s.io", []))
    wait_available(emulator, 1)

    upgraded = cfg.upgrade(
        str(CHART),
        RELEASE,
        {"replicaCount": 2, "leaderElection": {"enabled": True}},
        namespace=NS,
    )
    assert (upgraded["status"], upgraded["revision"]) == ("deployed", 2)
    deployment = emulator.get_object("deployments.apps", NS, FULLNAME)
    assert deployment is not None and deployment["spec"]["replicas"] == 2
    objects = release_objects(emulator)
    assert f"{FULLNAME}-leader" in objects["roles.rbac.authorization.k8s.io"]
    assert f"{FULLNAME}-leader" in objects["rolebindings.rbac.authorization.k8s.io"]
    assert {"sh.helm.release.v1.celigo.v1", "sh.helm.release.v1.celigo.v2"} <= set(objects["secrets"])
    wait_available(emulator, 2)

    result = cfg.uninstall(RELEASE)
    assert result["release"]["status"] == "uninstalled"
    assert f"[CustomResourceDefinition] {CRD}" in result["info"]
    # Helm deletes what it created; the garbage collector takes the ReplicaSets and Pods
    wait_for(lambda: release_objects(emulator) == {}, 20, what="the release's objects gone")
    crd = emulator.get_object("customresourcedefinitions.apiextensions.k8s.io", "", CRD)
    assert crd is not None and not crd["metadata"].get("deletionTimestamp")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert cfg.list() == []
