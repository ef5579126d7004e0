"""The Kubernetes API as the rest of the operator needs it.

The `kubernetes` client is synchronous, so every call runs on a small thread pool, never on kopf's event
loop. Objects travel as plain dicts (`_preload_content=False`): no model round trip, field names as the API
spells them. Errors become `KubeError` carrying the Status reason and code only, never a response body, so
no Secret content can leak through an exception.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from celigo_operator import __version__, api, rest

log = logging.getLogger(__name__)
T = TypeVar("T")


class KubeError(Exception):
    """A failed API call: code and reason from the Status, a message that never carries object data."""

    def __init__(self, code: int, reason: str, message: str, *, kind: str = "", name: str = "") -> None:
        super().__init__(f"{reason} ({code}) on {kind} {name}: {message}".strip())
        self.code = code
        self.reason = reason
        self.kind = kind
        self.name = name

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409


def _error(exc: ApiException, kind: str, name: str) -> KubeError:
    reason, message = str(exc.reason or ""), ""
    try:
        status = json.loads(exc.body or "{}")
        reason = status.get("reason") or reason
        # A Secret's Invalid message could quote a value; keep only what is safe to log.
        message = "" if kind == "Secret" else str(status.get("message", ""))[:500]
    except (ValueError, TypeError):
        pass
    return KubeError(int(exc.status or 0), reason, message, kind=kind, name=name)


def load_api_client(
    kubeconfig: str | None = None, context: str | None = None, *, pool_size: int | None = None
) -> k8s.ApiClient:
    """In-cluster config when running in a pod, else the kubeconfig (explicit path, $KUBECONFIG, ~/.kube).
    `pool_size`: connections kept open to the API server, at least one per thread of the `Kube` that uses
    the client (the client's default, 5 per CPU of the machine, makes the threads beyond it open a new TLS
    connection per request on a small machine)."""
    cfg = k8s.Configuration()
    if kubeconfig is None:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except k8s_config.ConfigException:
            k8s_config.load_kube_config(context=context, client_configuration=cfg)
    else:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
    if pool_size is not None:
        cfg.connection_pool_maxsize = max(cfg.connection_pool_maxsize or 0, pool_size)
    return _named(k8s.ApiClient(cfg))


def _named(api_client: k8s.ApiClient) -> k8s.ApiClient:
    """Every request says who made it (managedFields, audit logs, the emulator's request log)."""
    api_client.user_agent = f"celigo-operator/{__version__}"
    return api_client


class Kube:
    """Async facade over the synchronous client: one method per verb the operator uses."""

    #: Whether Deployment, Pod and source Secret reads are answered by synced watch-fed caches (caches.py),
    #: so that reading them costs no request.
    cached = False

    def __init__(self, api_client: k8s.ApiClient, *, workers: int = 8, timeout: float = 30.0) -> None:
        api_client.user_agent = f"celigo-operator/{__version__}"
        self._api = api_client
        self._core = rest.CoreV1(api_client)
        self._apps = rest.AppsV1(api_client)
        self._custom = rest.CustomObjects(api_client)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kube")
        self._timeout = timeout

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api.close()

    async def _call(self, kind: str, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_preload_content", False)
        kwargs.setdefault("_request_timeout", self._timeout)

        def run() -> Any:
            try:
                response = fn(*args, **kwargs)
            except ApiException as exc:
                raise _error(exc, kind, name) from None
            data = response.data
            return json.loads(data) if data else {}

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def _get_or_none(self, kind: str, name: str, fn: Callable[..., Any], *args: Any) -> dict | None:
        try:
            return dict(await self._call(kind, name, fn, *args))
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    # --- Secrets (only the ones we name: the operator never lists Secrets it does not own) ---
    async def get_secret(self, namespace: str, name: str) -> dict | None:
        return await self._get_or_none("Secret", name, self._core.read_namespaced_secret, name, namespace)

    async def create_secret(self, body: Mapping[str, Any]) -> dict:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        return dict(await self._call("Secret", name, self._core.create_namespaced_secret, ns, body))

    async def delete_secret(self, namespace: str, name: str) -> None:
        try:
            await self._call("Secret", name, self._core.delete_namespaced_secret, name, namespace)
        except KubeError as exc:
            if not exc.not_found:
                raise

    async def list_secrets(self, namespace: str, label_selector: str) -> list[dict]:
        result = await self._call(
            "Secret", "", self._core.list_namespaced_secret, namespace, label_selector=label_selector
        )
        return list(result.get("items", []))

    # --- Deployments and pods ---
    async def get_deployment(self, namespace: str, name: str) -> dict | None:
        return await self._get_or_none(
            "Deployment", name, self._apps.read_namespaced_deployment, name, namespace
        )

    async def read_deployment(self, namespace: str, name: str) -> dict | None:
        """The Deployment as stored now (never from a cache: after a 409, what the next write builds on)."""
        return await Kube.get_deployment(self, namespace, name)

    async def create_deployment(self, body: Mapping[str, Any]) -> dict:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        return dict(await self._call("Deployment", name, self._apps.create_namespaced_deployment, ns, body))

    async def replace_deployment(self, body: Mapping[str, Any]) -> dict:
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        return dict(
            await self._call("Deployment", name, self._apps.replace_namespaced_deployment, name, ns, body)
        )

    async def list_pods(self, namespace: str, label_selector: str) -> list[dict]:
        result = await self._call(
            "Pod", "", self._core.list_namespaced_pod, namespace, label_selector=label_selector
        )
        return list(result.get("items", []))

    # --- CeligoConnector ---
    async def get_connector(self, namespace: str, name: str) -> dict | None:
        return await self._get_or_none(
            api.KIND,
            name,
            self._custom.get_namespaced_custom_object,
            api.GROUP,
            api.VERSION,
            namespace,
            api.PLURAL,
            name,
        )

    async def patch_connector_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str | None = None
    ) -> dict:
        """Merge-patch the status subresource (lists such as conditions are replaced whole); with
        `resource_version` the write happens only if the object is still at that version (else 409)."""
        body: dict[str, Any] = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return dict(
            await self._call(
                api.KIND,
                name,
                self._custom.patch_namespaced_custom_object_status,
                api.GROUP,
                api.VERSION,
                namespace,
                api.PLURAL,
                name,
                body,
            )
        )

    async def patch_connector_metadata(self, namespace: str, name: str, metadata: Mapping[str, Any]) -> dict:
        """Merge-patch metadata (finalizers; include resourceVersion to make it conditional)."""
        return dict(
            await self._call(
                api.KIND,
                name,
                self._custom.patch_namespaced_custom_object,
                api.GROUP,
                api.VERSION,
                namespace,
                api.PLURAL,
                name,
                {"metadata": dict(metadata)},
            )
        )

    # --- Events ---
    async def create_event(
        self, involved: Mapping[str, Any], type_: str, reason: str, message: str, component: str
    ) -> None:
        """An Event about `involved` (a CeligoConnector body): posted and awaited, so an Event exists before
        the status that reports its transition is written."""
        meta = involved.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        now = datetime.now(UTC)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"namespace": ns, "generateName": f"{meta.get('name', 'celigo')}."},
            "type": type_,
            "reason": reason,
            "message": message if len(message) <= 1024 else message[:1000] + " [...]",
            "action": reason,
            "reportingComponent": component,
            "reportingInstance": component,
            "source": {"component": component},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion") or f"{api.GROUP}/{api.VERSION}",
                "kind": involved.get("kind") or api.KIND,
                "name": meta.get("name"),
                "namespace": ns,
                "uid": meta.get("uid"),
            },
            "firstTimestamp": now.isoformat(),
            "lastTimestamp": now.isoformat(),
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "count": 1,
        }
        await self._call("Event", "", self._core.create_namespaced_event, ns, body)

    # --- the operator's own HMAC key ---
    async def load_or_create_hmac_key(self, namespace: str, name: str) -> bytes:
        """The stable key behind every credentials version: created once, then only read, so an operator
        restart computes the same versions and rolls nothing."""
        for _ in range(3):
            existing = await self.get_secret(namespace, name)
            if existing is not None:
                raw = (existing.get("data") or {}).get("key", "")
                key = base64.b64decode(raw)
                if len(key) < 32:
                    raise KubeError(
                        422,
                        "InvalidHmacKey",
                        "the HMAC key Secret holds fewer than 32 bytes",
                        kind="Secret",
                        name=name,
                    )
                return key
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/managed-by": "celigo-operator"},
                },
                "type": "Opaque",
                "data": {"key": base64.b64encode(secrets.token_bytes(32)).decode()},
            }
            try:
                await self.create_secret(body)
            except KubeError as exc:
                if not exc.conflict:
                    raise
        raise KubeError(409, "Conflict", "could not read or create the HMAC key", kind="Secret", name=name)
