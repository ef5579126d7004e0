"""Patch semantics of the API server: JSON merge patch, JSON patch and strategic merge patch.

Part of the server side (Engineer A): kept apart from server.py only to keep that module readable.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import jsonpointer

from . import errors
from .types import clone


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, lists are replaced whole."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict, ops: Any) -> dict:
    """RFC 6902 JSON patch; a failing op answers 422 with the generic message, a non-array body 400."""
    if not isinstance(ops, list):
        kind = "object" if isinstance(ops, dict) else type(ops).__name__
        raise errors.bad_request(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    try:
        result = jsonpatch.JsonPatch(ops).apply(clone(target))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError, TypeError):
        raise errors.json_patch_failed() from None
    if not isinstance(result, dict):
        raise errors.json_patch_failed()
    return result


# Merge keys of built-in list fields (from the x-kubernetes-patch-merge-key tags of the Go types).
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "secrets": "name",
    "resourceClaims": "name",
}
# Primitive lists merged as sets (patchStrategy "merge" on []string).
_SET_LISTS = {"finalizers"}


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge_patch(target: dict, patch: Any) -> dict:
    """Strategic merge patch as the API server applies it to built-in types."""
    if not isinstance(patch, dict):
        raise errors.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    return _smp_map(clone(target), patch)


def _smp_map(orig: dict, patch: dict) -> dict:
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(orig.get(field), list) and isinstance(value, list):
                orig[field] = [v for v in orig[field] if v not in value]
            continue
        if value is None:
            orig.pop(key, None)
            continue
        current = orig.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            orig[key] = _smp_map(current, value)
        elif isinstance(value, list):
            orig[key] = _smp_list(key, current if isinstance(current, list) else [], value, orders.get(key))
        elif isinstance(value, dict):
            orig[key] = _smp_map({}, value)
        else:
            orig[key] = clone(value)
    if isinstance(retain, list):
        for key in list(orig):
            if key not in retain:
                del orig[key]
    return orig


def _smp_list(field: str, orig: list[Any], patch: list[Any], order: list[Any] | None) -> list[Any]:
    if field in _SET_LISTS:
        result = list(patch) + [v for v in orig if v not in patch]
        return _dedupe(result)
    key = _merge_key(field, patch + orig)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [i for i in clone(patch) if not (isinstance(i, dict) and i.get("$patch"))]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [clone(i) for i in patch if i.get("$patch") != "replace"]
    by_key = {json.dumps(i.get(key), sort_keys=True): i for i in orig if isinstance(i, dict)}
    patched: list[Any] = []
    deleted: set[str] = set()
    touched: set[str] = set()
    for item in patch:
        k = json.dumps(item.get(key), sort_keys=True)
        touched.add(k)
        if item.get("$patch") == "delete":
            deleted.add(k)
            continue
        if k in by_key:
            patched.append(_smp_map(clone(by_key[k]), item))
        else:
            patched.append(_smp_map({}, item))
    rest = [
        i for i in orig if not isinstance(i, dict) or json.dumps(i.get(key), sort_keys=True) not in touched
    ]
    result = patched + rest
    if order:
        rank = {
            json.dumps(o.get(key) if isinstance(o, dict) else o, sort_keys=True): n
            for n, o in enumerate(order)
        }
        result.sort(key=lambda i: rank.get(json.dumps(i.get(key), sort_keys=True), len(rank)))
    return result


def _dedupe(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen
