"""OpenAPI v3 documents as kube-apiserver publishes them under ``/openapi/v3``.

kubectl needs them: ``kubectl apply`` looks for the PATCH operation of the object's GVK (tagged with
``x-kubernetes-group-version-kind``) and checks that it takes the ``fieldValidation`` query parameter
(then it validates server-side, else it would validate client-side), computes strategic merge patches
for built-ins from ``components.schemas``, and ``kubectl explain`` walks ``components.schemas`` through
``$ref``/``allOf``. Built-in schemas are the real v1.36 ones (see ``_openapi_builtin``); custom resources
are published from the CRD's structural schema with its descriptions, ``metadata`` as a reference to
ObjectMeta, exactly like the apiextensions OpenAPI builder does.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .resources import ResourceInfo

__all__ = [
    "OBJECT_META",
    "builtin_schemas",
    "custom_resource_list_schema",
    "custom_resource_schema",
    "document_hash",
    "openapi_v3_document",
    "openapi_v3_root",
    "schema_name",
    "v3_schemas_from_json_schema",
]

_REF = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"
OBJECT_META = f"{META}.ObjectMeta"
LIST_META = f"{META}.ListMeta"
STATUS = f"{META}.Status"
DELETE_OPTIONS = f"{META}.DeleteOptions"
PATCH = f"{META}.Patch"
SCALE = "io.k8s.api.autoscaling.v1.Scale"
SERVER_VERSION = "v1.36.0"

API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers should convert"
    " recognized schemas to the latest internal value, and may reject unrecognized values. More info:"
    " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers may infer this from"
    " the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info:"
    " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)
METADATA_DESCRIPTION = (
    "Standard object's metadata. More info:"
    " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
LIST_METADATA_DESCRIPTION = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"

# --- schema names ------------------------------------------------------------------------------------

_GROUP_PACKAGES = {
    "": "io.k8s.api.core",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration",
}


def schema_name(info: ResourceInfo, kind: str | None = None) -> str:
    """The components.schemas key of a kind: ``io.k8s.api.core.v1.Secret`` or, for custom resources, the
    reversed group (``io.celigo-operator.v1alpha1.CeligoConnector``)."""
    kind = kind or info.kind
    if info.custom:
        reversed_group = ".".join(reversed(info.group.split(".")))
        return f"{reversed_group}.{info.version}.{kind}"
    if info.group in _GROUP_PACKAGES:
        package = _GROUP_PACKAGES[info.group]
    elif info.group.endswith(".k8s.io"):
        package = "io.k8s.api." + info.group[: -len(".k8s.io")].split(".")[0]
    else:
        package = "io.k8s.api." + info.group.split(".")[0]
    return f"{package}.{info.version}.{kind}"


# --- built-in component schemas ------------------------------------------------------------------------


@functools.cache
def builtin_schemas() -> Mapping[str, dict[str, Any]]:
    """All built-in component schemas we publish (decoded once from the generated module)."""
    from ._openapi_builtin import DATA

    decoded = json.loads(zlib.decompress(base64.b64decode("".join(DATA))))
    return decoded


def _convert_node(node: Any, *, in_properties: bool = False) -> Any:
    """One JSON-schema node (kubernetes-json-schema style) back into OpenAPI v3 form."""
    if isinstance(node, list):
        return [_convert_node(v) for v in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {k: _convert_node(v) for k, v in node.items()}
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    for key, value in node.items():
        if key in ("$ref", "$schema", "$id"):
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out["type"] = types[0] if len(types) == 1 else types
        elif key == "properties":
            out["properties"] = _convert_node(value, in_properties=True)
        else:
            out[key] = _convert_node(value)
    if ref is not None:
        target = _REF + str(ref).rsplit("/", 1)[-1]
        wrapped: dict[str, Any] = {"allOf": [{"$ref": target}]}
        wrapped.update(out)
        return wrapped
    return out


def v3_schemas_from_json_schema(
    definitions: Mapping[str, Any], roots: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Convert kubernetes-json-schema ``$defs`` (the upstream OpenAPI with nullable types and pinned
    apiVersion/kind enums) back into the v3 components the apiserver serves, for ``roots`` and
    everything they reference. Used to generate ``_openapi_builtin``."""
    wanted: list[str] = []
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        wanted.append(name)
        stack.extend(re.findall(r'"#/\$defs/([^"]+)"', json.dumps(definitions[name])))
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(wanted):
        schema = _convert_node(copy.deepcopy(definitions[name]))
        props = schema.get("properties") or {}
        if schema.get("x-kubernetes-group-version-kind"):
            for key in ("apiVersion", "kind"):
                if isinstance(props.get(key), dict):
                    props[key].pop("enum", None)
        out[name] = schema
    return out


