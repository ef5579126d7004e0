"""Pure functions: (resource, verified credentials, operator config) -> the connector's Secret and Deployment.

This is the seed doc's recipe with its bugs fixed (README, "From the doc page to a CeligoConnector"): no `service`
argument, string label and flag values, a stable BATON_HOST_ID, a restricted pod with a writable work dir,
and credentials in an immutable Secret whose name carries a hash of its content.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from celigo_operator import api
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.config import OperatorConfig

MANAGED_BY = "celigo-operator"
CHILD_SUFFIX = "-baton-celigo"
MAX_BASE_NAME = 52  # base + "-" + 10-char hash = 63, a valid label value and Secret name
WORK_DIR = "/baton"

LABEL_OWNER_UID = f"{api.GROUP}/owner-uid"
LABEL_ROLE = f"{api.GROUP}/role"
ANNOTATION_CREDENTIALS_VERSION = f"{api.GROUP}/credentials-version"

ENV_CLIENT_ID = "BATON_CLIENT_ID"
ENV_CLIENT_SECRET = "BATON_CLIENT_SECRET"
ENV_ACCESS_TOKEN = "BATON_CELIGO_ACCESS_TOKEN"
CREDENTIAL_ENV = (ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ACCESS_TOKEN)
#: Variables the operator sets itself; spec.extraEnv may not name them.
MANAGED_ENV = frozenset(
    {
        *CREDENTIAL_ENV,
        "BATON_REGION",
        "BATON_PROVISIONING",
        "BATON_HOST_ID",
        "BATON_LOG_LEVEL",
        "BATON_LOG_FORMAT",
        "BATON_FILE",
        "BATON_BASE_URL",
        "BATON_HEALTH_CHECK",
        "BATON_HEALTH_CHECK_PORT",
        "BATON_HEALTH_CHECK_BIND_ADDRESS",
    }
)

DEFAULT_RESOURCES: dict[str, dict[str, int | str]] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
NONROOT_UID = 65532  # distroless "nonroot"


@dataclass(frozen=True)
class Owner:
    """What the children need to know about the CeligoConnector that owns them."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


@dataclass(frozen=True)
class ConnectorCredentials:
    """A complete credential set for the connector. repr() never shows values."""

    client_id: str
    client_secret: str
    access_token: str

    def __repr__(self) -> str:
        return "ConnectorCredentials(<redacted>)"

    __str__ = __repr__

    def env(self) -> dict[str, str]:
        return {
            ENV_CLIENT_ID: self.client_id,
            ENV_CLIENT_SECRET: self.client_secret,
            ENV_ACCESS_TOKEN: self.access_token,
        }


def _short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def child_name(owner_name: str) -> str:
    """`<name>-baton-celigo`, shortened with a hash of the full name when it would be too long."""
    full = owner_name + CHILD_SUFFIX
    if len(full) <= MAX_BASE_NAME:
        return full
    head = owner_name[: MAX_BASE_NAME - len(CHILD_SUFFIX) - 7].rstrip("-.")
    return f"{head}-{_short_hash(owner_name)}{CHILD_SUFFIX}"


def credentials_version(key: bytes, creds: ConnectorCredentials) -> str:
    """HMAC-SHA256 of the credential set, keyed by the operator's stable key: safe to show, stable across
    operator restarts, different for every credential change."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for name, value in sorted(creds.env().items()):
        mac.update(name.encode() + b"\0" + value.encode() + b"\0")
    return mac.hexdigest()[:32]


def secret_name(owner_name: str, version: str) -> str:
    return f"{child_name(owner_name)}-{version[:10]}"


def default_host_id(owner: Owner) -> str:
    raw = re.sub(r"[^A-Za-z0-9._-]", "-", f"{owner.namespace}-{owner.name}")
    if len(raw) > 63:
        raw = f"{raw[:56]}-{_short_hash(raw)}"
    return raw.strip("-._") or "celigo"


def selector_labels(owner: Owner) -> dict[str, str]:
    """Immutable Deployment selector: must never change for the life of the resource."""
    return {"app.kubernetes.io/name": "baton-celigo", "app.kubernetes.io/instance": child_name(owner.name)}


def common_labels(owner: Owner) -> dict[str, str]:
    return {
        **selector_labels(owner),
        "app.kubernetes.io/component": "connector",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "conductorone-baton",
        LABEL_OWNER_UID: owner.uid,
    }


def build_secret(owner: Owner, creds: ConnectorCredentials, version: str) -> dict[str, Any]:
    """The immutable, content-named Secret the connector reads through envFrom."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(owner.name, version),
            "namespace": owner.namespace,
            "labels": {**common_labels(owner), LABEL_ROLE: "connector-credentials"},
            "annotations": {ANNOTATION_CREDENTIALS_VERSION: version},
            "ownerReferences": [owner.reference()],
        },
        "type": "Opaque",
        "immutable": True,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(creds.env().items())},
    }


def connector_image(spec: CeligoConnectorSpec, config: OperatorConfig) -> str:
    return spec.image or config.default_image


