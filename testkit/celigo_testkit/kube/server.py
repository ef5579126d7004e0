"""The emulated kube-apiserver: routing, discovery, CRUD, patch, watch, finalizers, GC, faults, request log.

All object logic is synchronous on the emulator loop (see store.py), so a handler's read-modify-write
cannot interleave with another request, the garbage collector or the workload controller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from . import errors
from .patching import json_patch, merge_patch, strategic_merge_patch
from .protobuf import PROTOBUF, decode_object
from .resources import BUILTIN_RESOURCES, ResourceInfo, resources_from_crd
from .store import Store
from .types import ChangeEvent, RequestRecord
from .watch import WatchSpec, serve_watch

if TYPE_CHECKING:
    from .types import EmulatorSettings, FaultInjector

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
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
TABLE_MARK = "as=Table"

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must"
    " start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start"
    " and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic"
    " character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for"
    " validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
# Built-ins whose objects carry metadata.generation (custom resources always do).
GENERATION_RESOURCES = {
    "deployments.apps",
    "replicasets.apps",
    "statefulsets.apps",
    "daemonsets.apps",
    "pods",
    "poddisruptionbudgets.policy",
    "networkpolicies.networking.k8s.io",
    "customresourcedefinitions.apiextensions.k8s.io",
}
FOREGROUND = "foregroundDeletion"
# map[string]string fields of built-in types and the Go struct that holds them (for decoder messages)
_STRING_MAPS = {
    "labels": "ObjectMeta",
    "annotations": "ObjectMeta",
    "matchLabels": "LabelSelector",
    "nodeSelector": "PodSpec",
    "data": "",  # ConfigMap.data / Secret.data: the top-level struct
    "stringData": "",
}
DELETE_RETURNS_OBJECT = {"namespaces", "pods", "services"}


ANNOTATIONS_LIMIT = 256 * 1024
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric"
    " character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"
    " '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start"
    " and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for"
    " validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def qualified_name_errors(value: str) -> list[str]:
    """validation.IsQualifiedName: label keys and annotation keys ([prefix/]name)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errs.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN.match(prefix):
                errs.append("prefix part " + _SUBDOMAIN_MSG)
    else:
        return [
            "a qualified name "
            + _QUALIFIED_NAME_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.match(name):
        errs.append("name part " + _QUALIFIED_NAME_MSG)
    return errs


def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def now_rfc3339() -> str:
    """Second-precision UTC timestamp as the API server writes metav1.Time."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n: int = 5) -> str:
    """generateName suffix alphabet of the real server (no vowels, no confusable digits)."""
    return "".join(random.choice(NAME_CHARS) for _ in range(n))


def manager_from_user_agent(user_agent: str) -> str:
    """Default field manager: the User-Agent up to the first '/' (as the real server truncates it)."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128] if user_agent else "unknown"


def fields_v1(value: Any) -> dict:
    """A FieldsV1-style set of the fields present in value (lists of named items keyed by name)."""
    out: dict[str, Any] = {}
    if not isinstance(value, dict):
        return out
    for key, sub in value.items():
        if isinstance(sub, dict):
            out[f"f:{key}"] = fields_v1(sub)
        elif isinstance(sub, list) and sub and all(isinstance(i, dict) and "name" in i for i in sub):
            out[f"f:{key}"] = {
                "k:" + json.dumps({"name": i["name"]}, separators=(",", ":")): {".": {}, **fields_v1(i)}
                for i in sub
            }
        elif isinstance(sub, list) and key in ("finalizers",):
            out[f"f:{key}"] = {".": {}, **{"v:" + json.dumps(v): {} for v in sub}}
        else:
            out[f"f:{key}"] = {}
    return out


@dataclass
class WriteContext:
    """Who writes and how (query parameters and headers of one request)."""

    manager: str
    field_validation: str = "Warn"
    dry_run: bool = False
    operation: str = "Update"
    warnings: list[str] = field(default_factory=list)


class Registry:
    """The served resource types: built-ins plus the versions of every established CRD."""

    def __init__(self) -> None:
        self.builtin: list[ResourceInfo] = list(BUILTIN_RESOURCES)
        self.crds: dict[str, list[ResourceInfo]] = {}
        self._index: dict[tuple[str, str, str], ResourceInfo] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        self._index = {(i.group, i.version, i.plural): i for i in self.all()}

    def all(self) -> list[ResourceInfo]:
        out = list(self.builtin)
        for infos in self.crds.values():
            out.extend(infos)
        return out

    def lookup(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._index.get((group, version, plural))

    def by_group_resource(self, group_resource: str) -> ResourceInfo | None:
        """The storage-version info of a group_resource ("deployments.apps")."""
        found = [i for i in self.all() if i.group_resource == group_resource]
        for i in found:
            if i.storage:
                return i
        return found[0] if found else None

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        for i in self.all():
            if i.api_version == api_version and i.kind == kind:
                return i
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred (storage) first; the core group is ''."""
        out: dict[str, list[str]] = {}
        for i in self.all():
            versions = out.setdefault(i.group, [])
            if i.version not in versions:
                if i.storage:
                    versions.insert(0, i.version)
                else:
                    versions.append(i.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for i in self.all() if i.group == group and i.version == version]

    def set_crd(self, name: str, infos: list[ResourceInfo]) -> None:
        self.crds[name] = infos
        self._rebuild()

    def drop_crd(self, name: str) -> None:
        self.crds.pop(name, None)
        self._rebuild()


NAMESPACES = next(i for i in BUILTIN_RESOURCES if i.plural == "namespaces")
CRDS = next(i for i in BUILTIN_RESOURCES if i.plural == "customresourcedefinitions")


class Core:
    """Object semantics independent of HTTP, shared by the handlers, GC and the workload controller."""

    def __init__(self, store: Store, registry: Registry, *, namespace_delay: float = 0.0) -> None:
        self.store = store
        self.registry = registry
        self.gc_dirty = True
        self.namespace_delay = namespace_delay
        self._terminating_since: dict[str, float] = {}
        store.add_listener(self._on_change)

    def _on_change(self, ev: ChangeEvent) -> None:
        """Wake the garbage collector for deletions and for objects that name owners."""
        if (
            ev.type == "DELETED"
            or ev.obj["metadata"].get("ownerReferences")
            or ev.obj["metadata"].get("deletionTimestamp")
        ):
            self.gc_dirty = True

    # ---- helpers ---------------------------------------------------------------------------------
    def render(self, info: ResourceInfo, obj: dict) -> dict:
        """The stored object as seen through info's version (apiVersion rewritten for CR versions)."""
        if obj.get("apiVersion") != info.api_version:
            obj = dict(obj)
            obj["apiVersion"] = info.api_version
        return obj

    def tracks_generation(self, info: ResourceInfo) -> bool:
        return info.custom or info.group_resource in GENERATION_RESOURCES

    def _spec_part(self, info: ResourceInfo, obj: dict) -> dict:
        skip = {"metadata", "apiVersion", "kind"}
        if info.has_subresource("status"):
            skip.add("status")
        return {k: v for k, v in obj.items() if k not in skip}

    def namespace_state(self, namespace: str) -> dict | None:
        return self.store.get(NAMESPACES.group_resource, "", namespace)

    def validate_name(self, info: ResourceInfo, name: str) -> None:
        """422 on a name the real server rejects for this type."""
        if info.plural == "namespaces":
            pattern, msg, limit = _DNS1123_LABEL, _LABEL_MSG, 63
        elif info.plural == "services":
            pattern, msg, limit = _DNS1035_LABEL, _DNS1035_MSG, 63
        else:
            pattern, msg, limit = _DNS1123_SUBDOMAIN, _SUBDOMAIN_MSG, 253
        causes = []
        if len(name) > limit:
            causes.append(
                errors.FieldError.invalid("metadata.name", name, f"must be no more than {limit} characters")
            )
        if not pattern.match(name):
            causes.append(errors.FieldError.invalid("metadata.name", name, msg))
        if causes:
            raise errors.invalid(info, name, causes)

    def _validate_metadata(self, info: ResourceInfo, obj: dict, name: str) -> None:
        """Label and annotation rules of ValidateObjectMeta (every kind): a cluster refuses these with 422."""
        meta = obj.get("metadata") or {}
        causes: list[errors.FieldError] = []
        for key, value in (meta.get("labels") or {}).items():
            causes += [
                errors.FieldError.invalid("metadata.labels", key, m) for m in qualified_name_errors(key)
            ]
            causes += [
                errors.FieldError.invalid("metadata.labels", value, m)
                for m in label_value_errors(value or "")
            ]
        annotations = meta.get("annotations") or {}
        for key in annotations:
            causes += [
                errors.FieldError.invalid("metadata.annotations", key, m)
                for m in qualified_name_errors(key.lower())
            ]
        if sum(len(k) + len(v or "") for k, v in annotations.items()) > ANNOTATIONS_LIMIT:
            causes.append(errors.FieldError.too_long("metadata.annotations", ANNOTATIONS_LIMIT))
        if causes:
            raise errors.invalid(info, name, causes)

    def _process(self, info: ResourceInfo, obj: dict, ctx: WriteContext, name: str) -> None:
        """Defaults and validation: built-in defaults, or the CRD's structural schema."""
        self._validate_metadata(info, obj, name)
        if info.custom:
            from .schema import process_custom_resource

            ctx.warnings.extend(
                process_custom_resource(info, obj, field_validation=ctx.field_validation, name=name)
            )
        else:
            from .defaults import apply_defaults

            apply_defaults(info, obj)
        if info.group_resource == CRDS.group_resource:
            self._validate_crd(obj)

    def _validate_crd(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        name = obj["metadata"]["name"]
        expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
        causes = []
        if name != expected:
            causes.append(
                errors.FieldError.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')
            )
        if not names.get("kind"):
            causes.append(errors.FieldError.required("spec.names.kind"))
        versions = spec.get("versions") or []
        if not versions:
            causes.append(
                errors.FieldError.required(
                    "spec.versions", "must have exactly one version marked as storage version"
                )
            )
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(
                errors.FieldError.invalid(
                    "spec.versions", versions, "must have exactly one version marked as storage version"
                )
            )
        if causes:
            raise errors.invalid(CRDS, name, causes)

    def _crd_status(self, obj: dict) -> None:
        spec = obj.get("spec") or {}
        names = dict(spec.get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        old_conditions = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
        ts = now_rfc3339()

        def cond(ctype: str, reason: str, message: str) -> dict:
            prev = old_conditions.get(ctype)
            if prev and prev.get("status") == "True":
                return prev
            return {
                "type": ctype,
                "status": "True",
                "lastTransitionTime": ts,
                "reason": reason,
                "message": message,
            }

        stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        previous = (obj.get("status") or {}).get("storedVersions") or []
        obj["status"] = {
            "conditions": [
                cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": names,
            "storedVersions": previous + [v for v in stored if v not in previous],
        }

    def _managed(
        self, old: dict | None, new: dict, ctx: WriteContext, subresource: str | None, info: ResourceInfo
    ) -> None:
        """Record the writer in managedFields (one entry per manager, operation and subresource)."""
        entries = list((old or {}).get("metadata", {}).get("managedFields") or [])
        if subresource == "status":
            part = {"status": new.get("status")} if "status" in new else {}
        else:
            part = {k: v for k, v in new.items() if k not in ("apiVersion", "kind", "status")}
            if "status" in new and not info.has_subresource("status"):
                part["status"] = new["status"]
            meta = {
                k: v
                for k, v in (part.get("metadata") or {}).items()
                if k in ("labels", "annotations", "finalizers", "ownerReferences")
            }
            part["metadata"] = meta
            if not meta:
                part.pop("metadata")
        entry: dict[str, Any] = {
            "manager": ctx.manager,
            "operation": ctx.operation,
            "apiVersion": new.get("apiVersion", ""),
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(part),
        }
        if subresource:
            entry["subresource"] = subresource
        entries = [
            e
            for e in entries
            if not (
                e.get("manager") == ctx.manager
                and e.get("operation") == ctx.operation
                and e.get("subresource") == entry.get("subresource")
            )
        ]
        entries.append(entry)
        new["metadata"]["managedFields"] = entries

    # ---- create ----------------------------------------------------------------------------------
    def create(self, info: ResourceInfo, namespace: str | None, body: dict, ctx: WriteContext) -> dict:
        obj = copy.deepcopy(body)
        self._check_type(info, obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if info.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or body_ns or "default"
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        name = meta.get("name") or ""
        if not name:
            prefix = meta.get("generateName") or ""
            if not prefix:
                raise errors.invalid(
                    info,
                    "",
                    [errors.FieldError.required("metadata.name", "name or generateName is required")],
                )
            name = prefix + random_suffix()
            meta["name"] = name
        self.validate_name(info, name)
        if info.namespaced:
            ns_obj = self.namespace_state(namespace or "")
            if ns_obj is None:
                raise errors.not_found(NAMESPACES, namespace or "")
            if ns_obj["metadata"].get("deletionTimestamp"):
                raise errors.namespace_terminating(info, name, namespace or "")
        if self.store.get(info.group_resource, namespace or "", name) is not None:
            raise errors.already_exists(info, name)
        for k in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = ""
        meta["creationTimestamp"] = now_rfc3339()
        if self.tracks_generation(info):
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        obj["apiVersion"] = info.api_version
        obj["kind"] = info.kind
        if info.has_subresource("status") and info.plural not in ("namespaces",):
            obj.pop("status", None)
        self._process(info, obj, ctx, name)
        if info.group_resource == CRDS.group_resource:
            obj["metadata"].setdefault("finalizers", [])
            if "customresourcecleanup.apiextensions.k8s.io" not in obj["metadata"]["finalizers"]:
                obj["metadata"]["finalizers"].append("customresourcecleanup.apiextensions.k8s.io")
            self._crd_status(obj)
        self._managed(None, obj, ctx, None, info)
        self._order_metadata(obj)
        if ctx.dry_run:
            obj["metadata"]["resourceVersion"] = str(self.store.resource_version)
            return obj
        stored = self.store.put(info.group_resource, obj)
        if info.group_resource == CRDS.group_resource:
            self.registry.set_crd(name, resources_from_crd(stored))
        return stored

    def _check_type(self, info: ResourceInfo, obj: dict) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {info.kind}): "
                f"couldn't get version/kind; kind {kind!r} does not match"
            )
        if api_version and api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.api_version})"
            )

        if not info.custom and info.group_resource != CRDS.group_resource:
            self._check_string_maps(info, obj, "")

    def _check_string_maps(self, info: ResourceInfo, value: Any, path: str) -> None:
        """map[string]string fields of built-in types (labels, selectors, ...) refuse other JSON types with the
        decoder's 400, as the real server does before any validation."""
        if isinstance(value, list):
            for item in value:
                self._check_string_maps(info, item, path)
            return
        if not isinstance(value, dict):
            return
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            struct = _STRING_MAPS.get(key)
            if struct == "":
                struct = info.kind if not path else None
            elif struct == "ObjectMeta" and not path.endswith("metadata"):
                struct = None
            elif struct == "LabelSelector" and not path.endswith("selector"):
                struct = None
            elif struct == "PodSpec" and not path.endswith("spec"):
                struct = None
            if struct and isinstance(sub, dict):
                for v in sub.values():
                    if v is not None and not isinstance(v, str):
                        jtype = {bool: "bool", dict: "object", list: "array"}.get(type(v), "number")
                        raise errors.bad_request(
                            f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: json: '
                            f"cannot unmarshal {jtype} into Go struct field {struct}.{sub_path} of type string"
                        )
            elif isinstance(sub, dict | list):
                self._check_string_maps(info, sub, sub_path)

    @staticmethod
    def _order_metadata(obj: dict) -> None:
        """Key order like the real server (name, generateName, namespace, uid, ... ) for readable YAML."""
        order = [
            "name",
            "generateName",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "labels",
            "annotations",
            "ownerReferences",
            "finalizers",
            "managedFields",
        ]
        meta = obj["metadata"]
        obj["metadata"] = {k: meta[k] for k in order if k in meta} | {
            k: v for k, v in meta.items() if k not in order
        }
        head = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
        rest = {k: v for k, v in obj.items() if k not in head}
        obj.clear()
        obj.update(head)
        obj.update(rest)

    # ---- update / patch --------------------------------------------------------------------------
    def get_or_404(self, info: ResourceInfo, namespace: str, name: str) -> dict:
        obj = self.store.get(info.group_resource, namespace, name)
        if obj is None:
            raise errors.not_found(info, name)
        return obj

    def replace(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        body: dict,
        ctx: WriteContext,
        subresource: str | None,
    ) -> dict:
        """PUT: optimistic concurrency on resourceVersion, then the common update path."""
        self._check_type(info, body)
        meta = body.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if info.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        old = self.get_or_404(info, namespace, name)
        rv = meta.get("resourceVersion")
        if rv:
            if rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(info, name)
        elif info.custom:
            raise errors.invalid(
                info,
                name,
                [
                    errors.cause(
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        return self.update(info, old, body, ctx, subresource)

    def patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        patch_body: Any,
        patch_type: str,
        ctx: WriteContext,
        subresource: str | None,
    ) -> dict:
        old = self.store.get(info.group_resource, namespace, name)
        if old is None:
            if patch_type == "apply":
                return self._apply_create(info, namespace, name, patch_body, ctx)
            raise errors.not_found(info, name)
        current = self.render(info, copy.deepcopy(old))
        if patch_type == "json":
            patched = json_patch(current, patch_body)
        elif patch_type == "merge":
            if not isinstance(patch_body, dict):
                raise errors.bad_request(
                    "json: cannot unmarshal array into Go value of type map[string]interface {}"
                )
            patched = merge_patch(current, patch_body)
        elif patch_type == "strategic":
            patched = strategic_merge_patch(current, patch_body)
        else:
            patched = merge_patch(current, patch_body)
        if not isinstance(patched.get("metadata"), dict):
            patched["metadata"] = {}
        if not info.custom and info.group_resource != CRDS.group_resource:
            self._check_string_maps(info, patched, "")
        prv = patched["metadata"].get("resourceVersion")
        if prv and prv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(info, name)
        if patched["metadata"].get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({patched['metadata'].get('name')}) does not match the name on the"
                f" URL ({name})"
            )
        return self.update(info, old, patched, ctx, subresource)

    def _apply_create(
        self, info: ResourceInfo, namespace: str, name: str, body: Any, ctx: WriteContext
    ) -> dict:
        if not isinstance(body, dict):
            raise errors.bad_request("error decoding YAML: the apply configuration must be an object")
        body = copy.deepcopy(body)
        body.setdefault("metadata", {})["name"] = name
        if info.namespaced:
            body["metadata"].setdefault("namespace", namespace)
        return self.create(info, namespace if info.namespaced else None, body, ctx)

    def update(
        self, info: ResourceInfo, old: dict, new_in: dict, ctx: WriteContext, subresource: str | None
    ) -> dict:
        """The common write path of PUT and PATCH: status rules, immutables, generation, no-op, finalizers."""
        name = old["metadata"]["name"]
        has_status = info.has_subresource("status")
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in new_in:
                new["status"] = copy.deepcopy(new_in["status"])
            else:
                new.pop("status", None)
        elif subresource == "finalize":
            new = copy.deepcopy(old)
            if "spec" in new_in:
                new["spec"] = copy.deepcopy(new_in["spec"])
        else:
            new = copy.deepcopy(new_in)
            if has_status:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
        new["apiVersion"] = info.api_version
        new["kind"] = info.kind
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        old_meta = old["metadata"]
        for k in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "generateName",
        ):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        for k in ("labels", "annotations"):
            if meta.get(k) is None or meta.get(k) == {}:
                meta.pop(k, None)
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if not meta.get("ownerReferences"):
            meta.pop("ownerReferences", None)
        if old_meta.get("deletionTimestamp"):
            added = [f for f in meta.get("finalizers", []) if f not in (old_meta.get("finalizers") or [])]
            if added:
                raise errors.invalid(
                    info,
                    name,
                    [
                        errors.FieldError.forbidden(
                            "metadata.finalizers",
                            "no new finalizers can be added if the object is being deleted, found new finalizers "
                            "[]string{" + ", ".join(json.dumps(f) for f in added) + "}",
                        )
                    ],
                )
        self._process(info, new, ctx, name)
        if info.group_resource == CRDS.group_resource:
            self._crd_status(new)
        if self.tracks_generation(info):
            if self._spec_part(info, new) != self._spec_part(info, old):
                meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if self._same(old, new):
            return old
        self._managed(old, new, ctx, subresource, info)
        self._order_metadata(new)
        if ctx.dry_run:
            return new
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._remove(info, new)
        stored = self.store.put(info.group_resource, new)
        if info.group_resource == CRDS.group_resource:
            self.registry.set_crd(name, resources_from_crd(stored))
        return stored

    @staticmethod
    def _same(old: dict, new: dict) -> bool:
        def strip(o: dict) -> dict:
            o = dict(o)
            m = dict(o.get("metadata") or {})
            m.pop("managedFields", None)
            m.pop("resourceVersion", None)
            o["metadata"] = m
            return o

        return strip(old) == strip(new)

    # ---- delete ----------------------------------------------------------------------------------
    def delete(self, info: ResourceInfo, namespace: str, name: str, options: dict, ctx: WriteContext) -> dict:
        """DELETE: finalizers make it a marked deletion; otherwise the object goes (GC handles dependents)."""
        old = self.get_or_404(info, namespace, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise errors.ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {info.group_resource} {json.dumps(name)}: Precondition failed:"
                f" UID in precondition: {pre['uid']}, UID in object meta: {old['metadata'].get('uid')}",
                {"name": name, **({"group": info.group} if info.group else {}), "kind": info.plural},
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise errors.ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {info.group_resource} {json.dumps(name)}: Precondition failed:"
                f" ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta:"
                f" {old['metadata']['resourceVersion']}",
                {"name": name, **({"group": info.group} if info.group else {}), "kind": info.plural},
            )
        if ctx.dry_run:
            return old
        policy = options.get("propagationPolicy") or "Background"
        if policy == "Orphan":
            self._orphan(old["metadata"]["uid"])
        if info.plural == "namespaces" and not info.group:
            return self._terminate_namespace(old)
        if (
            policy == "Foreground"
            and not old["metadata"].get("deletionTimestamp")
            and self._dependents(old["metadata"]["uid"])
        ):
            old = copy.deepcopy(old)
            old["metadata"]["finalizers"] = [*(old["metadata"].get("finalizers") or []), FOREGROUND]
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return old
            new = copy.deepcopy(old)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if self.tracks_generation(info):
                new["metadata"]["generation"] = int(new["metadata"].get("generation") or 0) + 1
            self._order_metadata(new)
            self.gc_dirty = True
            return self.store.put(info.group_resource, new)
        return self._remove(info, old)

    def _remove(self, info: ResourceInfo, obj: dict) -> dict:
        meta = obj["metadata"]
        final = self.store.remove(info.group_resource, meta.get("namespace", ""), meta["name"]) or obj
        self.gc_dirty = True
        if info.group_resource == CRDS.group_resource:
            self.registry.drop_crd(meta["name"])
        return final

    def _dependents(self, uid: str) -> list[tuple[str, dict]]:
        return self.store.dependents(uid)

    def _foreground(self, ctx: WriteContext) -> None:
        """Objects deleted with propagationPolicy=Foreground go once their dependents are gone."""
        for resource, obj in self.store.terminating():
            meta = obj["metadata"]
            if not meta.get("deletionTimestamp") or FOREGROUND not in (meta.get("finalizers") or []):
                continue
            dependents = self._dependents(meta["uid"])
            for dep_resource, dep in dependents:
                dep_info = self.registry.by_group_resource(dep_resource)
                if dep_info is not None and not dep["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(errors.ApiError):
                        self.delete(
                            dep_info,
                            dep["metadata"].get("namespace", ""),
                            dep["metadata"]["name"],
                            {"propagationPolicy": "Foreground"},
                            ctx,
                        )
            info = self.registry.by_group_resource(resource)
            if dependents or info is None:
                self.gc_dirty = True
                continue
            new = copy.deepcopy(obj)
            new["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != FOREGROUND]
            self.update(info, obj, new, ctx, None)

    def _orphan(self, uid: str) -> None:
        for resource, obj in self.store.dependents(uid):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                new = copy.deepcopy(obj)
                kept = [r for r in refs if r.get("uid") != uid]
                if kept:
                    new["metadata"]["ownerReferences"] = kept
                else:
                    new["metadata"].pop("ownerReferences", None)
                self.store.put(resource, new)

    def _terminate_namespace(self, ns: dict) -> dict:
        if ns["metadata"].get("deletionTimestamp"):
            return ns
        new = copy.deepcopy(ns)
        new["metadata"]["deletionTimestamp"] = now_rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new.setdefault("status", {})["phase"] = "Terminating"
        self.gc_dirty = True
        return self.store.put(NAMESPACES.group_resource, new)

    def deleted_status(self, info: ResourceInfo, obj: dict) -> dict:
        details: dict[str, Any] = {"name": obj["metadata"]["name"]}
        if info.group:
            details["group"] = info.group
        details["kind"] = info.plural
        details["uid"] = obj["metadata"].get("uid", "")
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    # ---- controllers: garbage collection, namespace and CRD cleanup ------------------------------
    def collect_garbage(self) -> None:
        """Delete dependents whose owners (by uid) are all gone; finish terminating namespaces and CRDs."""
        if not self.gc_dirty:
            return
        self.gc_dirty = False
        ctx = WriteContext(manager="kube-controller-manager")
        # Only dependents of owners that are gone can be garbage (the store indexes them by owner uid).
        candidates = {
            (resource, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]): (resource, obj)
            for uid in self.store.dangling_owners()
            for resource, obj in self.store.dependents(uid)
        }
        for _key, (resource, obj) in sorted(candidates.items()):
            refs = obj["metadata"].get("ownerReferences") or []
            if not refs or obj["metadata"].get("deletionTimestamp"):
                continue
            if any(self.store.uid_exists(r.get("uid", "")) for r in refs):
                continue
            info = self.registry.by_group_resource(resource)
            if info is None:
                continue
            with contextlib.suppress(errors.ApiError):
                self.delete(info, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], {}, ctx)
        self._foreground(ctx)
        self._namespaces(ctx)
        self._crd_cleanup(ctx)

    def _namespaces(self, ctx: WriteContext) -> None:
        for ns in self.store.items(NAMESPACES.group_resource):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name = ns["metadata"]["name"]
            since = self._terminating_since.setdefault(name, time.monotonic())
            if time.monotonic() - since < self.namespace_delay:
                self.gc_dirty = True  # like the real namespace controller, start a moment later
                continue
            remaining = 0
            for resource in self.store.resources():
                info = self.registry.by_group_resource(resource)
                if info is None or not info.namespaced:
                    continue
                for obj in self.store.items(resource, name):
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        with contextlib.suppress(errors.ApiError):
                            self.delete(info, name, obj["metadata"]["name"], {}, ctx)
            if remaining:
                self.gc_dirty = True
            elif not ns["metadata"].get("finalizers"):
                self.store.remove(NAMESPACES.group_resource, "", name)
                self._terminating_since.pop(name, None)

    def _crd_cleanup(self, ctx: WriteContext) -> None:
        for crd in self.store.items(CRDS.group_resource):
            if not crd["metadata"].get("deletionTimestamp"):
                continue
            name = crd["metadata"]["name"]
            infos = self.registry.crds.get(name) or []
            remaining = 0
            if infos:
                info = infos[0]
                for obj in self.store.items(info.group_resource):
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        with contextlib.suppress(errors.ApiError):
                            self.delete(
                                info, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], {}, ctx
                            )
            if remaining:
                self.gc_dirty = True
                continue
            new = copy.deepcopy(crd)
            new["metadata"]["finalizers"] = [
                f
                for f in new["metadata"].get("finalizers") or []
                if f != "customresourcecleanup.apiextensions.k8s.io"
            ]
            self.update(CRDS, crd, new, ctx, None)


# ================================================================================================
# HTTP layer
# ================================================================================================


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
        if raw.strip():
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

            return json_response(to_table(info, rendered, list_meta=meta))
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

        def render(obj: dict) -> dict:
            out = self.core.render(info, obj)
            if table:
                from .table import to_table

                return to_table(
                    info, [out], list_meta={"resourceVersion": out["metadata"]["resourceVersion"]}
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
            new = copy.deepcopy(obj)
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
