"""API defaults of built-in types: what a real kube-apiserver stores for a created/updated object.

An operator that compares desired with actual objects must see the same differences it would see on a
cluster (``imagePullPolicy``, ``terminationMessagePath``, ``strategy``, ``resources: {}``...), otherwise
"an idle operator writes nothing" is not tested. The rules follow the ``SetDefaults_*`` functions of
k8s.io/kubernetes/pkg/apis/*/v1, the v1 conversions (Secret ``stringData``, ``serviceAccount`` alias)
and, for Pods, the admission plugins every cluster runs (ServiceAccount, Priority,
DefaultTolerationSeconds). Everything here is deterministic and pure: no clocks, no randomness.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

from .resources import ResourceInfo

__all__ = [
    "apply_defaults",
    "default_container",
    "default_pod_spec",
    "default_pod_template",
    "image_pull_policy",
    "pod_qos_class",
]

_Obj = dict[str, Any]


def apply_defaults(info: ResourceInfo, obj: _Obj) -> None:
    """Mutate ``obj`` (a built-in object) in place into what the API server would store.

    Custom resources are left alone (their defaults come from the CRD schema, see ``schema.py``).
    """
    if info.custom:
        return
    handler = _HANDLERS.get((info.group, info.plural))
    if handler is not None:
        handler(obj)


# --- containers and pod specs --------------------------------------------------------------------

# docker/distribution reference grammar, enough to find tag and digest the way ParseImageName does.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")


def image_pull_policy(image: str) -> str:
    """The default imagePullPolicy: ``Always`` for a ``latest`` (or missing) tag, else ``IfNotPresent``.

    A digest-pinned image without a tag has no tag, so it is ``IfNotPresent``; an unparsable image name
    yields no tag either (ParseImageName fails) and also gets ``IfNotPresent``.
    """
    m = _REFERENCE.match(image or "")
    if m is None or len(m.group("name")) > 255:
        return "IfNotPresent"
    tag, digest = m.group("tag"), m.group("digest")
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if probe.get("timeoutSeconds") == 0:
        probe["timeoutSeconds"] = 1
    if probe.get("periodSeconds") == 0:
        probe["periodSeconds"] = 10
    if probe.get("successThreshold") == 0:
        probe["successThreshold"] = 1
    if probe.get("failureThreshold") == 0:
        probe["failureThreshold"] = 3
    _default_handler(probe)


def _default_handler(handler: Any) -> None:
    """HTTPGetAction: path "/" and scheme HTTP (probes and lifecycle hooks alike)."""
    if not isinstance(handler, dict):
        return
    http_get = handler.get("httpGet")
    if isinstance(http_get, dict):
        if not http_get.get("path"):
            http_get["path"] = "/"
        if not http_get.get("scheme"):
            http_get["scheme"] = "HTTP"


def _default_env(env: Any) -> None:
    for var in env if isinstance(env, list) else ():
        value_from = var.get("valueFrom") if isinstance(var, dict) else None
        if not isinstance(value_from, dict):
            continue
        field_ref = value_from.get("fieldRef")
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"
        resource_ref = value_from.get("resourceFieldRef")
        if isinstance(resource_ref, dict) and "divisor" not in resource_ref:
            resource_ref["divisor"] = "0"


def default_container(container: _Obj) -> None:
    """SetDefaults_Container and friends, plus the always-serialized ``resources: {}``."""
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(container.get("image", ""))
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = "/dev/termination-log"
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    if container.get("resources") is None:
        container["resources"] = {}
    for port in container.get("ports") or ():
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(key))
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        _default_handler(lifecycle.get("postStart"))
        _default_handler(lifecycle.get("preStop"))
    _default_env(container.get("env"))


_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def _default_volume(volume: _Obj) -> None:
    """SetDefaults_Volume (no source → emptyDir) and the defaultMode 0644 (420) of file projections."""
    if not any(volume.get(k) is not None for k in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(key)
        if isinstance(source, dict) and source.get("defaultMode") is None:
            source["defaultMode"] = 420
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and "type" not in host_path:
        host_path["type"] = ""
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for src in projected.get("sources") or ():
            token = src.get("serviceAccountToken") if isinstance(src, dict) else None
            if isinstance(token, dict) and token.get("expirationSeconds") is None:
                token["expirationSeconds"] = 3600
            downward = src.get("downwardAPI") if isinstance(src, dict) else None
            for item in (downward or {}).get("items") or ():
                _default_downward_item(item)
    downward_api = volume.get("downwardAPI")
    if isinstance(downward_api, dict):
        for item in downward_api.get("items") or ():
            _default_downward_item(item)


def _default_downward_item(item: Any) -> None:
    if not isinstance(item, dict):
        return
    field_ref = item.get("fieldRef")
    if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
        field_ref["apiVersion"] = "v1"
    resource_ref = item.get("resourceFieldRef")
    if isinstance(resource_ref, dict) and "divisor" not in resource_ref:
        resource_ref["divisor"] = "0"


def default_pod_spec(spec: _Obj) -> None:
    """SetDefaults_PodSpec plus container, volume and v1-conversion defaults (pods and templates)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    # v1 conversion keeps the deprecated alias in step with serviceAccountName.
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                default_container(container)
    for container in spec.get("ephemeralContainers") or ():
        if isinstance(container, dict):
            default_container(container)
    for volume in spec.get("volumes") or ():
        if isinstance(volume, dict):
            _default_volume(volume)


