"""Built-in API defaults: what a real API server stores (SetDefaults_*, v1 conversions, pod admission)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from celigo_testkit.kube.defaults import apply_defaults, image_pull_policy, pod_qos_class
from celigo_testkit.kube.resources import ResourceInfo, builtin_resource


def _defaulted(group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    apply_defaults(builtin_resource(group, "v1", plural), obj)
    return obj


def _deployment(**pod_spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "ghcr.io/x/y:1.0"}], **pod_spec},
            },
        },
    }


def test_deployment_without_strategy_gets_rolling_update_25_percent() -> None:
    spec = _defaulted("apps", "deployments", _deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600


def test_deployment_keeps_explicit_values_and_recreate_gets_no_rolling_update() -> None:
    obj = _deployment()
    obj["spec"].update(
        replicas=0, strategy={"type": "Recreate"}, revisionHistoryLimit=2, progressDeadlineSeconds=60
    )
    spec = _defaulted("apps", "deployments", obj)["spec"]
    assert spec["replicas"] == 0
    assert spec["strategy"] == {"type": "Recreate"}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (2, 60)
    partial = _deployment()
    partial["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": 1}}
    assert _defaulted("apps", "deployments", partial)["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"},
    }


def test_pod_template_spec_defaults() -> None:
    template = _defaulted("apps", "deployments", _deployment())["spec"]["template"]
    spec = template["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert "creationTimestamp" not in template["metadata"]  # 1.3x servers omit it in templates
    # pod-only defaults and admission do not touch templates
    assert "enableServiceLinks" not in spec and "serviceAccountName" not in spec and "tolerations" not in spec
    container = spec["containers"][0]
    assert container == {
        "name": "c",
        "image": "ghcr.io/x/y:1.0",
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/team/app", "Always"),
        ("registry.local:5000/team/app:v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("ghcr.io/conductorone/baton-celigo:v0.1.0@sha256:" + "b" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_container_details_ports_probes_env_and_volumes() -> None:
    obj = _deployment(
        volumes=[
            {"name": "scratch"},
            {"name": "creds", "secret": {"secretName": "s"}},
            {"name": "cfg", "configMap": {"name": "c", "defaultMode": 256}},
            {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
        ],
        serviceAccountName="runner",
    )
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container.update(
        ports=[{"containerPort": 8080, "name": "http"}],
        livenessProbe={"httpGet": {"port": 8080}},
        readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 5},
        env=[
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "PLAIN", "value": "x"},
        ],
        lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
    )
    spec = _defaulted("apps", "deployments", obj)["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    assert c["livenessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["readinessProbe"]["periodSeconds"] == 5 and c["readinessProbe"]["exec"] == {"command": ["true"]}
    assert c["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name", "apiVersion": "v1"}
    assert c["env"][1]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.cpu", "divisor": "0"}
    assert c["env"][2] == {"name": "PLAIN", "value": "x"}
    assert c["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["creds"]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert volumes["cfg"]["configMap"]["defaultMode"] == 256
    assert volumes["tok"]["projected"] == {
        "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}],
        "defaultMode": 420,
    }
    assert spec["serviceAccount"] == "runner"  # the deprecated alias the v1 conversion fills in


def test_defaulting_is_idempotent() -> None:
    once = _defaulted("apps", "deployments", _deployment())
    import copy

    twice = _defaulted("apps", "deployments", copy.deepcopy(once))
    assert twice == once


def test_replicaset_defaults() -> None:
    rs = _defaulted("apps", "replicasets", _deployment())
    assert rs["spec"]["replicas"] == 1
    assert "strategy" not in rs["spec"]
    assert rs["status"] == {"replicas": 0}
    assert rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_pod_gets_pod_only_defaults_admission_and_pending_status() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "d"},
        "spec": {
            "containers": [
                {"name": "c", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
            ]
        },
    }
    spec = _defaulted("", "pods", pod)["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert {t["key"] for t in spec["tolerations"]} == {
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    }
    assert spec["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "1Gi",
    }  # requests from limits
    assert pod["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        (
            {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "Burstable",
        ),
    ],
)
def test_qos_class(resources: dict[str, Any], qos: str) -> None:
    assert pod_qos_class({"containers": [{"name": "c", "resources": resources}]}) == qos


def test_secret_type_and_string_data_folding() -> None:
    secret = {
        "metadata": {"name": "s"},
        "data": {"a": base64.b64encode(b"old").decode(), "keep": "eA=="},
        "stringData": {"a": "new", "b": "plain"},
    }
    stored = _defaulted("", "secrets", secret)
    assert stored["type"] == "Opaque"
    assert "stringData" not in stored
    assert stored["data"] == {
        "a": base64.b64encode(b"new").decode(),
        "keep": "eA==",
        "b": base64.b64encode(b"plain").decode(),
    }
    typed = _defaulted("", "secrets", {"metadata": {"name": "t"}, "type": "kubernetes.io/tls"})
    assert typed["type"] == "kubernetes.io/tls" and "data" not in typed


def test_service_defaults() -> None:
    svc = {
        "metadata": {"name": "api", "namespace": "d"},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
    }
    spec = _defaulted("", "services", svc)["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["clusterIPs"] == [spec["clusterIP"]] and spec["clusterIP"].startswith("10.")
    assert svc["status"] == {"loadBalancer": {}}
    again = _defaulted("", "services", {"metadata": {"name": "api", "namespace": "d"}, "spec": {}})
    assert again["spec"]["clusterIP"] == spec["clusterIP"]  # deterministic
    headless = _defaulted("", "services", {"metadata": {"name": "h"}, "spec": {"clusterIP": "None"}})
    assert headless["spec"]["clusterIPs"] == ["None"]
    node_port = _defaulted(
        "", "services", {"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert 30000 <= node_port["spec"]["ports"][0]["nodePort"] <= 32767
    assert node_port["spec"]["externalTrafficPolicy"] == "Cluster"
    external = _defaulted(
        "", "services", {"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.io"}}
    )
    assert "clusterIP" not in external["spec"] and "internalTrafficPolicy" not in external["spec"]


def test_namespace_defaults() -> None:
    ns = _defaulted("", "namespaces", {"metadata": {"name": "team-a"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    terminating = _defaulted(
        "",
        "namespaces",
        {"metadata": {"name": "x"}, "spec": {"finalizers": []}, "status": {"phase": "Terminating"}},
    )
    assert terminating["spec"]["finalizers"] == [] and terminating["status"]["phase"] == "Terminating"


def test_rbac_network_policy_pdb_and_crd_defaults() -> None:
    binding = _defaulted(
        "rbac.authorization.k8s.io",
        "rolebindings",
        {
            "metadata": {"name": "b"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "sa", "namespace": "d"},
                {"kind": "User", "name": "u"},
            ],
        },
    )
    assert binding["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in binding["subjects"][0]
    assert binding["subjects"][1]["apiGroup"] == "rbac.authorization.k8s.io"
    netpol = _defaulted(
        "networking.k8s.io",
        "networkpolicies",
        {"metadata": {"name": "n"}, "spec": {"egress": [{"ports": [{"port": 443}]}]}},
    )
    assert netpol["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert netpol["spec"]["podSelector"] == {}
    assert netpol["spec"]["egress"][0]["ports"] == [{"port": 443, "protocol": "TCP"}]
    pdb = _defaulted(
        "policy", "poddisruptionbudgets", {"metadata": {"name": "p"}, "spec": {"maxUnavailable": 1}}
    )
    assert pdb["status"] == {
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "disruptionsAllowed": 0,
        "expectedPods": 0,
    }
    crd = _defaulted(
        "apiextensions.k8s.io",
        "customresourcedefinitions",
        {"metadata": {"name": "ws.x.io"}, "spec": {"group": "x.io", "names": {"kind": "W", "plural": "ws"}}},
    )
    assert crd["spec"]["names"] == {"kind": "W", "plural": "ws", "singular": "w", "listKind": "WList"}
    assert crd["spec"]["conversion"] == {"strategy": "None"}


def test_zero_valued_fields_without_omitempty_are_serialized() -> None:
    event = _defaulted(
        "", "events", {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}}
    )
    assert event["eventTime"] is None and event["firstTimestamp"] is None and event["lastTimestamp"] is None
    assert (event["reportingComponent"], event["reportingInstance"], event["source"]) == ("", "", {})
    role = _defaulted("rbac.authorization.k8s.io", "clusterroles", {"metadata": {"name": "r"}})
    assert "rules" in role and role["rules"] is None
    assert _defaulted("coordination.k8s.io", "leases", {"metadata": {"name": "l"}})["spec"] == {}
    pdb = _defaulted("policy", "poddisruptionbudgets", {"metadata": {"name": "p"}})
    assert pdb["spec"] == {}


def test_kinds_without_defaults_and_custom_resources_are_untouched() -> None:
    cm = {"metadata": {"name": "c"}, "data": {"a": "b"}}
    assert _defaulted("", "configmaps", dict(cm)) == cm
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}}
    assert _defaulted("coordination.k8s.io", "leases", dict(lease)) == lease
    role = {
        "metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }
    assert _defaulted("rbac.authorization.k8s.io", "roles", dict(role)) == role
    custom = ResourceInfo("x.io", "v1", "Deployment", "deployments", "deployment", True, custom=True)
    obj = {"spec": {}}
    apply_defaults(custom, obj)
    assert obj == {"spec": {}}
