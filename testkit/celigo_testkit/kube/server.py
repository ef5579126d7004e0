"""The emulated kube-apiserver's HTTP layer: routing, discovery, OpenAPI, request decoding, lists, watches,
Tables, faults and the request log, around the object logic of core.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from . import errors
from .core import (
    CRDS,
    DEFAULT_NAMESPACES,
    NAME_CHARS,
    NAMESPACES,
    Core,
    Registry,
    WriteContext,
    manager_from_user_agent,
    now_rfc3339,
)
from .patching import json_patch, merge_patch
from .protobuf import PROTOBUF, decode_object
from .resources import ResourceInfo
from .store import Store
from .types import RequestRecord, clone
from .watch import WatchSpec, serve_watch

if TYPE_CHECKING:
    from .types import EmulatorSettings, FaultInjector

__all__ = ["CRDS", "NAMESPACES", "NAME_CHARS", "ApiServer", "Core", "Registry", "WriteContext", "now_rfc3339"]

log = logging.getLogger(__name__)

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac5b1d9a2b",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}
TABLE_MARK = "as=Table"
DELETE_RETURNS_OBJECT = {"namespaces", "pods", "services"}


@dataclass
class Route:
    """A parsed resource URL."""

    info: ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None


class NotServed(Exception):
    """The path is not served: answer the plain-text 404 of the real server's mux."""


def page_not_found() -> web.Response:
    return web.Response(status=404, text="404 page not found\n", content_type="text/plain")


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type="application/json",
    )
    for w in warnings or []:
        resp.headers.add("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return resp


def error_response(err: errors.ApiError, warnings: list[str] | None = None) -> web.Response:
    body = err.status()
    if not body.get("reason"):
        body.pop("reason", None)  # metav1.Status.reason is omitempty
    return json_response(body, err.code, warnings)


def rbac_verb(method: str, route: Route | None, watch: bool) -> str:
    """The RBAC verb a real authorizer would check for this request."""
    m = method.upper()
    if route is None:
        return m.lower()
    item = route.name is not None
    if m in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if item else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if item else "deletecollection",
    }.get(m, m.lower())


