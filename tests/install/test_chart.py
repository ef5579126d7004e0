"""The Helm chart, rendered and linted by real Helm (helm-python-sdk embeds Helm v4; no helm binary).

Built-in objects are validated against the Kubernetes K8S_VERSION OpenAPI schema (kubernetes-validate),
CeligoConnectors against our CRD's schema. The ServiceMonitor is NOT schema-validated (kubernetes-validate
has no Prometheus Operator schemas and we do not vendor them): only its wiring to the Service is checked.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from celigo_operator.cli import parser
from celigo_operator.config import ENV_PREFIX, OperatorConfig
from celigo_operator.policy import check_config
from celigo_testkit.harness import KUBECTL, Kubectl
from celigo_testkit.kube import KubeEmulator
from install.installkit import (
    CHART,
    CRD_SOURCE,
    DEPLOY,
    crd_errors,
    crd_source,
    find,
    grants,
    k8s_validate,
    kustomize,
    render_chart,
    the,
    wildcards,
)

from support.podsecurity import restricted_violations

DIGEST = "sha256:" + "ab" * 32
ALL_ON: dict[str, Any] = {
    "replicaCount": 2,
    "leaderElection": {"enabled": True, "leaseName": "celigo-operator-leader"},
    "podDisruptionBudget": {"enabled": True},
    "image": {"tag": "0.1.0", "digest": DIGEST, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccount": {"annotations": {"example.com/role": "operator"}},
    "operator": {
        "logLevel": "DEBUG",
        "tickInterval": 15,
        "reconcileWorkers": 4,
        "hmacSecretName": "my-hmac",
        "defaultConnectorImage": "public.ecr.aws/conductorone/baton-celigo:v0.1.7",
        "imageAllowlist": ["public.ecr.aws/conductorone/baton-celigo", "registry.example.com/mirror/*"],
        "allowedArgs": ["--skip-full-sync", "--otel-collector-endpoint"],
        "allowedExtraEnv": ["HTTPS_PROXY", "NO_PROXY"],
        "celigoBaseUrls": {"us": "https://celigo-proxy.example.com/us", "eu": "https://celigo-proxy.example.com/eu"},
        "conductorOneBaseUrl": "https://c1-proxy.example.com",
        "extraEnv": [{"name": "CELIGO_OPERATOR_STATUS_REFRESH", "value": "1800"}],
    },
    "metrics": {
        "service": {"annotations": {"example.com/scrape": "true"}},
        "serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "kube-prometheus-stack"}},
    },
    "networkPolicy": {
        "enabled": True,
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "extraEgress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 3128, "protocol": "TCP"}]}],
    },
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}
                ]
            }
        }
    },
    "priorityClassName": "platform-critical",
    "podAnnotations": {"example.com/owner": "iam"},
    "podLabels": {"team": "iam"},
    "connectors": [
        {
            "name": "celigo",
            "namespace": "celigo",
            "labels": {"team": "iam"},
            "annotations": {"example.com/ticket": "IAM-1"},
            "spec": {
                "region": "us",
                "credentialsSecretRef": {"name": "celigo-credentials"},
                "provisioning": True,
                "healthCheck": {"interval": "10m"},
            },
        },
        {"name": "celigo-eu", "spec": {"region": "eu", "credentialsSecretRef": {"name": "celigo-eu-credentials"}}},
    ],
}
NAMESPACED: dict[str, Any] = {"watch": {"clusterWide": False, "namespaces": ["celigo", "team-b"]}}
VARIANTS = {"default": {}, "all-on": ALL_ON, "namespaced": NAMESPACED, "all-on-namespaced": {**ALL_ON, **NAMESPACED}}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    values = VARIANTS[request.param]
    objects, notes = render_chart(values)
    return values, objects, notes


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(the(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0])


def env_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The container env as the operator would see it in a pod (downward API resolved)."""
    env = {}
    for item in container(objects)["env"]:
        field = item.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        env[item["name"]] = {"metadata.namespace": "celigo-operator", "metadata.name": "pod-1"}.get(field, item.get("value"))
    return env


