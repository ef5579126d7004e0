"""deploy/: both kustomizations build, every object is valid for Kubernetes K8S_VERSION, the operator pod is
restricted, the CRD is the one in crds/, and `kubectl apply -k deploy/` is accepted by the API emulator."""

from __future__ import annotations

import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from celigo_operator.config import ENV_PREFIX, OperatorConfig
from celigo_testkit.harness import KUBECTL, Kubectl
from celigo_testkit.kube import KubeEmulator
from install.installkit import (
    CRD_SOURCE,
    DEPLOY,
    crd_errors,
    crd_source,
    find,
    k8s_validate,
    kustomize,
    load_all,
    the,
)

from support.podsecurity import restricted_violations

FLAVOURS = {"cluster-wide": DEPLOY, "namespaced": DEPLOY / "namespaced"}


@pytest.fixture(scope="module", params=list(FLAVOURS))
def built(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return kustomize(FLAVOURS[request.param])

MONITORING = DEPLOY / "monitoring"


def deploy_files() -> list[Path]:
    """Every Kubernetes manifest under deploy/: not kustomization files, and not deploy/monitoring, which holds a
    Prometheus rules file (checked by promtool in tests/monitoring) and a Grafana dashboard."""
    return sorted(
        p for p in DEPLOY.rglob("*.yaml")
        if p.name != "kustomization.yaml" and MONITORING not in p.parents
    )


def test_every_built_object_is_valid_kubernetes(built: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in built}
    assert {"CustomResourceDefinition", "Namespace", "ServiceAccount", "Deployment", "Service"} <= kinds
    for obj in built:
        k8s_validate(obj)
    assert not find(built, "ConfigMap", "watch-namespace"), "build-time settings must not reach the cluster"


@pytest.mark.parametrize("path", deploy_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_file_in_deploy_is_valid(path: Path) -> None:
    for obj in load_all(path.read_text()):
        if obj["kind"] == "CeligoConnector":
            assert crd_errors(obj) == []
        else:
            k8s_validate(obj)


def test_the_crd_is_the_one_in_crds(built: list[dict[str, Any]]) -> None:
    assert (DEPLOY / "crds" / "celigoconnectors.yaml").read_bytes() == CRD_SOURCE.read_bytes(), (
        "deploy/crds/celigoconnectors.yaml differs from crds/: run deploy/sync-crds.sh"
    )
    assert the(built, "CustomResourceDefinition") == crd_source()


def test_operator_deployment(built: list[dict[str, Any]]) -> None:
    dep = the(built, "Deployment", "celigo-operator")
    assert dep["metadata"]["namespace"] == "celigo-operator"
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is True and pod["serviceAccountName"] == "celigo-operator"
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probe = container["livenessProbe"]["httpGet"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CELIGO_OPERATOR_LIVENESS_ENDPOINT"]["value"] == f"http://0.0.0.0:{ports[probe['port']]}{probe['path']}"
    assert probe["path"] == "/healthz" and ports["liveness"] == 8080
    assert env["CELIGO_OPERATOR_METRICS_PORT"]["value"] == str(ports["metrics"])
    assert env["CELIGO_OPERATOR_LOG_FORMAT"]["value"] == "json"
    assert env["CELIGO_OPERATOR_OPERATOR_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    known = {ENV_PREFIX + f.name.upper() for f in fields(OperatorConfig)}
    assert set(env) <= known, f"unknown settings: {set(env) - known}"
    service = the(built, "Service", "celigo-operator-metrics")
    assert service["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_namespaced_flavour_watches_the_namespace_set_in_one_place(tmp_path: Path) -> None:
    """The documented customisation: edit the one line in watch-namespace.yaml, everything follows."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    setting = copy / "namespaced" / "watch-namespace.yaml"
    text = setting.read_text()
    assert "  namespace: celigo\n" in text
    setting.write_text(text.replace("  namespace: celigo\n", "  namespace: team-a\n"))
    objects = kustomize(copy / "namespaced")
    args = the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["run", "--namespace", "team-a"]
    assert the(objects, "Role", "celigo-operator-watch")["metadata"]["namespace"] == "team-a"
    assert the(objects, "RoleBinding", "celigo-operator-watch")["metadata"]["namespace"] == "team-a"
    assert "WATCHED-NAMESPACE" not in yaml.safe_dump_all(objects)
    assert not find(objects, "ClusterRole", "celigo-operator"), "no cluster-wide data access in this flavour"


def test_samples_kustomization_builds() -> None:
    objects = kustomize(DEPLOY / "samples")
    assert {o["kind"] for o in objects} == {"Secret", "CeligoConnector"}


def _kubectl_reaches(kubectl: Kubectl) -> str | None:
    """None when kubectl can talk to the emulator; else why not (checked at runtime, not assumed)."""
    result = kubectl.run("get", "namespaces", "-o", "name", check=False, timeout=30)
    if result.returncode == 0:
        return None
    return f"kubectl cannot reach the API emulator: {result.stderr.strip()[:300]}"


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which(KUBECTL) is None, reason="kubectl is not installed")
def test_kubectl_apply_k_deploy_is_accepted(tmp_path: Path) -> None:
    with KubeEmulator() as emu:
        kubectl = Kubectl(emu.write_kubeconfig(tmp_path / "kubeconfig"))
        reason = _kubectl_reaches(kubectl)
        if reason is not None:
            pytest.skip(reason)
        out = kubectl("apply", "-k", str(DEPLOY))
        assert "customresourcedefinition.apiextensions.k8s.io/celigoconnectors.celigo-operator.io created" in out
        assert "clusterrole.rbac.authorization.k8s.io/celigo-operator created" in out
        assert "deployment.apps/celigo-operator created" in out
        # Applying again changes nothing: the manifests are stable under the server's defaulting.
        again = kubectl("apply", "-k", str(DEPLOY))
        assert "configured" not in again and "created" not in again, again
        crd = kubectl.json("get", "crd", "celigoconnectors.celigo-operator.io")
        assert crd["spec"]["names"]["kind"] == "CeligoConnector"
        dep = kubectl.json("get", "deployment", "celigo-operator", "-n", "celigo-operator")
        assert dep["spec"]["strategy"]["type"] == "Recreate"

        kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: celigo}\n")
        out = kubectl("apply", "-k", str(DEPLOY / "namespaced"))
        assert "role.rbac.authorization.k8s.io/celigo-operator-watch created" in out
        assert "deployment.apps/celigo-operator configured" in out  # now watching one namespace
        assert kubectl.json("get", "role", "celigo-operator-watch", "-n", "celigo")["rules"]
        args = kubectl.json("get", "deployment", "celigo-operator", "-n", "celigo-operator")["spec"]["template"]
        assert args["spec"]["containers"][0]["args"] == ["run", "--namespace", "celigo"]

        # The documented next step: the samples, accepted by the CRD's server-side validation.
        out = kubectl("apply", "-n", "celigo", "-k", str(DEPLOY / "samples"))
        assert "celigoconnector.celigo-operator.io/celigo created" in out and "secret/celigo-credentials created" in out