def default_pod_template(template: Any) -> None:
    """A PodTemplateSpec inside a Deployment/ReplicaSet (no pod-only defaults, no creationTimestamp)."""
    if not isinstance(template, dict):
        return
    if template.get("metadata") is None:
        template["metadata"] = {}
    spec = template.get("spec")
    if spec is None:
        spec = template["spec"] = {}
    if isinstance(spec, dict):
        default_pod_spec(spec)


def _parse_quantity(value: Any) -> float:
    """Just enough resource.Quantity parsing to compare requests with limits for the QoS class."""
    text = str(value).strip()
    suffixes = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "Pi": 2**50,
        "Ei": 2**60,
        "n": 1e-9,
        "u": 1e-6,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
    }
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * suffixes[suffix]
            except ValueError:
                return 0.0
    try:
        return float(text)
    except ValueError:
        return 0.0


def pod_qos_class(spec: _Obj) -> str:
    """qos.GetPodQOS: Guaranteed, Burstable or BestEffort (from cpu/memory requests and limits)."""
    containers = [
        c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)
    ]
    requests: dict[str, float] = {}
    limits: dict[str, float] = {}
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        c_req = {
            k: _parse_quantity(v) for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")
        }
        c_lim = {
            k: _parse_quantity(v) for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")
        }
        for k, v in c_req.items():
            if v > 0:
                requests[k] = requests.get(k, 0) + v
        for k, v in c_lim.items():
            if v > 0:
                limits[k] = limits.get(k, 0) + v
        if set(c_lim) != {"cpu", "memory"} or any(v == 0 for v in c_lim.values()):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests == limits:
        return "Guaranteed"
    return "Burstable"


def _default_pod(obj: _Obj) -> None:
    """SetDefaults_Pod + PodSpec defaults + what admission adds to every Pod + the initial status."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or ():
            if not isinstance(c, dict):
                continue
            res = c.get("resources")
            if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                requests = res.setdefault("requests", {})
                for name, value in res["limits"].items():
                    requests.setdefault(name, value)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or ():
                for port in c.get("ports") or ():
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    # ServiceAccount admission: the namespace's "default" account when none is named.
    if not spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccountName"] = "default"
    default_pod_spec(spec)
    # Priority admission: no priorityClassName → priority 0, PreemptLowerPriority.
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    # DefaultTolerationSeconds admission.
    tolerations = spec.setdefault("tolerations", [])
    keys = {t.get("key") for t in tolerations if isinstance(t, dict)}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if key not in keys:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(spec)}


# --- workloads -----------------------------------------------------------------------------------


def _default_deployment(obj: _Obj) -> None:
    """SetDefaults_Deployment (apps/v1)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_pod_template(spec.setdefault("template", {}))
    if obj.get("status") is None:
        obj["status"] = {}


def _default_replicaset(obj: _Obj) -> None:
    """SetDefaults_ReplicaSet (apps/v1): replicas 1, pod template defaults, status {replicas: 0}."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(spec.setdefault("template", {}))
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    status.setdefault("replicas", 0)


# --- core objects --------------------------------------------------------------------------------


def _default_secret(obj: _Obj) -> None:
    """type Opaque; stringData is folded into data (stringData wins) and never stored."""
    if not obj.get("type"):
        obj["type"] = "Opaque"
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _cluster_ip(namespace: str, name: str) -> str:
    """A stable address from the 10.96.0.0/12 service range (deterministic, no allocator state)."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    n = int.from_bytes(digest[:4], "big") % ((1 << 20) - 2) + 1
    return f"10.{96 + (n >> 16)}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def _node_port(namespace: str, name: str, port: _Obj) -> int:
    """A stable port from the default 30000-32767 NodePort range."""
    key = f"{namespace}/{name}/{port.get('name', '')}/{port.get('port')}/{port.get('protocol')}"
    return 30000 + int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 2768