@pytest.mark.parametrize("values", [{}, ALL_ON, {**ALL_ON, **NAMESPACED}], ids=["default", "all-on", "namespaced"])
def test_helm_lint_is_clean(values: dict[str, Any]) -> None:
    report = helm.lint(CHART, values, strict=True, namespace="celigo-operator", kube_version="v1.35.0")
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_every_rendered_object_is_valid(variant: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    values, objects, _ = variant
    for obj in objects:
        if obj["kind"] == "CeligoConnector":
            assert crd_errors(obj) == [], obj["metadata"]["name"]
        elif obj["kind"] == "ServiceMonitor":
            continue  # not schema-validated: see the module docstring and test_service_monitor_scrapes_the_service
        else:
            k8s_validate(obj)
    assert wildcards(objects) == []
    assert len(find(objects, "CeligoConnector")) == len(values.get("connectors", []))


def test_operator_pod_is_restricted_and_configured(variant: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    values, objects, _ = variant
    dep = the(objects, "Deployment")
    if values.get("leaderElection", {}).get("enabled"):
        assert dep["spec"]["replicas"] == 2 and dep["spec"]["strategy"]["type"] == "RollingUpdate"
        assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    else:
        assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    assert restricted_violations(pod) == []
    assert pod["automountServiceAccountToken"] is True
    c = container(objects)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}
    env = env_of(objects)
    known = {ENV_PREFIX + f.name.upper() for f in fields(OperatorConfig)}
    assert set(env) <= known, set(env) - known
    config = OperatorConfig.from_env(env)  # every value parses as the operator parses it
    assert check_config(config) == []  # and the pod policy's settings would let the operator start
    assert config.log_format == "json" and config.operator_namespace == "celigo-operator"
    assert config.liveness_endpoint == "http://0.0.0.0:8080/healthz" and config.metrics_port == 9090
    args = parser().parse_args(c["args"])
    if values.get("watch", {}).get("clusterWide", True):
        assert args.all_namespaces
    else:
        assert args.namespace == values["watch"]["namespaces"]
    if values is ALL_ON or "operator" in values:
        assert config.celigo_base_urls == ALL_ON["operator"]["celigoBaseUrls"]
        assert config.image_allowlist == tuple(ALL_ON["operator"]["imageAllowlist"])
        assert config.allowed_args == tuple(ALL_ON["operator"]["allowedArgs"])
        assert config.allowed_extra_env == tuple(ALL_ON["operator"]["allowedExtraEnv"])
        assert config.hmac_secret_name == "my-hmac" and config.tick_interval == 15
        assert config.reconcile_workers == 4
        assert config.conductorone_base_url == "https://c1-proxy.example.com"
        assert c["image"] == f"ghcr.io/celigo-operator/celigo-operator:0.1.0@{DIGEST}"
        assert pod["nodeSelector"] and pod["tolerations"] and pod["affinity"] and pod["priorityClassName"]
        assert config.leader_election and config.identity == "pod-1"
        assert config.lease_name == "celigo-operator-leader"
    else:
        assert c["image"] == "ghcr.io/celigo-operator/celigo-operator:0.1.0"


def test_image_by_digest_alone() -> None:
    objects, _ = render_chart({"image": {"digest": DIGEST, "repository": "registry.example.com/celigo-operator"}})
    assert container(objects)["image"] == f"registry.example.com/celigo-operator@{DIGEST}"


def test_crd_is_the_one_in_crds_and_kept() -> None:
    assert (CHART / "files" / "crds" / "celigoconnectors.yaml").read_bytes() == CRD_SOURCE.read_bytes(), (
        "charts/celigo-operator/files/crds/celigoconnectors.yaml differs from crds/: run deploy/sync-crds.sh"
    )
    objects, notes = render_chart()
    crd = copy.deepcopy(the(objects, "CustomResourceDefinition"))
    assert crd["metadata"].pop("annotations") == {"helm.sh/resource-policy": "keep"}
    assert crd == crd_source() == the(kustomize(DEPLOY), "CustomResourceDefinition")
    assert "kept on `helm uninstall`" in notes
    without, _ = render_chart({"crds": {"install": False}})
    assert not find(without, "CustomResourceDefinition")
    unkept, _ = render_chart({"crds": {"keep": False}})
    assert the(unkept, "CustomResourceDefinition") == crd_source()


def test_rbac_grants_exactly_what_deploy_grants() -> None:
    """deploy/ is proven against the running operator (test_rbac.py); the chart must grant the same."""
    assert grants(render_chart()[0]) == grants(kustomize(DEPLOY))
    namespaced, _ = render_chart({"watch": {"clusterWide": False, "namespaces": ["celigo"]}})
    assert grants(namespaced) == grants(kustomize(DEPLOY / "namespaced"))
    two, _ = render_chart(NAMESPACED)
    assert {ns for ns, *_ in grants(two)} == {None, "celigo", "team-b", "celigo-operator"}
    assert not any(ns is None and res == "secrets" for ns, _, _, res, _ in grants(two))
    hmac = render_chart({**NAMESPACED, "operator": {"hmacSecretName": "my-hmac"}})[0]
    assert ("celigo-operator", "get", "", "secrets", "my-hmac") in grants(hmac)
    assert not grants(render_chart({"rbac": {"create": False}})[0])


def test_service_monitor_scrapes_the_service() -> None:
    objects, _ = render_chart(ALL_ON)
    monitor = the(objects, "ServiceMonitor")
    service = the(objects, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["celigo-operator"]}


def test_network_policy_allows_only_what_the_operator_needs() -> None:
    objects, _ = render_chart(ALL_ON)
    policy = the(objects, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == the(objects, "Deployment")["spec"]["selector"]["matchLabels"]
    ingress_ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert ingress_ports == ["liveness", "metrics"]
    assert policy["spec"]["ingress"][1]["from"] == ALL_ON["networkPolicy"]["metricsFrom"]
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP"), (3128, "TCP")}
    assert not find(render_chart()[0], "NetworkPolicy")


def test_metrics_off_removes_port_service_and_server() -> None:
    objects, notes = render_chart({"metrics": {"enabled": False}})
    assert not find(objects, "Service") and "Metrics:" not in notes
    assert [p["name"] for p in container(objects)["ports"]] == ["liveness"]
    assert OperatorConfig.from_env(env_of(objects)).metrics_port is None


def test_connectors_from_values() -> None:
    objects, notes = render_chart(ALL_ON, namespace="ops")
    by_name = {o["metadata"]["name"]: o for o in find(objects, "CeligoConnector")}
    assert by_name["celigo"]["metadata"]["namespace"] == "celigo"
    assert by_name["celigo-eu"]["metadata"]["namespace"] == "ops"  # the release namespace by default
    assert by_name["celigo"]["spec"] == ALL_ON["connectors"][0]["spec"]
    assert by_name["celigo"]["metadata"]["labels"]["team"] == "iam"
    assert "kubectl -n celigo get celigoconnector celigo" in notes
    bad = copy.deepcopy(ALL_ON)
    bad["connectors"][0]["spec"]["region"] = "mars"
    objects, _ = render_chart(bad)
    errors = crd_errors(the(objects, "CeligoConnector", "celigo"))
    assert errors == ["spec.region: 'mars' is not one of ['us', 'eu']"]


def test_notes_tell_how_to_check_status(variant: tuple[dict[str, Any], list[dict[str, Any]], str]) -> None:
    values, _, notes = variant
    assert "kubectl get celigoconnectors -A" in notes
    assert "--for=condition=Ready" in notes
    if not values.get("watch", {}).get("clusterWide", True):
        assert "watching celigo, team-b." in notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"watch": {"clusterWide": "yes"}}, "at '/watch/clusterWide': got string, want boolean"),
        ({"metrics": {"port": "9090"}}, "at '/metrics/port': got string, want integer"),
        ({"replicas": 2}, "at '': additional properties 'replicas' not allowed"),
        ({"image": {"tagg": "v1"}}, "at '/image': additional properties 'tagg' not allowed"),
        ({"operator": {"logFormat": "xml"}}, "at '/operator/logFormat'"),
        ({"image": {"digest": "latest"}}, "at '/image/digest'"),
        ({"watch": {"clusterWide": False}}, "at '/watch/namespaces': minItems: got 0, want 1"),
        ({"connectors": [{"name": "x"}]}, "at '/connectors/0': missing property 'spec'"),
        ({"replicaCount": 2}, "at '/leaderElection/enabled': value must be true"),
        ({"connectors": [{"name": "x", "spec": {}, "replicas": 1}]}, "additional properties 'replicas' not allowed"),
        ({"operator": {"imageAllowlist": ["ghcr.io/conductorone/"]}}, "at '/operator/imageAllowlist/0'"),
        ({"operator": {"allowedArgs": ["skip-full-sync"]}}, "at '/operator/allowedArgs/0'"),
        ({"operator": {"allowedExtraEnv": ["HTTPS-PROXY"]}}, "at '/operator/allowedExtraEnv/0'"),
    ],
    ids=["wrong-type", "port-as-string", "unknown-key", "unknown-nested-key", "enum", "digest", "no-namespaces",
         "connector-without-spec", "connector-unknown-key", "replicas-without-leader-election",
         "image-prefix-not-repository", "arg-not-a-flag", "env-not-a-name"],
)
def test_values_schema_rejects_bad_values_clearly(values: dict[str, Any], message: str) -> None:
    chart = helm.Chart.load(CHART)
    with pytest.raises(helm.HelmValuesError) as exc:
        chart.validate_schema(values)
    assert message in str(exc.value)
    with pytest.raises(helm.HelmValuesError) as exc:  # `helm install` refuses them the same way
        render_chart(values)
    assert message in str(exc.value)