def _refs(schema: Any) -> set[str]:
    return set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))


def _closure(names: Iterable[str], pool: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in out or name not in pool:
            continue
        out[name] = pool[name]
        stack.extend(_refs(pool[name]))
    return out


# --- custom resources --------------------------------------------------------------------------------


def _gvk(info: ResourceInfo, kind: str | None = None) -> dict[str, str]:
    return {"group": info.group, "kind": kind or info.kind, "version": info.version}


def custom_resource_schema(info: ResourceInfo) -> dict[str, Any]:
    """The published schema of a custom resource: the CRD schema with apiVersion, kind and metadata set."""
    base: dict[str, Any] = (
        copy.deepcopy(info.schema)
        if info.schema
        else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    )
    base["type"] = "object"
    props: dict[str, Any] = base.setdefault("properties", {})
    props.setdefault("apiVersion", {"description": API_VERSION_DESCRIPTION, "type": "string"})
    props.setdefault("kind", {"description": KIND_DESCRIPTION, "type": "string"})
    props["metadata"] = {"allOf": [{"$ref": _REF + OBJECT_META}], "description": METADATA_DESCRIPTION}
    base["x-kubernetes-group-version-kind"] = [_gvk(info)]
    return base


def custom_resource_list_schema(info: ResourceInfo) -> dict[str, Any]:
    """``<Kind>List`` as the apiextensions builder publishes it."""
    return {
        "description": f"{info.list_kind} is a list of {info.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": (
                    f"List of {info.plural}. More info:"
                    " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
                ),
                "type": "array",
                "items": {"allOf": [{"$ref": _REF + schema_name(info)}], "default": {}},
            },
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {
                "allOf": [{"$ref": _REF + LIST_META}],
                "description": LIST_METADATA_DESCRIPTION,
                "default": {},
            },
        },
        "x-kubernetes-group-version-kind": [_gvk(info, info.list_kind)],
    }


# --- paths -------------------------------------------------------------------------------------------

_PARAM_DESCRIPTIONS = {
    "allowWatchBookmarks": (
        'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not implement'
        " bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not"
        " assume bookmarks are returned at any specific interval, nor may they assume the server will send any"
        " BOOKMARK event during a session. If this is not a watch, this field is ignored.",
        "boolean",
    ),
    "continue": (
        "The continue option should be set when retrieving more results from the server. Since this value is"
        " server defined, clients may only use the continue value from a previous query result with identical"
        " query parameters (except for the value of continue) and the server may reject a continue value it"
        " does not recognize.",
        "string",
    ),
    "dryRun": (
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun"
        " directive will result in an error response and no further processing of the request. Valid values"
        " are: - All: all dry run stages will be processed",
        "string",
    ),
    "fieldManager": (
        "fieldManager is a name associated with the actor or entity that is making these changes. The value"
        " must be less than or 128 characters long, and only contain printable characters, as defined by"
        " https://golang.org/pkg/unicode/#IsPrint.",
        "string",
    ),
    "fieldSelector": (
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        "string",
    ),
    "fieldValidation": (
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH)"
        " containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown"
        " fields that are silently dropped from the object, and will ignore all but the last duplicate field"
        " that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a"
        " warning via the standard warning response header for each unknown field that is dropped from the"
        " object, and for each duplicate field that is encountered. The request will still succeed if there"
        " are no other errors, and will only persist the last of any duplicate fields. This is the default in"
        " v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be"
        " dropped from the object, or if any duplicate fields are present. The error returned from the server"
        " will contain all unknown and duplicate fields encountered.",
        "string",
    ),
    "force": (
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by'
        " other people. Force flag must be unset for non-apply patch requests.",
        "boolean",
    ),
    "gracePeriodSeconds": (
        "The duration in seconds before the object should be deleted. Value must be non-negative integer. The"
        " value zero indicates delete immediately. If this value is nil, the default grace period for the"
        " specified type will be used. Defaults to a per object value if not specified. zero means delete"
        " immediately.",
        "integer",
    ),
    "labelSelector": (
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        "string",
    ),
    "limit": (
        "limit is a maximum number of responses to return for a list call. If more items exist, the server"
        " will set the `continue` field on the list metadata to a value that can be used with the same initial"
        " query to retrieve the next set of results.",
        "integer",
    ),
    "orphanDependents": (
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the"
        ' dependent objects be orphaned. If true/false, the "orphan" finalizer will be added to/removed from'
        " the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
        "boolean",
    ),
    "propagationPolicy": (
        "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be"
        " set, but not both. The default policy is decided by the existing finalizer set in the"
        " metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' -"
        " orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the"
        " background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
        "string",
    ),
    "resourceVersion": (
        "resourceVersion sets a constraint on what resource versions a request may be served from. See"
        " https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
        "\n\nDefaults to unset",
        "string",
    ),
    "resourceVersionMatch": (
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended"
        " that resourceVersionMatch be set for list calls where resourceVersion is set See"
        " https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
        "\n\nDefaults to unset",
        "string",
    ),
    "sendInitialEvents": (
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will"
        " begin with synthetic events to produce the current state of objects in the collection.",
        "boolean",
    ),
    "timeoutSeconds": (
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or"
        " inactivity.",
        "integer",
    ),
    "watch": (
        "Watch for changes to the described resources and return them as a stream of add, update, and remove"
        " notifications. Specify resourceVersion.",
        "boolean",
    ),
    "pretty": (
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a"
        " browser or command-line HTTP tool (curl and wget).",
        "string",
    ),
}

