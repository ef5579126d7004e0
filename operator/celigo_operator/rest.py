"""The Kubernetes API calls the operator makes, sent through the `kubernetes` client's ApiClient without its
generated API classes.

Why: `kubernetes.client.CoreV1Api` is one module of 400-odd generated methods, each wrapped in pydantic's
`validate_call`; importing it costs about 20 MiB of resident memory (AppsV1Api, CustomObjectsApi and the
others a few MiB more), and every method called builds its own validator on first use. The operator calls
about twenty paths. The ApiClient still does what matters: the kubeconfig or in-cluster credentials (and
their refresh), TLS, the connection pool, the user agent, path quoting and JSON encoding.

`CoreV1`, `AppsV1`, `CustomObjects` and `CoordinationV1` offer, for the calls the operator makes, the names
and positional arguments of the generated methods, and behave like them called with `_preload_content=False`:
the urllib3 response, its body already read (`.data`), or `ApiException` for any answer but 2xx. Keyword
query parameters are spelled as in the generated client (`label_selector=`, `dry_run=`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Rest:
    """One request at a time through an ApiClient (thread-safe as the ApiClient is)."""

    def __init__(self, api_client: ApiClient) -> None:
        self.api_client = api_client

    def call(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        content_type: str | None = None,
        _request_timeout: Any = None,
        _preload_content: bool = False,
        **query: Any,
    ) -> Any:
        """The response of `method path` (its body read), or ApiException when the answer is not 2xx."""
        if _preload_content:
            raise TypeError("celigo_operator.rest returns raw responses only (_preload_content=False)")
        headers = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type or JSON
        request = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            path_params=dict(path_params or {}),
            query_params=[(_camel(k), v) for k, v in query.items() if v is not None],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(*request, _request_timeout=_request_timeout)
        response.read()  # the connection goes back to the pool; .data stays readable
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response

    def json(
        self,
        method: str,
        path: str,
        path_params: Mapping[str, str] | None = None,
        body: Any = None,
        **kwargs: Any,
    ) -> Any:
        """The decoded JSON body of `call` ({} when empty)."""
        data = self.call(method, path, path_params, body, **kwargs).data
        return json.loads(data) if data else {}


_NS = "/api/v1/namespaces/{namespace}"


class CoreV1(Rest):
    """Secrets, Pods and Events (core/v1)."""

    def read_namespaced_secret(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.call("GET", _NS + "/secrets/{name}", {"namespace": namespace, "name": name}, **kw)

    def create_namespaced_secret(self, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call("POST", _NS + "/secrets", {"namespace": namespace}, body, **kw)

    def delete_namespaced_secret(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.call("DELETE", _NS + "/secrets/{name}", {"namespace": namespace, "name": name}, **kw)

    def list_namespaced_secret(self, namespace: str, **kw: Any) -> Any:
        return self.call("GET", _NS + "/secrets", {"namespace": namespace}, **kw)

    def list_secret_for_all_namespaces(self, **kw: Any) -> Any:
        return self.call("GET", "/api/v1/secrets", **kw)

    def list_namespaced_pod(self, namespace: str, **kw: Any) -> Any:
        return self.call("GET", _NS + "/pods", {"namespace": namespace}, **kw)

    def list_pod_for_all_namespaces(self, **kw: Any) -> Any:
        return self.call("GET", "/api/v1/pods", **kw)

    def create_namespaced_event(self, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call("POST", _NS + "/events", {"namespace": namespace}, body, **kw)


_APPS_NS = "/apis/apps/v1/namespaces/{namespace}"


class AppsV1(Rest):
    """Deployments (apps/v1)."""

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.call(
            "GET", _APPS_NS + "/deployments/{name}", {"namespace": namespace, "name": name}, **kw
        )

    def create_namespaced_deployment(self, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call("POST", _APPS_NS + "/deployments", {"namespace": namespace}, body, **kw)

    def replace_namespaced_deployment(self, name: str, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call(
            "PUT", _APPS_NS + "/deployments/{name}", {"namespace": namespace, "name": name}, body, **kw
        )

    def list_namespaced_deployment(self, namespace: str, **kw: Any) -> Any:
        return self.call("GET", _APPS_NS + "/deployments", {"namespace": namespace}, **kw)

    def list_deployment_for_all_namespaces(self, **kw: Any) -> Any:
        return self.call("GET", "/apis/apps/v1/deployments", **kw)


_CUSTOM = "/apis/{group}/{version}/namespaces/{namespace}/{plural}"


class CustomObjects(Rest):
    """Custom resources (the CeligoConnectors) and API discovery; patches are JSON merge patches."""

    def get_api_resources(self, group: str, version: str, **kw: Any) -> Any:
        return self.call("GET", "/apis/{group}/{version}", {"group": group, "version": version}, **kw)

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, **kw: Any
    ) -> Any:
        where = {"group": group, "version": version, "namespace": namespace, "plural": plural, "name": name}
        return self.call("GET", _CUSTOM + "/{name}", where, **kw)

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, **kw: Any
    ) -> Any:
        where = {"group": group, "version": version, "namespace": namespace, "plural": plural}
        return self.call("GET", _CUSTOM, where, **kw)

    def list_cluster_custom_object(self, group: str, version: str, plural: str, **kw: Any) -> Any:
        where = {"group": group, "version": version, "plural": plural}
        return self.call("GET", "/apis/{group}/{version}/{plural}", where, **kw)

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **kw: Any
    ) -> Any:
        where = {"group": group, "version": version, "namespace": namespace, "plural": plural, "name": name}
        return self.call("PATCH", _CUSTOM + "/{name}", where, body, content_type=MERGE_PATCH, **kw)

    def patch_namespaced_custom_object_status(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **kw: Any
    ) -> Any:
        where = {"group": group, "version": version, "namespace": namespace, "plural": plural, "name": name}
        return self.call("PATCH", _CUSTOM + "/{name}/status", where, body, content_type=MERGE_PATCH, **kw)


_LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


class CoordinationV1(Rest):
    """Leases (leader election)."""

    def read_namespaced_lease(self, name: str, namespace: str, **kw: Any) -> Any:
        return self.call("GET", _LEASES + "/{name}", {"namespace": namespace, "name": name}, **kw)

    def create_namespaced_lease(self, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call("POST", _LEASES, {"namespace": namespace}, body, **kw)

    def replace_namespaced_lease(self, name: str, namespace: str, body: Any, **kw: Any) -> Any:
        return self.call("PUT", _LEASES + "/{name}", {"namespace": namespace, "name": name}, body, **kw)
