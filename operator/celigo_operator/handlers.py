"""kopf decorators only: every event enqueues the connector key(s) it concerns (`Runtime.connector_event`
and friends); the runtime's work queue runs the level-based reconcile.

No timers (a kopf timer puts kopf's finalizer on every resource; periodic work is the runtime's scheduler),
no change handlers (kopf would write its annotations on every create and update) and no delete handler
(kopf's finalizer again). Connectors, Secrets, Deployments and Pods are watched through raw event handlers
only, each kind's stream narrowed on the server by a label selector (`SELECTORS`, set in
runtime.configure_settings): only opted-in source Secrets, only the operator's own Deployments and Pods.
There is deliberately no change (create/update) handler on Secrets: kopf would copy secret data into its
annotations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import kopf
from kubernetes import client as k8s

from celigo_operator import api, manifests
from celigo_operator.config import OperatorConfig

RESOURCE = (api.GROUP, api.VERSION, api.PLURAL)
SECRETS = ("", "v1", "secrets")
DEPLOYMENTS = ("apps", "v1", "deployments")
PODS = ("", "v1", "pods")
OWN_CHILDREN = f"app.kubernetes.io/managed-by={manifests.MANAGED_BY},app.kubernetes.io/name=baton-celigo"
#: The server-side label selector of each watched kind: RBAC cannot narrow list/watch to a label, so this is
#: what keeps the operator from asking for Secrets, Deployments and Pods that are not its business.
SELECTORS = {
    SECRETS: f"{api.CREDENTIALS_OPT_IN_LABEL}=true",
    DEPLOYMENTS: OWN_CHILDREN,
    PODS: OWN_CHILDREN,
}
Logger = logging.Logger | logging.LoggerAdapter[Any]


class Handles(Protocol):
    """What the handlers call: the process runtime (runtime.Runtime), which registers them."""

    config: OperatorConfig
    api_client: k8s.ApiClient

    @property
    def ready(self) -> bool: ...
    async def startup(self) -> None: ...
    async def cleanup(self) -> None: ...
    def connector_event(self, event: Mapping[str, Any]) -> bool: ...
    def cache_event(self, kind: str, event: Mapping[str, Any]) -> None: ...
    def child_event(self, kind: str, event: Mapping[str, Any]) -> bool: ...
    def secret_event(self, body: Mapping[str, Any]) -> None: ...
    async def forget(self, body: Mapping[str, Any]) -> None: ...


def connection_info(api_client: k8s.ApiClient) -> kopf.ConnectionInfo:
    """kopf talks to the same API server, with the same credentials, as our own client."""
    cfg = api_client.configuration
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization") or ""
    parts = header.split(" ", 1) if header else []
    scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0] if parts else None)
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        username=cfg.username or None,
        password=cfg.password or None,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


def register(registry: kopf.OperatorRegistry, runtime: Handles) -> None:
    """Attach the handlers to `registry`."""

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(runtime.api_client)

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        await runtime.startup()

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await runtime.cleanup()

    @kopf.on.probe(id="ready", registry=registry)
    def probe(**_: Any) -> bool:
        return runtime.ready

    # Raw watch events only: kopf adds no finalizer and writes nothing for these (a change handler would
    # patch kopf's last-handled-configuration annotation on every create and update: a request per change,
    # and a 409 for the status write racing it). Every change of a connector is queued (the runtime tells a
    # creation or a user's change, which force the health checks, from a resume or a status echo); a
    # DELETED event is the one moment a connector is gone for good, so in-memory state about it is dropped.
    @kopf.on.event(*RESOURCE, registry=registry)
    async def watched(event: kopf.RawEvent, **_: Any) -> None:
        if event.get("type") == "DELETED":
            await runtime.forget(event["object"])
        else:
            runtime.connector_event(event)

    @kopf.on.event(*SECRETS, registry=registry)
    async def source_secret(event: kopf.RawEvent, **_: Any) -> None:
        runtime.cache_event("secrets", event)
        runtime.secret_event(event["object"])

    @kopf.on.event(*DEPLOYMENTS, registry=registry)
    async def deployment(event: kopf.RawEvent, **_: Any) -> None:
        runtime.child_event("deployments", event)

    @kopf.on.event(*PODS, registry=registry)
    async def pod(event: kopf.RawEvent, **_: Any) -> None:
        runtime.child_event("pods", event)
