"""kopf decorators only: every event lands in the same level-based reconcile (`Runtime.handle`).

There is deliberately no handler on Secrets: kopf would stream every Secret in scope and copy data into its
annotations. The referenced Secret is re-read on each tick instead, so a change reaches pods within
`tick_interval` (30 s by default).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import kopf
from kubernetes import client as k8s

from celigo_operator import api
from celigo_operator.config import OperatorConfig

RESOURCE = (api.GROUP, api.VERSION, api.PLURAL)
Logger = logging.Logger | logging.LoggerAdapter[Any]


class Handles(Protocol):
    """What the handlers call: the process runtime (runtime.Runtime), which registers them."""

    config: OperatorConfig
    api_client: k8s.ApiClient

    @property
    def ready(self) -> bool: ...
    async def startup(self) -> None: ...
    async def cleanup(self) -> None: ...
    async def handle(self, body: Mapping[str, Any], logger: Logger, *, check_now: bool = False) -> None: ...
    async def finalize(self, body: Mapping[str, Any], logger: Logger) -> None: ...
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
    """Attach the handlers to `registry`; intervals come from the runtime's configuration."""
    config = runtime.config

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

    @kopf.on.create(*RESOURCE, registry=registry)
    @kopf.on.update(*RESOURCE, registry=registry)
    async def changed(body: kopf.Body, logger: Logger, **_: Any) -> None:
        await runtime.handle(body, logger, check_now=True)

    @kopf.on.resume(*RESOURCE, registry=registry)
    async def resumed(body: kopf.Body, logger: Logger, **_: Any) -> None:
        await runtime.handle(body, logger)

    # optional: kopf adds no finalizer of its own; the operator adds one only while it holds a ConductorOne
    # credential it created, and this handler revokes that credential and removes the finalizer.
    @kopf.on.delete(*RESOURCE, registry=registry, optional=True)
    async def deleted(body: kopf.Body, logger: Logger, **_: Any) -> None:
        await runtime.finalize(body, logger)

    # Raw watch events: kopf adds no finalizer for these. A DELETED event is the one moment a connector is
    # gone for good (after any finalizer was removed), so in-memory state about it is dropped here.
    @kopf.on.event(*RESOURCE, registry=registry)
    async def watched(event: kopf.RawEvent, **_: Any) -> None:
        if event.get("type") == "DELETED":
            await runtime.forget(event["object"])

    @kopf.timer(
        *RESOURCE, registry=registry, interval=config.tick_interval, initial_delay=config.tick_interval
    )
    async def tick(body: kopf.Body, logger: Logger, **_: Any) -> None:
        await runtime.handle(body, logger)