def test_values_schema_accepts_every_documented_value() -> None:
    chart = helm.Chart.load(CHART)
    for values in VARIANTS.values():
        chart.validate_schema(values)


def test_inconsistent_values_fail_the_render_with_a_reason() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"metrics\.serviceMonitor\.enabled needs metrics\.service\.enabled"):
        render_chart({"metrics": {"serviceMonitor": {"enabled": True}, "service": {"enabled": False}}})
    with pytest.raises(helm.HelmRenderError, match=r"serviceAccount\.name is required"):
        render_chart({"serviceAccount": {"create": False}})


def test_leader_election_grants_only_its_lease() -> None:
    objects, _ = render_chart({"replicaCount": 3, "leaderElection": {"enabled": True, "leaseName": "my-lease"}})
    leases = {g for g in grants(objects) if g[3] == "leases"}
    assert leases == {
        ("celigo-operator", "get", "coordination.k8s.io", "leases", "my-lease"),
        ("celigo-operator", "update", "coordination.k8s.io", "leases", "my-lease"),
        ("celigo-operator", "create", "coordination.k8s.io", "leases", None),
    }
    assert not {g for g in grants(render_chart()[0]) if g[3] == "leases"}
    assert not find(objects, "PodDisruptionBudget"), "the PDB is opt-in"
    pdb = the(render_chart(ALL_ON)[0], "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1


@pytest.mark.kubectl
@pytest.mark.skipif(shutil.which(KUBECTL) is None, reason="kubectl is not installed")
def test_rendered_chart_is_accepted_by_the_api_server(tmp_path: Path) -> None:
    """Every rendered object with every feature on, applied with kubectl: the emulator validates built-ins
    and the CeligoConnectors (strict field validation, CRD schema) server-side. The ServiceMonitor is left out:
    the emulator has no Prometheus Operator CRD."""
    objects, _ = render_chart({**ALL_ON, **NAMESPACED})
    with KubeEmulator() as emu:
        kubectl = Kubectl(emu.write_kubeconfig(tmp_path / "kubeconfig"))
        probe = kubectl.run("get", "namespaces", "-o", "name", check=False, timeout=30)
        if probe.returncode != 0:
            pytest.skip(f"kubectl cannot reach the API emulator: {probe.stderr.strip()[:300]}")
        namespaces = ["celigo-operator", "celigo", "team-b"]
        kubectl("apply", "-f", "-", input="".join(f"---\nkind: Namespace\napiVersion: v1\nmetadata: {{name: {n}}}\n" for n in namespaces))
        crd = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        rest = [o for o in objects if o["kind"] not in ("CustomResourceDefinition", "ServiceMonitor")]
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(crd))
        out = kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rest))
        assert out.count(" created") == len(rest), out
        assert "celigoconnector.celigo-operator.io/celigo created" in out
        assert "networkpolicy.networking.k8s.io/celigo-operator created" in out