class ApiServer:
    """Builds the aiohttp application around a Core."""

    def __init__(
        self, settings: EmulatorSettings, token: str, faults: FaultInjector, request_log: list[RequestRecord]
    ) -> None:
        self.settings = settings
        self.token = token
        self.faults = faults
        self.request_log = request_log
        self.registry = Registry()
        self.store = Store(history=settings.watch_history)
        self.core = Core(self.store, self.registry, namespace_delay=settings.namespace_delay)
        self.server_address = "127.0.0.1:0"
        self._bootstrap()

    def _bootstrap(self) -> None:
        ctx = WriteContext(manager="kube-apiserver")
        for ns in DEFAULT_NAMESPACES:
            self.core.create(NAMESPACES, None, {"metadata": {"name": ns}}, ctx)

    def app(self) -> web.Application:
        application = web.Application(client_max_size=64 * 1024 * 1024)
        application.router.add_route("*", "/{tail:.*}", self.handle)
        return application

    # ---- routing ---------------------------------------------------------------------------------
    def parse(self, path: str) -> tuple[str, str, list[str]] | None:
        """(group, version, rest-segments) of a resource path, None when not under /api or /apis."""
        segs = [s for s in path.split("/") if s != ""]
        if len(segs) >= 2 and segs[0] == "api":
            return "", segs[1], segs[2:]
        if len(segs) >= 3 and segs[0] == "apis":
            return segs[1], segs[2], segs[3:]
        return None

    def route(self, group: str, version: str, rest: list[str]) -> Route:
        if (
            rest
            and rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace: str | None = rest[1]
            plural, tail = rest[2], rest[3:]
            namespaced_path = True
        else:
            namespace = None
            plural, tail = rest[0], rest[1:]
            namespaced_path = False
        info = self.registry.lookup(group, version, plural)
        if info is None or len(tail) > 2:
            raise NotServed()
        if namespaced_path and not info.namespaced:
            raise NotServed()
        name = tail[0] if tail else None
        sub = tail[1] if len(tail) > 1 else None
        if info.namespaced and not namespaced_path and name is not None:
            raise NotServed()
        if sub is not None and not info.has_subresource(sub):
            raise NotServed()
        return Route(info, namespace, name, sub)

    # ---- request entry ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:

        path = request.path
        route: Route | None = None
        parsed = self.parse(path)
        watch = request.query.get("watch", "") in ("true", "1")
        not_served = False
        if parsed and parsed[2]:
            try:
                route = self.route(*parsed)
            except NotServed:
                not_served = True
        record = RequestRecord(
            verb=rbac_verb(request.method, route, watch),
            api_group=route.info.group if route else (parsed[0] if parsed else ""),
            version=route.info.version if route else (parsed[1] if parsed else ""),
            resource=route.info.plural if route else "",
            subresource=route.subresource or "" if route else "",
            namespace=(route.namespace or "") if route else "",
            name=(route.name or "") if route else "",
            user_agent=request.headers.get("User-Agent", ""),
            method=request.method,
            path=path,
            query=request.query_string,
            status_code=0,
        )
        self.request_log.append(record)
        resp = await self._dispatch(request, route, parsed, watch, not_served, record)
        record.status_code = resp.status
        if route is not None and route.info.deprecated and not resp.prepared and resp.status != 401:
            info = route.info
            text = info.deprecation_warning or f"{info.api_version} {info.kind} is deprecated"
            resp.headers.add("Warning", '299 - "' + text.replace('"', '\\"') + '"')
        return resp

    async def _dispatch(
        self,
        request: web.Request,
        route: Route | None,
        parsed: tuple[str, str, list[str]] | None,
        watch: bool,
        not_served: bool,
        record: RequestRecord,
    ) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return error_response(errors.unauthorized())
        fault = self.faults.match(record, watch)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status and not (fault.drop_watch or fault.expire_watch):
                return self._fault_response(fault, route)
        try:
            if route is not None:
                return await self._resource(request, route, watch, fault)
            if not_served:
                return page_not_found()
            return await self._non_resource(request, parsed)
        except errors.ApiError as err:
            return error_response(err)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug here must still answer like an apiserver, and be visible
            log.exception("emulator: unhandled error serving %s %s", request.method, request.path)
            return error_response(errors.internal_error(f"{type(exc).__name__}: {exc}"))

    def _fault_response(self, fault: Any, route: Route | None) -> web.Response:
        code = int(fault.status)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        if code == 429:
            err = errors.too_many_requests(retry_after_seconds=int(fault.retry_after or 0))
        elif code == 409 and route is not None and route.name:
            err = errors.conflict(route.info, route.name)
        elif code == 504:
            err = errors.timeout(
                "request did not complete within the allotted timeout", int(fault.retry_after or 0)
            )
        elif code == 503:
            err = errors.ApiError(
                503, "ServiceUnavailable", "the server is currently unable to handle the request"
            )
        elif code == 404 and route is not None:
            err = errors.not_found(route.info, route.name or "")
        elif code == 403:
            err = errors.forbidden("forbidden by fault injection")
        else:
            err = errors.internal_error(fault.message or "injected fault")
        resp = error_response(err)
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    # ---- non-resource endpoints -----------------------------------------------------------------
    async def _non_resource(
        self, request: web.Request, parsed: tuple[str, str, list[str]] | None
    ) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            if parsed is None:
                return page_not_found()
            raise errors.method_not_allowed(NAMESPACES, request.method.lower())
        if path == "/version":
            return json_response(SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            return json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                    ],
                }
            )
        if path == "/apis":
            return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        if path.startswith("/openapi/v3"):
            return self._openapi(path, request)
        if path == "/openapi/v2":
            return page_not_found()
        if parsed is not None:
            group, version, rest = parsed
            if not rest:
                return self._group_version_doc(group, version)
        segs = [s for s in path.split("/") if s]
        if len(segs) == 2 and segs[0] == "apis":
            for g in self._groups():
                if g["name"] == segs[1]:
                    return json_response({"kind": "APIGroup", "apiVersion": "v1", **g})
        return page_not_found()

    def _groups(self) -> list[dict]:
        out = []
        for group, versions in self.registry.group_versions().items():
            if not group:
                continue
            vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            out.append({"name": group, "versions": vs, "preferredVersion": vs[0]})
        return out

    def _group_version_doc(self, group: str, version: str) -> web.Response:
        infos = self.registry.in_group_version(group, version)
        if not infos:
            return page_not_found()
        resources = []
        for i in sorted(infos, key=lambda x: x.plural):
            entry: dict[str, Any] = {
                "name": i.plural,
                "singularName": i.singular,
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": list(i.verbs),
            }
            if i.short_names:
                entry["shortNames"] = list(i.short_names)
            if i.categories:
                entry["categories"] = list(i.categories)
            entry["storageVersionHash"] = base64.b64encode(
                hashlib.sha256(f"{i.group}/{i.version}/{i.kind}".encode()).digest()[:8]
            ).decode()
            resources.append(entry)
            for sub in i.subresources:
                if sub == "scale":
                    resources.append(
                        {
                            "name": f"{i.plural}/scale",
                            "singularName": "",
                            "namespaced": i.namespaced,
                            "group": "autoscaling",
                            "version": "v1",
                            "kind": "Scale",
                            "verbs": ["get", "patch", "update"],
                        }
                    )
                elif sub == "finalize":
                    resources.append(
                        {
                            "name": f"{i.plural}/finalize",
                            "singularName": "",
                            "namespaced": i.namespaced,
                            "kind": i.kind,
                            "verbs": ["update"],
                        }
                    )
                else:
                    resources.append(
                        {
                            "name": f"{i.plural}/{sub}",
                            "singularName": "",
                            "namespaced": i.namespaced,
                            "kind": i.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                    )
        gv = f"{group}/{version}" if group else version
        return json_response(
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
        )

    def _openapi(self, path: str, request: web.Request) -> web.Response:
        from .openapi import openapi_v3_document, openapi_v3_root

        gvs: list[tuple[str, str]] = []
        for group, versions in self.registry.group_versions().items():
            for v in versions:
                gvs.append((group, v))
        if path == "/openapi/v3":
            root = openapi_v3_root(gvs)
            for key in root.get("paths", {}):
                g, v = self._gv_of_openapi_key(key)
                doc = openapi_v3_document(g, v, self.registry.in_group_version(g, v))
                digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
                root["paths"][key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
            return json_response(root)
        key = path[len("/openapi/v3/") :]
        g, v = self._gv_of_openapi_key(key)
        infos = self.registry.in_group_version(g, v)
        if not infos:
            return page_not_found()
        resp = json_response(openapi_v3_document(g, v, infos))
        if request.query.get("hash"):
            resp.headers["Cache-Control"] = "public, immutable"
        return resp

    @staticmethod
    def _gv_of_openapi_key(key: str) -> tuple[str, str]:
        segs = key.split("/")
        if segs[0] == "api" and len(segs) == 2:
            return "", segs[1]
        if segs[0] == "apis" and len(segs) == 3:
            return segs[1], segs[2]
        return "\0", "\0"

    # ---- resource endpoints ---------------------------------------------------------------------
    def _ctx(self, request: web.Request) -> WriteContext:
        q = request.query
        manager = q.get("fieldManager") or manager_from_user_agent(request.headers.get("User-Agent", ""))
        fv = q.get("fieldValidation") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f"fieldValidation parameter unsupported: {fv}; valid values are Strict, Warn, Ignore"
            )
        dry = q.getall("dryRun", [])
        for d in dry:
            if d != "All":
                raise errors.bad_request(f"unsupported dry run option: {d}")
        return WriteContext(manager=manager, field_validation=fv, dry_run=bool(dry))

    async def _body(self, request: web.Request, *, patch: bool = False) -> tuple[Any, str]:
        ctype = (request.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        raw = await request.read()
        if patch:
            kinds = {
                "application/json-patch+json": "json",
                "application/merge-patch+json": "merge",
                "application/strategic-merge-patch+json": "strategic",
                "application/apply-patch+yaml": "apply",
                "application/apply-patch+cbor": "unsupported",
            }
            kind = kinds.get(ctype)
            if kind is None or kind == "unsupported":
                raise errors.unsupported_media_type(
                    ctype,
                    (
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/strategic-merge-patch+json",
                        "application/apply-patch+yaml",
                    ),
                )
        else:
            if ctype == PROTOBUF:
                return decode_object(raw), "protobuf"
            if ctype not in ("application/json", "application/yaml", "*/*"):
                raise errors.unsupported_media_type(ctype)
            kind = "yaml" if ctype == "application/yaml" else "json"
        try:
            if kind in ("yaml", "apply"):
                data = yaml.safe_load(raw.decode() or "null")
            else:
                data = json.loads(raw.decode() or "null")
        except (ValueError, yaml.YAMLError) as exc:
            if patch:
                raise errors.bad_request(f"error decoding patch: {exc}") from None
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
        if not patch and not isinstance(data, dict):
            raise errors.bad_request(
                "couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{'array' if isinstance(data, list) else 'string'} into Go value of type struct "
                '{ APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
            )
        return data, kind

    def _wants_table(self, request: web.Request) -> bool:
        return TABLE_MARK in request.headers.get("Accept", "")

    @staticmethod
    def _include_object(request: web.Request) -> str:
        """includeObject of a Table request: None, Metadata (the default) or Object (the full object)."""
        value = request.query.get("includeObject") or "Metadata"
        if value not in ("None", "Metadata", "Object"):
            raise errors.bad_request(
                f"includeObject: Invalid value: {errors.go_quote(value)}: must be 'Metadata', 'Object', 'None',"
                " or empty"
            )
        return value

    async def _resource(
        self, request: web.Request, route: Route, watch: bool, fault: Any
    ) -> web.StreamResponse:
        info = route.info
        method = request.method
        ns = route.namespace or ""
        if route.name is None:
            if method == "GET":
                if watch:
                    return await self._watch(request, route, fault)
                return self._list(request, route)
            if info.namespaced and route.namespace is None:
                # across all namespaces only list and watch are served
                raise errors.method_not_allowed(info, "create" if method == "POST" else method.lower())
            if method == "POST":
                ctx = self._ctx(request)
                body, _ = await self._body(request)
                obj = self.core.create(info, route.namespace, body, ctx)
                return json_response(self.core.render(info, obj), 201, ctx.warnings)
            if method == "DELETE":
                return await self._delete_collection(request, route)
            raise errors.method_not_allowed(info, method.lower())
        name = route.name
        if route.subresource == "scale":
            return await self._scale(request, route)
        if method == "GET":
            if watch:
                return await self._watch(request, route, fault)
            obj = self.core.get_or_404(info, ns, name)
            if self._wants_table(request):
                from .table import to_table

                return json_response(
                    to_table(
                        info,
                        [self.core.render(info, obj)],
                        list_meta={"resourceVersion": obj["metadata"]["resourceVersion"]},
                        include_object=self._include_object(request),
                    )
                )
            return json_response(self.core.render(info, obj))
        if method == "PUT":
            ctx = self._ctx(request)
            body, _ = await self._body(request)
            obj = self.core.replace(info, ns, name, body, ctx, route.subresource)
            return json_response(self.core.render(info, obj), 200, ctx.warnings)
        if method == "PATCH":
            ctx = self._ctx(request)
            body, kind = await self._body(request, patch=True)
            if kind == "strategic" and info.custom:
                raise errors.unsupported_media_type("application/strategic-merge-patch+json")
            if kind == "apply":
                if not request.query.get("fieldManager"):
                    raise errors.invalid(
                        _PATCH_OPTIONS,
                        "",
                        [errors.FieldError.required("fieldManager", "is required for apply patch")],
                    )
                ctx.operation = "Apply"
            obj = self.core.patch(info, ns, name, body, kind, ctx, route.subresource)
            return json_response(self.core.render(info, obj), 200, ctx.warnings)
        if method == "DELETE":
            ctx = self._ctx(request)
            options = await self._delete_options(request)
            obj = self.core.delete(info, ns, name, options, ctx)
            if (
                ctx.dry_run
                or (
                    obj["metadata"].get("deletionTimestamp")
                    and self.store.get(info.group_resource, ns, name) is not None
                )
                or (info.plural in DELETE_RETURNS_OBJECT and not info.group)
            ):
                return json_response(self.core.render(info, obj))
            return json_response(self.core.deleted_status(info, obj))
        raise errors.method_not_allowed(info, method.lower())

    async def _delete_options(self, request: web.Request) -> dict:
        options: dict[str, Any] = {}
        raw = await request.read()
        ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == PROTOBUF and raw:
            options.update(decode_object(raw))
        elif raw.strip():
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
            if isinstance(data, dict):
                options.update(data)
        if request.query.get("propagationPolicy"):
            options["propagationPolicy"] = request.query["propagationPolicy"]
        return options

    def _selectors(self, request: web.Request, route: Route) -> Callable[[dict], bool]:
        q = request.query
        label: Callable[[dict], bool] | None = None
        fsel: Callable[[dict], bool] | None = None
        if q.get("labelSelector") or q.get("fieldSelector"):
            from .selectors import parse_field_selector, parse_label_selector

            if q.get("labelSelector"):
                label = parse_label_selector(q["labelSelector"])
            if q.get("fieldSelector"):
                fsel = parse_field_selector(route.info, q["fieldSelector"])
        ns = route.namespace

        def match(obj: dict) -> bool:
            meta = obj.get("metadata") or {}
            if ns is not None and meta.get("namespace") != ns:
                return False
            if label is not None and not label(meta.get("labels") or {}):
                return False
            return not (fsel is not None and not fsel(obj))

        return match

    def _list(self, request: web.Request, route: Route) -> web.Response:
        info = route.info
        match = self._selectors(request, route)
        rv_param = request.query.get("resourceVersion", "")
        if rv_param and rv_param != "0":
            self._parse_rv(info, rv_param)
        items = [o for o in self.store.items(info.group_resource, route.namespace) if match(o)]
        list_rv = str(self.store.resource_version)
        meta: dict[str, Any] = {"resourceVersion": list_rv}
        cont = request.query.get("continue")
        if cont:
            start = self._decode_continue(cont)
            items = [o for o in items if self._obj_key(o) > start]
        limit_s = request.query.get("limit")
        if limit_s:
            try:
                limit = int(limit_s)
            except ValueError:
                raise errors.bad_request(f'strconv.ParseInt: parsing "{limit_s}": invalid syntax') from None
            if 0 < limit < len(items):
                remaining = len(items) - limit
                items = items[:limit]
                meta["continue"] = self._encode_continue(self._obj_key(items[-1]), list_rv)
                meta["remainingItemCount"] = remaining
        rendered = [self.core.render(info, o) for o in items]
        if self._wants_table(request):
            from .table import to_table

            return json_response(
                to_table(info, rendered, list_meta=meta, include_object=self._include_object(request))
            )
        if not info.custom:
            rendered = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in rendered]
        return json_response(
            {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta, "items": rendered}
        )

    @staticmethod
    def _obj_key(obj: dict) -> str:
        m = obj["metadata"]
        return f"{m.get('namespace', '')}/{m['name']}"

    @staticmethod
    def _encode_continue(key: str, rv: str) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": int(rv), "start": key + "\0"}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @staticmethod
    def _decode_continue(token: str) -> str:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            return str(data["start"]).rstrip("\0")
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
            ) from None

    def _parse_rv(self, info: ResourceInfo, rv: str) -> int:
        """A list/watch resourceVersion; garbage gets what the real server answers (issue #139485):
        HTTP 500 with the storage layer's field error, no reason, no details."""
        try:
            value = int(rv)
            if value < 0 or not rv.isdigit():
                raise ValueError(rv)
            return value
        except ValueError:
            quoted = json.dumps(rv)
            raise errors.ApiError(
                500,
                "",
                f"resourceVersion: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}:"
                " invalid syntax",
            ) from None

    async def _watch(self, request: web.Request, route: Route, fault: Any) -> web.StreamResponse:
        info = route.info
        q = request.query
        match = self._selectors(request, route)
        if route.name is not None:
            base = match

            def match(obj: dict, _base: Callable[[dict], bool] = base) -> bool:
                return obj["metadata"]["name"] == route.name and _base(obj)

        rv_param = q.get("resourceVersion", "")
        since = None if rv_param in ("", "0") else self._parse_rv(info, rv_param)
        initial_events = q.get("sendInitialEvents") == "true"
        if initial_events:
            since = None  # streaming list: the current state first, then a bookmark marking its end
        timeout = self.settings.default_watch_timeout
        if q.get("timeoutSeconds"):
            try:
                timeout = float(int(q["timeoutSeconds"])) * self.settings.watch_timeout_scale
            except ValueError:
                raise errors.bad_request(
                    f'strconv.ParseInt: parsing "{q["timeoutSeconds"]}": invalid syntax'
                ) from None
        table = self._wants_table(request)
        include_object = self._include_object(request) if table else "Metadata"

        def render(obj: dict) -> dict:
            out = self.core.render(info, obj)
            if table:
                from .table import to_table

                return to_table(
                    info,
                    [out],
                    list_meta={"resourceVersion": out["metadata"]["resourceVersion"]},
                    include_object=include_object,
                )
            return out

        def bookmark(rv: int) -> dict:
            return {
                "kind": info.kind,
                "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(rv)},
            }

        spec = WatchSpec(
            resource=info.group_resource,
            match=match,
            render=render,
            bookmark=bookmark,
            since=since,
            timeout=timeout,
            bookmarks=q.get("allowWatchBookmarks") in ("true", "1"),
            bookmark_interval=self.settings.bookmark_interval,
            drop=bool(fault and fault.drop_watch),
            expire=bool(fault and fault.expire_watch),
            initial_events_end=initial_events,
        )
        return await serve_watch(request, self.store, spec)

    async def _delete_collection(self, request: web.Request, route: Route) -> web.Response:
        info = route.info
        if "deletecollection" not in info.verbs:
            raise errors.method_not_allowed(info, "deletecollection")
        ctx = self._ctx(request)
        options = await self._delete_options(request)
        match = self._selectors(request, route)
        deleted = []
        for obj in self.store.items(info.group_resource, route.namespace):
            if match(obj):
                meta = obj["metadata"]
                with contextlib.suppress(errors.ApiError):
                    deleted.append(
                        self.core.delete(info, meta.get("namespace", ""), meta["name"], options, ctx)
                    )
        return json_response(
            {
                "kind": info.list_kind,
                "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": [self.core.render(info, o) for o in deleted],
            }
        )

    async def _scale(self, request: web.Request, route: Route) -> web.Response:
        info = route.info
        ns, name = route.namespace or "", route.name or ""
        obj = self.core.get_or_404(info, ns, name)
        if request.method in ("PUT", "PATCH"):
            ctx = self._ctx(request)
            body, kind = await self._body(request, patch=request.method == "PATCH")
            scale = self._to_scale(info, obj)
            if request.method == "PATCH":
                scale = json_patch(scale, body) if kind == "json" else merge_patch(scale, body)
            else:
                scale = body
            prv = (scale.get("metadata") or {}).get("resourceVersion")
            if prv and prv != obj["metadata"]["resourceVersion"]:
                raise errors.conflict(info, name)
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid(
                    _SCALE,
                    name,
                    [
                        errors.FieldError.invalid(
                            "spec.replicas", replicas, "must be greater than or equal to 0"
                        )
                    ],
                )
            new = clone(obj)
            new.setdefault("spec", {})["replicas"] = replicas
            obj = self.core.update(info, obj, new, ctx, None)
        elif request.method != "GET":
            raise errors.method_not_allowed(info, request.method.lower())
        return json_response(self._to_scale(info, obj))

    @staticmethod
    def _to_scale(info: ResourceInfo, obj: dict) -> dict:
        meta = obj["metadata"]
        status = obj.get("status") or {}
        sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": status.get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items())),
            },
        }


_PATCH_OPTIONS = ResourceInfo(
    group="meta.k8s.io",
    version="v1",
    kind="PatchOptions",
    plural="patchoptions",
    singular="patchoptions",
    namespaced=False,
)
_SCALE = ResourceInfo(
    group="autoscaling", version="v1", kind="Scale", plural="scale", singular="scale", namespaced=True
)
