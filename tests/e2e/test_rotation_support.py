"""Shared setup for the rotation end-to-end tests: a connector whose credentials the operator may rotate."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from celigo_testkit.harness import wait_for

from support.world import World

ROTATE_NOW = "celigo-operator.io/rotate-now"


@dataclass
class Setup:
    ns: str
    app: str
    connector: str
    initial_credential: str  # ConductorOne credential id in the source Secret
    initial_client: str
    token: str  # Celigo token in the source Secret
    token_id: str


def rotating_connector(
    w: World,
    *,
    c1: bool = True,
    celigo: bool = False,
    wait: bool = True,
    schedule: str | None = None,
    **rotation: Any,
) -> Setup:
    """A ready connector whose source Secret holds a real ConductorOne connector credential and Celigo token."""
    ns = w.namespace("rot")
    app, connector = f"app{ns.replace('-', '')}", f"conn{ns.replace('-', '')}"
    issued = w.c1.add_connector(app, connector)
    assert issued is not None
    api_id, api_secret = w.c1.register_client()
    token = w.celigo.add_token("us")
    token_id = w.celigo.token_record(token)["_id"]
    w.secrets_seen += [issued.client_secret, api_secret, token]
    w.put_secret(
        ns,
        {
            "BATON_CLIENT_ID": issued.client_id,
            "BATON_CLIENT_SECRET": issued.client_secret,
            "BATON_CELIGO_ACCESS_TOKEN": token,
        },
    )
    w.put_secret(ns, {"CONDUCTORONE_CLIENT_ID": api_id, "CONDUCTORONE_CLIENT_SECRET": api_secret}, name="c1-api")
    spec_rotation: dict[str, Any] = {
        "conductorOne": {"enabled": c1, "initialCredentialId": issued.credential_id, "schedule": schedule},
        "celigo": {"enabled": celigo, "tokenId": token_id},
        **rotation,
    }
    w.create_connector(
        ns,
        healthCheck={"interval": "1h"},
        conductorOne={"appId": app, "connectorId": connector, "credentialsSecretRef": {"name": "c1-api"}},
        rotation=spec_rotation,
    )
    if wait:
        w.wait_ready(ns)
    return Setup(ns, app, connector, issued.credential_id, issued.client_id, token, token_id)


def rotate_now(w: World, ns: str, value: str | None = None) -> str:
    value = value or str(time.time_ns())
    w.custom.patch_namespaced_custom_object(
        "celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo",
        {"metadata": {"annotations": {ROTATE_NOW: value}}},
    )
    return value


def rotation(w: World, ns: str) -> dict:
    return dict((w.get(ns).get("status") or {}).get("rotation") or {})


def wait_idle(w: World, ns: str, value: str, flow_key: str = "conductorOne", timeout: float = 40.0) -> dict:
    def done() -> dict | None:
        rot = rotation(w, ns)
        state = rot.get(flow_key) or {}
        if rot.get("rotateNow") == value and rot.get("step") == "Idle" and state.get("lastResult") in (
            "Succeeded",
        ) and not state.get("requested"):
            return rot
        return None

    try:
        return dict(wait_for(done, timeout, what="rotation finished"))
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\nrotation now: {rotation(w, ns)}\n{w.log_tail()}") from None


def connector_values(w: World, ns: str) -> dict[str, str]:
    """The credential set the Deployment's pods read (the Secret its envFrom names)."""
    dep = w.deployment(ns)
    assert dep is not None
    name = dep["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"]
    data = w.core.read_namespaced_secret(name, ns).data
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def wait_rolled(w: World, ns: str, timeout: float = 30.0) -> dict:
    """Deployment rolled to the status' credentials and every pod available."""

    def rolled() -> dict | None:
        obj = w.get(ns)
        status = obj.get("status") or {}
        cred = status.get("credentials") or {}
        conn = status.get("connector") or {}
        if cred.get("lastRotationResult") == "Succeeded" and conn.get("secret") == cred.get("secretName"):
            if conn.get("availableReplicas") == conn.get("replicas"):
                return obj
        return None

    return dict(wait_for(rolled, timeout, what="rolled out"))


def live_c1_credentials(w: World, s: Setup) -> list[dict]:
    return [c for c in w.c1.credentials(s.app, s.connector) if not c["revoked"]]


def assert_not_leaked(w: World, *values: str) -> None:
    """Rotated secrets live only in Secrets: never in the operator log, Events, the resource or the Deployment."""
    blobs = [
        w.operator.log() if w.operator else "",
        w.core.list_event_for_all_namespaces(_preload_content=False).data.decode(),
        w.custom.list_cluster_custom_object(
            "celigo-operator.io", "v1alpha1", "celigoconnectors", _preload_content=False
        ).data.decode(),
        w.apps.list_deployment_for_all_namespaces(_preload_content=False).data.decode(),
    ]
    for value in values:
        assert len(value) >= 16
        for blob in blobs:
            assert value not in blob
            assert base64.b64encode(value.encode()).decode() not in blob