_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")
_DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")
_DELETECOLLECTION_PARAMS = (
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
)


def _query(name: str) -> dict[str, Any]:
    description, type_ = _PARAM_DESCRIPTIONS[name]
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": type_, "uniqueItems": True},
    }


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": description,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text) if part)


def _gv_prefix(group: str, version: str) -> tuple[str, str]:
    """Operation-id fragment and tag, e.g. ("CoreV1", "core_v1"), ("RbacAuthorizationV1", "rbacAuthorization_v1")."""
    if group.endswith(".k8s.io"):
        group = group[: -len(".k8s.io")]
    name = _camel(group) if group else "Core"
    tag_group = name[:1].lower() + name[1:]
    return f"{name}{_camel(version)}", f"{tag_group}_{version}"


def _op_prefix(info: ResourceInfo) -> tuple[str, str]:
    return _gv_prefix(info.group, info.version)


def _content(schema_ref: str, media: Sequence[str]) -> dict[str, Any]:
    return {m: {"schema": {"$ref": _REF + schema_ref}} for m in media}


def _responses(codes: Mapping[str, str], schema_ref: str, media: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, description in codes.items():
        out[code] = {"description": description, "content": _content(schema_ref, media)}
    out["401"] = {"description": "Unauthorized"}
    return out


def _operation(
    info: ResourceInfo,
    *,
    op_id: str,
    description: str,
    action: str,
    params: Sequence[str],
    responses: Mapping[str, Any],
    gvk: Mapping[str, str],
    request_body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    _, tag = _op_prefix(info)
    op: dict[str, Any] = {"tags": [tag], "description": description, "operationId": op_id}
    if params:
        op["parameters"] = [_query(p) for p in params]
    if request_body is not None:
        op["requestBody"] = request_body
    op["responses"] = dict(responses)
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = dict(gvk)
    return op


def _resource_paths(info: ResourceInfo) -> dict[str, Any]:
    """List/create/deletecollection, get/replace/patch/delete, and the status and scale subresources."""
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    ns_part = "Namespaced" if info.namespaced else ""
    collection = (
        f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    )
    item = f"{collection}/{{name}}"
    ident, _ = _op_prefix(info)
    kind = info.kind
    obj_ref = schema_name(info)
    list_ref = schema_name(info, info.list_kind)
    media = (
        ("application/json", "application/yaml")
        if info.custom
        else (
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        )
    )
    list_media = (
        (*media, "application/json;stream=watch")
        if info.custom
        else (
            *media,
            "application/cbor-seq",
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        )
    )
    patch_media = [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    if not info.custom:
        patch_media.append("application/strategic-merge-patch+json")
    gvk = _gvk(info)
    verbs = set(info.verbs)
    path_params: list[dict[str, Any]] = []
    if info.namespaced:
        path_params.append(
            _path_param("namespace", "object name and auth scope, such as for teams and projects")
        )
    pretty = _query("pretty")
    body = {"content": {"*/*": {"schema": {"$ref": _REF + obj_ref}}}, "required": True}
    patch_body = {"content": {m: {"schema": {"$ref": _REF + PATCH}} for m in patch_media}, "required": True}
    delete_body = {"content": {"*/*": {"schema": {"$ref": _REF + DELETE_OPTIONS}}}}
    paths: dict[str, Any] = {}

    coll: dict[str, Any] = {}
    if "list" in verbs:
        coll["get"] = _operation(
            info,
            op_id=f"list{ident}{ns_part}{kind}",
            description=f"list or watch objects of kind {kind}",
            action="list",
            params=_LIST_PARAMS,
            responses=_responses({"200": "OK"}, list_ref, list_media),
            gvk=gvk,
        )
    if "create" in verbs:
        coll["post"] = _operation(
            info,
            op_id=f"create{ident}{ns_part}{kind}",
            description=f"create {_article(kind)} {kind}",
            action="post",
            params=_WRITE_PARAMS,
            request_body=body,
            responses=_responses({"200": "OK", "201": "Created", "202": "Accepted"}, obj_ref, media),
            gvk=gvk,
        )
    if "deletecollection" in verbs:
        coll["delete"] = _operation(
            info,
            op_id=f"delete{ident}Collection{ns_part}{kind}",
            description=f"delete collection of {kind}",
            action="deletecollection",
            params=_DELETECOLLECTION_PARAMS,
            request_body=delete_body,
            responses=_responses({"200": "OK"}, STATUS, media),
            gvk=gvk,
        )
    if coll:
        coll["parameters"] = [*path_params, pretty]
        paths[collection] = coll

    one: dict[str, Any] = {}
    name_param = _path_param("name", f"name of the {kind}")
    if "get" in verbs:
        one["get"] = _operation(
            info,
            op_id=f"read{ident}{ns_part}{kind}",
            description=f"read the specified {kind}",
            action="get",
            params=(),
            responses=_responses({"200": "OK"}, obj_ref, media),
            gvk=gvk,
        )
    if "update" in verbs:
        one["put"] = _operation(
            info,
            op_id=f"replace{ident}{ns_part}{kind}",
            description=f"replace the specified {kind}",
            action="put",
            params=_WRITE_PARAMS,
            request_body=body,
            responses=_responses({"200": "OK", "201": "Created"}, obj_ref, media),
            gvk=gvk,
        )
    if "delete" in verbs:
        one["delete"] = _operation(
            info,
            op_id=f"delete{ident}{ns_part}{kind}",
            description=f"delete {_article(kind)} {kind}",
            action="delete",
            params=_DELETE_PARAMS,
            request_body=delete_body,
            responses=_responses({"200": "OK", "202": "Accepted"}, obj_ref if info.custom else STATUS, media),
            gvk=gvk,
        )
    if "patch" in verbs:
        one["patch"] = _operation(
            info,
            op_id=f"patch{ident}{ns_part}{kind}",
            description=f"partially update the specified {kind}",
            action="patch",
            params=_PATCH_PARAMS,
            request_body=patch_body,
            responses=_responses({"200": "OK", "201": "Created"}, obj_ref, media),
            gvk=gvk,
        )
    if one:
        one["parameters"] = [name_param, *path_params, pretty]
        paths[item] = one

    if "status" in info.subresources:
        paths[f"{item}/status"] = {
            "get": _operation(
                info,
                op_id=f"read{ident}{ns_part}{kind}Status",
                description=f"read status of the specified {kind}",
                action="get",
                params=(),
                responses=_responses({"200": "OK"}, obj_ref, media),
                gvk=gvk,
            ),
            "put": _operation(
                info,
                op_id=f"replace{ident}{ns_part}{kind}Status",
                description=f"replace status of the specified {kind}",
                action="put",
                params=_WRITE_PARAMS,
                request_body=body,
                responses=_responses({"200": "OK", "201": "Created"}, obj_ref, media),
                gvk=gvk,
            ),
            "patch": _operation(
                info,
                op_id=f"patch{ident}{ns_part}{kind}Status",
                description=f"partially update status of the specified {kind}",
                action="patch",
                params=_PATCH_PARAMS,
                request_body=patch_body,
                responses=_responses({"200": "OK", "201": "Created"}, obj_ref, media),
                gvk=gvk,
            ),
            "parameters": [name_param, *path_params, pretty],
        }
    if "scale" in info.subresources:
        scale_gvk = {"group": "autoscaling", "kind": "Scale", "version": "v1"}
        scale_body = {"content": {"*/*": {"schema": {"$ref": _REF + SCALE}}}, "required": True}
        paths[f"{item}/scale"] = {
            "get": _operation(
                info,
                op_id=f"read{ident}{ns_part}{kind}Scale",
                description=f"read scale of the specified {kind}",
                action="get",
                params=(),
                responses=_responses({"200": "OK"}, SCALE, media),
                gvk=scale_gvk,
            ),
            "put": _operation(
                info,
                op_id=f"replace{ident}{ns_part}{kind}Scale",
                description=f"replace scale of the specified {kind}",
                action="put",
                params=_WRITE_PARAMS,
                request_body=scale_body,
                responses=_responses({"200": "OK", "201": "Created"}, SCALE, media),
                gvk=scale_gvk,
            ),
            "patch": _operation(
                info,
                op_id=f"patch{ident}{ns_part}{kind}Scale",
                description=f"partially update scale of the specified {kind}",
                action="patch",
                params=_PATCH_PARAMS,
                request_body=patch_body,
                responses=_responses({"200": "OK", "201": "Created"}, SCALE, media),
                gvk=scale_gvk,
            ),
            "parameters": [name_param, *path_params, pretty],
        }
    if info.namespaced and "list" in verbs:
        paths[f"{prefix}/{info.plural}"] = {
            "get": _operation(
                info,
                op_id=f"list{ident}{kind}ForAllNamespaces",
                description=f"list or watch objects of kind {kind}",
                action="list",
                params=_LIST_PARAMS,
                responses=_responses({"200": "OK"}, list_ref, list_media),
                gvk=gvk,
            ),
            "parameters": [pretty],
        }
    return paths


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


# --- documents ---------------------------------------------------------------------------------------


def openapi_v3_root(
    groups_versions: Sequence[tuple[str, str]], hashes: Mapping[tuple[str, str], str] | None = None
) -> dict[str, Any]:
    """The ``/openapi/v3`` discovery document: one ``serverRelativeURL`` per group-version.

    ``hashes`` (per (group, version)) should be a digest of the served document so that kubectl's cache
    notices changes; without it a digest of the group-version name is used.
    """
    paths: dict[str, Any] = {}
    for group, version in groups_versions:
        key = f"apis/{group}/{version}" if group else f"api/{version}"
        digest = (hashes or {}).get((group, version)) or hashlib.sha512(key.encode()).hexdigest()[
            :128
        ].upper()
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": dict(sorted(paths.items()))}


def document_hash(document: Mapping[str, Any]) -> str:
    """The ``hash`` query value for a served document (upper-case SHA-512 hex, as the apiserver uses)."""
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()


def openapi_v3_document(group: str, version: str, resources: Sequence[ResourceInfo]) -> dict[str, Any]:
    """The ``/openapi/v3/apis/<group>/<version>`` (or ``api/v1``) document for ``resources``."""
    prefix = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
    ident, tag = _gv_prefix(group, version)
    paths: dict[str, Any] = {
        prefix: {
            "get": {
                "tags": [tag],
                "description": "get available resources",
                "operationId": f"get{ident}APIResources",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": _content(
                            f"{META}.APIResourceList",
                            ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"),
                        ),
                    },
                    "401": {"description": "Unauthorized"},
                },
            }
        }
    }
    builtin = builtin_schemas()
    pool: dict[str, Any] = dict(builtin)
    roots = {STATUS, DELETE_OPTIONS, PATCH, f"{META}.APIResourceList"}
    for info in sorted(resources, key=lambda r: r.plural):
        if info.group != group or info.version != version:
            continue
        paths.update(_resource_paths(info))
        if info.custom:
            pool[schema_name(info)] = custom_resource_schema(info)
            pool[schema_name(info, info.list_kind)] = custom_resource_list_schema(info)
        roots.add(schema_name(info))
        roots.add(schema_name(info, info.list_kind))
        if "scale" in info.subresources:
            roots.add(SCALE)
    schemas = _closure(roots, pool)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": [{"BearerToken": []}],
    }