def _env(owner: Owner, spec: CeligoConnectorSpec, config: OperatorConfig) -> list[dict[str, str]]:
    plain: dict[str, str] = {
        "BATON_REGION": spec.region,
        "BATON_PROVISIONING": "true" if spec.provisioning else "false",
        "BATON_HOST_ID": spec.host_id or default_host_id(owner),
        "BATON_LOG_LEVEL": spec.log_level,
        "BATON_LOG_FORMAT": spec.log_format,
        "BATON_FILE": f"{WORK_DIR}/sync.c1z",
    }
    if config.connector_base_url:
        plain["BATON_BASE_URL"] = config.connector_base_url
    if spec.health_server.enabled:
        plain["BATON_HEALTH_CHECK"] = "true"
        plain["BATON_HEALTH_CHECK_PORT"] = str(spec.health_server.port)
        plain["BATON_HEALTH_CHECK_BIND_ADDRESS"] = "0.0.0.0"
    env = [{"name": k, "value": v} for k, v in plain.items()]
    env += [{"name": e.name, "value": e.value} for e in spec.extra_env or []]
    return env


def _probes(spec: CeligoConnectorSpec) -> dict[str, Any]:
    if not spec.health_server.enabled:
        return {}
    port = "health"
    return {
        "ports": [{"name": port, "containerPort": spec.health_server.port, "protocol": "TCP"}],
        # /live and /ready only: /health calls Celigo and must never decide whether a pod is killed.
        "livenessProbe": {
            "httpGet": {"path": "/live", "port": port},
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 10},
        "startupProbe": {
            "httpGet": {"path": "/ready", "port": port},
            "periodSeconds": 5,
            "failureThreshold": 24,
        },
    }


def _resources(spec: CeligoConnectorSpec) -> dict[str, Any]:
    if spec.resources is None:
        return {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}
    return spec.resources.model_dump(exclude_none=True)


def build_deployment(
    owner: Owner, spec: CeligoConnectorSpec, config: OperatorConfig, secret: str, version: str
) -> dict[str, Any]:
    """The connector Deployment, pointing at the current credentials Secret."""
    name = child_name(owner.name)
    labels = common_labels(owner)
    pod_labels = {**(spec.pod_labels or {}), **labels, "app": name, "baton": "true", "baton-app": "celigo"}
    pod_annotations = {**(spec.pod_annotations or {}), ANNOTATION_CREDENTIALS_VERSION: version}
    container: dict[str, Any] = {
        "name": "baton-celigo",
        "image": connector_image(spec, config),
        "envFrom": [{"secretRef": {"name": secret}}],
        "env": _env(owner, spec, config),
        "workingDir": WORK_DIR,
        "resources": _resources(spec),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": NONROOT_UID,
            "runAsGroup": NONROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "work", "mountPath": WORK_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        **_probes(spec),
    }
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    if spec.args:
        container["args"] = list(spec.args)
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NONROOT_UID,
            "runAsGroup": NONROOT_UID,
            "fsGroup": NONROOT_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The connector handles only SIGINT gracefully; SIGTERM ends it at once, so a short grace is honest.
        "terminationGracePeriodSeconds": 10,
        "containers": [container],
        "volumes": [
            {"name": "work", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations]
    if spec.affinity:
        pod_spec["affinity"] = spec.affinity.model_dump(by_alias=True, exclude_none=True)
    if spec.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in spec.image_pull_secrets]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": owner.namespace,
            "labels": {**labels, "app": name},
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": selector_labels(owner)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "minReadySeconds": config.min_ready_seconds,
            "revisionHistoryLimit": 3,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": pod_spec,
            },
        },
    }


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field we set has the value we set; fields the API server defaulted are ignored.

    Lists must have the same length (an added container or env var is drift); dicts may have extra keys.
    """
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return False
        return all(k in actual and is_subset(v, actual[k]) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
    if desired == actual:
        return True
    return isinstance(desired, str) and isinstance(actual, str) and _same_quantity(desired, actual)


def _same_quantity(a: str, b: str) -> bool:
    """The API server canonicalises resource quantities ("0.5" is stored as "500m")."""
    try:
        return bool(parse_quantity(a) == parse_quantity(b))
    except ValueError:
        return False


@dataclass(frozen=True)
class Rollout:
    """A Deployment's rollout as its status tells it (pure)."""

    replicas: int
    updated: int
    available: int
    done: bool  # every pod runs the current template, available, no old pod left
    secret: str | None  # the credentials Secret the template reads
    image: str | None


def rollout(deployment: Mapping[str, Any]) -> Rollout:
    dspec, dstat = deployment.get("spec") or {}, deployment.get("status") or {}
    containers = ((dspec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    env_from = containers[0].get("envFrom") or [{}]
    replicas = int(dspec.get("replicas", 1))
    updated, available = int(dstat.get("updatedReplicas", 0)), int(dstat.get("availableReplicas", 0))
    current = dstat.get("observedGeneration", 0) >= (deployment.get("metadata") or {}).get("generation", 0)
    done = current and updated >= replicas and available >= replicas and int(dstat.get("replicas", 0)) <= replicas
    return Rollout(
        replicas=replicas,
        updated=updated,
        available=available,
        done=done,
        secret=(env_from[0].get("secretRef") or {}).get("name"),
        image=containers[0].get("image"),
    )


def owned_by(obj: Mapping[str, Any], owner: Owner) -> bool:
    """Whether `obj` carries an ownerReference to this CeligoConnector."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner.uid for r in refs)
