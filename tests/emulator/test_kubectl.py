"""kubectl 1.32 against the emulator: discovery, OpenAPI, Tables, apply/diff, rollout, wait, describe, -k."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from celigo_testkit.kube import KubeEmulator

from .conftest import REPO, WIDGET_CRD_YAML, WIDGETS, deployment, fast_settings, wait_for

KUBECTL = "/usr/bin/kubectl"
pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which(KUBECTL) is None, reason="kubectl not installed"),
]


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KUBECONFIG": str(kubeconfig),
            "HOME": str(home),
        }

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=60
        )
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        return self.run(*args, stdin=stdin).stdout


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeEmulator, Kubectl, httpx.Client]]:
    with KubeEmulator(settings=fast_settings(watch_timeout_scale=1.0)) as emu:
        kc = emu.write_kubeconfig(tmp_path / "kubeconfig")
        (tmp_path / "home").mkdir()
        with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}) as api:
            yield emu, Kubectl(kc, tmp_path / "home"), api


WIDGET_YAML = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: m\n"


def test_apply_crd_and_custom_resource_with_columns(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    _, kubectl, _ = kube
    assert "created" in kubectl("apply", "-f", "-", stdin=WIDGET_CRD_YAML)
    assert kubectl("apply", "-f", "-", stdin=WIDGET_YAML).strip() == "widget.example.com/w1 created"
    assert kubectl("apply", "-f", "-", stdin=WIDGET_YAML).strip() == "widget.example.com/w1 unchanged"
    out = kubectl("get", "widgets").splitlines()
    assert out[0].split() == ["NAME", "SIZE", "READY", "AGE"]
    assert out[1].split()[:2] == ["w1", "m"]
    assert kubectl("get", "wd", "w1", "-o", "jsonpath={.spec.color}") == "blue"  # short name, default
    obj = yaml.safe_load(kubectl("get", "widget", "w1", "-o", "yaml"))
    assert obj["spec"] == {"size": "m", "replicas": 1, "color": "blue"}
    assert obj["metadata"]["uid"]
    assert "w1" in kubectl("get", "all")  # category


def test_apply_validation_errors(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    _, kubectl, _ = kube
    kubectl("apply", "-f", "-", stdin=WIDGET_CRD_YAML)
    bad = kubectl.run("apply", "-f", "-", stdin=WIDGET_YAML.replace("size: m", "size: xl"), check=False)
    assert bad.returncode != 0
    assert 'Unsupported value: "xl": supported values: "s", "m", "l"' in bad.stderr
    unknown = kubectl.run("apply", "-f", "-", stdin=WIDGET_YAML + "  extra: 1\n", check=False)
    assert unknown.returncode != 0
    assert 'unknown field "spec.extra"' in unknown.stderr


def test_explain_custom_and_builtin(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    _, kubectl, _ = kube
    kubectl("apply", "-f", "-", stdin=WIDGET_CRD_YAML)
    out = kubectl("explain", "widgets.spec")
    assert "Desired state of the widget." in out
    assert "How big the widget is." in out
    assert "size\t<string> -required-" in out
    assert "replicas" in kubectl("explain", "deployment.spec")


def test_deployment_apply_rollout_describe_wait_delete(
    kube: tuple[KubeEmulator, Kubectl, httpx.Client],
) -> None:
    _, kubectl, api = kube
    manifest = yaml.safe_dump(deployment("web", replicas=2))
    assert kubectl("apply", "-f", "-", stdin=manifest).strip() == "deployment.apps/web created"
    assert 'deployment "web" successfully rolled out' in kubectl(
        "rollout", "status", "deploy/web", "--timeout=30s"
    )
    assert kubectl("apply", "-f", "-", stdin=manifest).strip() == "deployment.apps/web unchanged"
    lines = kubectl("get", "deploy").splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:4] == ["web", "2/2", "2", "2"]
    pods = kubectl("get", "pods", "-l", "app=web").splitlines()
    assert pods[0].split()[:4] == ["NAME", "READY", "STATUS", "RESTARTS"]
    assert len(pods) == 3 and all(p.split()[1:3] == ["1/1", "Running"] for p in pods[1:])
    described = kubectl("describe", "deployment", "web")
    assert "NewReplicaSetAvailable" in described and "2 available" in described
    assert "condition met" in kubectl("wait", "--for=condition=Available", "deploy/web", "--timeout=10s")
    assert 'deployment.apps "web" deleted' in kubectl("delete", "deployment", "web")
    wait_for(lambda: not api.get("/api/v1/namespaces/default/pods").json()["items"])


def test_rollout_status_follows_a_template_change(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    _, kubectl, _ = kube
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deployment("web", replicas=2)))
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    kubectl("set", "image", "deploy/web", "main=nginx:1.28")
    assert "successfully rolled out" in kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    assert (
        kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        == "nginx:1.28"
    )


def test_crash_loop_visible_in_get_pods(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    emu, kubectl, _ = kube
    emu.workload.crash_loop("default", "bad")
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deployment("bad", replicas=1)))
    wait_for(lambda: "CrashLoopBackOff" in kubectl("get", "pods"))


def test_wait_for_custom_condition_and_describe_events(
    kube: tuple[KubeEmulator, Kubectl, httpx.Client],
) -> None:
    _, kubectl, api = kube
    kubectl("apply", "-f", "-", stdin=WIDGET_CRD_YAML)
    kubectl("apply", "-f", "-", stdin=WIDGET_YAML)
    w = api.get(f"{WIDGETS}/w1").json()
    api.post(
        "/api/v1/namespaces/default/events",
        json={
            "metadata": {"generateName": "w1."},
            "type": "Normal",
            "reason": "Provisioned",
            "message": "all good",
            "involvedObject": {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "name": "w1",
                "namespace": "default",
                "uid": w["metadata"]["uid"],
            },
            "source": {"component": "test"},
            "count": 1,
        },
    )

    def set_ready() -> None:
        api.patch(
            f"{WIDGETS}/w1/status",
            headers={"Content-Type": "application/merge-patch+json"},
            json={
                "status": {
                    "conditions": [{"type": "Ready", "status": "True", "reason": "Done", "message": "ok"}]
                }
            },
        )

    t = threading.Timer(0.3, set_ready)
    t.start()
    out = kubectl("wait", "--for=condition=Ready", "widget/w1", "--timeout=20s")
    t.join()
    assert "condition met" in out
    described = kubectl("describe", "widget", "w1")
    assert "Provisioned" in described and "all good" in described
    assert kubectl("get", "widgets").splitlines()[1].split()[:3] == ["w1", "m", "True"]


def test_apply_kustomization_and_delete(
    kube: tuple[KubeEmulator, Kubectl, httpx.Client], tmp_path: Path
) -> None:
    _, kubectl, api = kube
    k = tmp_path / "k"
    k.mkdir()
    (k / "kustomization.yaml").write_text(
        "namespace: kt\nresources: [ns.yaml, rbac.yaml]\nconfigMapGenerator:\n- name: cfg\n  literals: [a=b]\n"
    )
    (k / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: kt}\n")
    (k / "rbac.yaml").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: op}\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: op}\n"
        "rules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: op}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: op}\n"
        "subjects: [{kind: ServiceAccount, name: op}]\n"
    )
    out = kubectl("apply", "-k", str(k))
    assert "namespace/kt created" in out and "rolebinding.rbac.authorization.k8s.io/op created" in out
    again = kubectl("apply", "-k", str(k))
    assert again.count("unchanged") == 5, again
    assert api.get("/apis/rbac.authorization.k8s.io/v1/namespaces/kt/roles/op").status_code == 200
    kubectl("delete", "-k", str(k))
    wait_for(lambda: api.get("/api/v1/namespaces/kt").status_code == 404)


def test_project_crd_with_kubectl(kube: tuple[KubeEmulator, Kubectl, httpx.Client]) -> None:
    _, kubectl, _ = kube
    crd_path = REPO / "crds" / "celigoconnectors.yaml"
    assert "created" in kubectl("apply", "-f", str(crd_path))
    assert "unchanged" in kubectl("apply", "-f", str(crd_path))
    crd = yaml.safe_load(crd_path.read_text())
    plural = crd["spec"]["names"]["plural"]
    out = kubectl("explain", f"{plural}.spec")
    assert "FIELDS:" in out
    assert "No resources found" in kubectl.run("get", plural, "-A").stderr


def test_kubectl_create_builtin_kinds_sent_as_protobuf(
    kube: tuple[KubeEmulator, Kubectl, httpx.Client],
) -> None:
    """kubectl create uses typed clients that POST application/vnd.kubernetes.protobuf."""
    import base64

    _, kubectl, api = kube
    kubectl("create", "namespace", "foo")
    kubectl("create", "configmap", "cfg", "-n", "foo", "--from-literal=a=b", "--from-literal=empty=")
    kubectl("create", "secret", "generic", "creds", "-n", "foo", "--from-literal=token=s3cr3t")
    kubectl("create", "serviceaccount", "bot", "-n", "foo")
    kubectl("create", "role", "r", "-n", "foo", "--verb=get,list", "--resource=configmaps")
    kubectl("create", "rolebinding", "rb", "-n", "foo", "--role=r", "--serviceaccount=foo:bot")
    cm = api.get("/api/v1/namespaces/foo/configmaps/cfg").json()
    assert cm["data"] == {"a": "b", "empty": ""}
    assert cm["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
    secret = api.get("/api/v1/namespaces/foo/secrets/creds").json()
    assert base64.b64decode(secret["data"]["token"]) == b"s3cr3t" and secret["type"] == "Opaque"
    role = api.get("/apis/rbac.authorization.k8s.io/v1/namespaces/foo/roles/r").json()
    assert role["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]}]
    rb = api.get("/apis/rbac.authorization.k8s.io/v1/namespaces/foo/rolebindings/rb").json()
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "foo"}]
    assert api.get("/api/v1/namespaces/foo/serviceaccounts/bot").status_code == 200
    # kinds without a protobuf decoder here are refused, not misread
    p = kubectl.run("create", "deployment", "x", "--image=nginx", check=False)
    assert p.returncode != 0 and "unknown format" in p.stderr
