"""The emulated kube-apiserver's object logic, independent of HTTP: create, read, update, patch, delete,
finalizers, garbage collection, namespace and CRD cleanup, status/generation rules and managedFields.

All object logic is synchronous on the emulator loop (see store.py), so a handler's read-modify-write
cannot interleave with another request, the garbage collector or the workload controller. The HTTP layer
(server.py) decodes requests into these calls and encodes their answers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import errors, validation
from .patching import json_patch, merge_patch, strategic_merge_patch
from .resources import BUILTIN_RESOURCES, ResourceInfo, resources_from_crd
from .store import Store
from .types import ChangeEvent, clone

NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

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
        self._by_group_resource: dict[str, ResourceInfo] = {}
        self._rebuild()

    def _rebuild(self) -> None:
        infos = self.all()
        self._index = {(i.group, i.version, i.plural): i for i in infos}
        by_gr: dict[str, ResourceInfo] = {}
        for i in infos:  # the storage version of each group_resource, else its first version
            if i.storage or i.group_resource not in by_gr:
                by_gr.setdefault(i.group_resource, i)
                if i.storage:
                    by_gr[i.group_resource] = i
        self._by_group_resource = by_gr

    def all(self) -> list[ResourceInfo]:
        out = list(self.builtin)
        for infos in self.crds.values():
            out.extend(infos)
        return out

    def lookup(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._index.get((group, version, plural))

    def by_group_resource(self, group_resource: str) -> ResourceInfo | None:
        """The storage-version info of a group_resource ("deployments.apps")."""
        return self._by_group_resource.get(group_resource)

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
        causes = validation.validate_name(info, name)
        if causes:
            raise errors.invalid(info, name, causes)

    def _process(
        self, info: ResourceInfo, obj: dict, ctx: WriteContext, name: str, subresource: str | None = None
    ) -> None:
        """Defaults and validation: built-in defaults and field rules, or the CRD's structural schema."""
        if info.custom:
            from .schema import process_custom_resource

            ctx.warnings.extend(
                process_custom_resource(info, obj, field_validation=ctx.field_validation, name=name)
            )
            return
        if subresource == "status":
            # the spec is the stored (defaulted, validated) one; the status strategy checks metadata
            causes = validation.validate_object_meta(obj.get("metadata") or {})
            if causes:
                raise errors.invalid(info, name, causes)
            return
        from .defaults import apply_defaults

        apply_defaults(info, obj)
        validation.validate_builtin(info, obj, name)
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
        obj = clone(body)
        self._check_type(info, obj, ctx)
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

    def _check_type(self, info: ResourceInfo, obj: dict, ctx: WriteContext) -> None:
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if info.custom:
            self._check_custom_type(info, obj)
            return
        if (
            kind
            and kind != info.kind
            and self.registry.by_kind(api_version or info.api_version, kind) is None
        ):
            gv = api_version or info.api_version
            raise errors.bad_request(
                f'{kind} in version "{gv.rsplit("/", 1)[-1]}" cannot be handled as a {info.kind}: no kind'
                f' "{kind}" is registered for version "{gv}" in scheme "pkg/api/legacyscheme/scheme.go:30"'
            )
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
            ctx.warnings.extend(validation.decode_check(info, obj, ctx.field_validation))

    def _check_custom_type(self, info: ResourceInfo, obj: dict) -> None:
        """A custom resource body is decoded as unstructured JSON: kind is required (400), apiVersion must be
        the served group/version (400), and a different kind fails ValidateTypeMeta (422)."""
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if not isinstance(kind, str) or not kind:
            body = json.dumps(obj, separators=(",", ":"))
            summary = body if len(body) <= 30 else body[:30] + " ..."
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {info.kind}): Object 'Kind' is missing in"
                f" '{body}' ({summary})"
            )
        if api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version or ''}) does not match the expected API version "
                f"({info.api_version})"
            )
        if kind != info.kind:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise errors.invalid(
                info, name, [errors.FieldError.invalid("kind", kind, f"must be {info.kind}")]
            )

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
        self._check_type(info, body, ctx)
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
        current = self.render(info, clone(old))
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
            ctx.warnings.extend(validation.decode_check(info, patched, ctx.field_validation))
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
        body = clone(body)
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
            # only status and metadata are written below; the rest is shared with the stored object, which
            # is never mutated
            if info.custom:
                new = clone(old)  # pruning and defaulting work on the whole object
            else:
                new = dict(old)
                new["metadata"] = dict(old["metadata"])
            if "status" in new_in:
                new["status"] = clone(new_in["status"])
            else:
                new.pop("status", None)
        elif subresource == "finalize":
            new = clone(old)
            if "spec" in new_in:
                new["spec"] = clone(new_in["spec"])
        else:
            # new_in is the caller's fresh object (a decoded body, a patch result, a controller's copy): it is
            # taken over, not copied again; the stored status it keeps is shared (stored objects never change)
            new = dict(new_in)
            new["metadata"] = (
                dict(new_in.get("metadata") or {}) if isinstance(new_in.get("metadata"), dict) else {}
            )
            if has_status:
                if "status" in old:
                    new["status"] = old["status"]
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
        self._process(info, new, ctx, name, subresource)
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

    def bind(self, info: ResourceInfo, old: dict, new: dict, ctx: WriteContext) -> dict:
        """The pods/binding subresource as the scheduler uses it: spec.nodeName (and the PodScheduled
        condition) set in one write, without the spec-change generation bump of an update."""
        new = clone(new)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self._managed(old, new, ctx, "binding", info)
        return self.store.put(info.group_resource, new)

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
            old = clone(old)
            old["metadata"]["finalizers"] = [*(old["metadata"].get("finalizers") or []), FOREGROUND]
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return old
            new = clone(old)
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
        final = self.store.remove(info.group_resource, meta.get("namespace", ""), meta["name"], obj) or obj
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
            new = clone(obj)
            new["metadata"]["finalizers"] = [f for f in meta["finalizers"] if f != FOREGROUND]
            self.update(info, obj, new, ctx, None)

    def _orphan(self, uid: str) -> None:
        for resource, obj in self.store.dependents(uid):
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                new = clone(obj)
                kept = [r for r in refs if r.get("uid") != uid]
                if kept:
                    new["metadata"]["ownerReferences"] = kept
                else:
                    new["metadata"].pop("ownerReferences", None)
                self.store.put(resource, new)

    def _terminate_namespace(self, ns: dict) -> dict:
        if ns["metadata"].get("deletionTimestamp"):
            return ns
        new = clone(ns)
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
            new = clone(crd)
            new["metadata"]["finalizers"] = [
                f
                for f in new["metadata"].get("finalizers") or []
                if f != "customresourcecleanup.apiextensions.k8s.io"
            ]
            self.update(CRDS, crd, new, ctx, None)