def _default_service(obj: _Obj) -> None:
    """SetDefaults_Service plus the IP fields the service registry fills in on a single-stack cluster."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    svc_type = spec["type"]
    for port in spec.get("ports") or ():
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    if svc_type in ("NodePort", "LoadBalancer") or spec.get("externalIPs"):
        if not spec.get("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and svc_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    meta = obj.get("metadata") or {}
    if svc_type in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or ():
            if isinstance(port, dict) and not port.get("nodePort"):
                port["nodePort"] = _node_port(meta.get("namespace", ""), meta.get("name", ""), port)
    if svc_type != "ExternalName":
        if not spec.get("clusterIP"):
            ips = spec.get("clusterIPs")
            spec["clusterIP"] = (
                ips[0] if ips else _cluster_ip(meta.get("namespace", ""), meta.get("name", ""))
            )
        if not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if not spec.get("ipFamilies"):
            spec["ipFamilies"] = ["IPv4"]
        if not spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = "SingleStack"
    if obj.get("status") is None:
        obj["status"] = {"loadBalancer": {}}


def _default_namespace(obj: _Obj) -> None:
    """finalizers [kubernetes], phase Active and the kubernetes.io/metadata.name label."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    # The namespace strategy adds "kubernetes" on create only; the finalize subresource may remove it
    # later, so an explicitly present (even empty) list is left alone.
    if spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    if not status.get("phase"):
        status["phase"] = "Active"
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels["kubernetes.io/metadata.name"] = meta["name"]


# --- rbac, policy, networking, apiextensions -----------------------------------------------------


def _default_subjects(obj: _Obj) -> None:
    for subject in obj.get("subjects") or ():
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = "rbac.authorization.k8s.io"
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = "rbac.authorization.k8s.io"


def _default_network_policy(obj: _Obj) -> None:
    """SetDefaults_NetworkPolicy: policyTypes from the rules, port protocol TCP, podSelector {}."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if spec.get("podSelector") is None:
        spec["podSelector"] = {}
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or ():
            for port in (rule or {}).get("ports") or ():
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"


def _default_pdb(obj: _Obj) -> None:
    """PodDisruptionBudgetStatus serializes its four counters even when zero."""
    _default_spec_struct(obj)
    status = obj.get("status")
    if not isinstance(status, dict):
        status = obj["status"] = {}
    for key in ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods"):
        status.setdefault(key, 0)


def _default_crd(obj: _Obj) -> None:
    """SetDefaults_CustomResourceDefinition(Spec): singular, listKind, conversion strategy None."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict):
        if not names.get("singular") and names.get("kind"):
            names["singular"] = str(names["kind"]).lower()
        if not names.get("listKind") and names.get("kind"):
            names["listKind"] = f"{names['kind']}List"
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        spec["conversion"] = {"strategy": "None"}
    elif conversion.get("strategy") == "Webhook":
        webhook = conversion.get("webhook")
        service = (
            (webhook or {}).get("clientConfig", {}).get("service") if isinstance(webhook, dict) else None
        )
        if isinstance(service, dict) and service.get("port") is None:
            service["port"] = 443


def _default_core_event(obj: _Obj) -> None:
    """core/v1 Event: fields without omitempty are always serialized (null times, empty strings, source {})."""
    for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
        obj.setdefault(key, None)
    obj.setdefault("reportingComponent", "")
    obj.setdefault("reportingInstance", "")
    if obj.get("source") is None:
        obj["source"] = {}
    if obj.get("involvedObject") is None:
        obj["involvedObject"] = {}


def _default_rules(obj: _Obj) -> None:
    """Role/ClusterRole ``rules`` has no omitempty: a role without rules is stored as ``rules: null``."""
    obj.setdefault("rules", None)


def _default_spec_struct(obj: _Obj) -> None:
    """A non-pointer spec struct is serialized as ``spec: {}`` even when nothing was set."""
    if obj.get("spec") is None:
        obj["spec"] = {}


_HANDLERS: dict[tuple[str, str], Callable[[_Obj], None]] = {
    ("", "events"): _default_core_event,
    ("rbac.authorization.k8s.io", "roles"): _default_rules,
    ("rbac.authorization.k8s.io", "clusterroles"): _default_rules,
    ("coordination.k8s.io", "leases"): _default_spec_struct,
    ("", "pods"): _default_pod,
    ("", "secrets"): _default_secret,
    ("", "services"): _default_service,
    ("", "namespaces"): _default_namespace,
    ("apps", "deployments"): _default_deployment,
    ("apps", "replicasets"): _default_replicaset,
    ("rbac.authorization.k8s.io", "rolebindings"): _default_subjects,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _default_subjects,
    ("networking.k8s.io", "networkpolicies"): _default_network_policy,
    ("policy", "poddisruptionbudgets"): _default_pdb,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _default_crd,
}
