"""Decode the Kubernetes protobuf envelope for the few built-in kinds kubectl sends that way.

`kubectl create configmap|secret|namespace|serviceaccount|role|rolebinding|clusterrole|clusterrolebinding`
use typed clients that POST `application/vnd.kubernetes.protobuf`. The field numbers below are those of
the upstream generated.proto files (k8s.io/api core/v1, rbac/v1; apimachinery meta/v1). Other kinds answer
415 as before; kubectl apply/patch/edit always send JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from . import errors

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# field number -> (json name, type); types: str, bytes, bool, int, time, strmap, bytesmap, [T] for repeated,
# or the name of another message in SCHEMAS.
SCHEMAS: dict[str, dict[int, tuple[str, Any]]] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "rawbytes"),
        3: ("contentEncoding", "str"),
        4: ("contentType", "str"),
    },
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        4: ("selfLink", "str"),
        5: ("uid", "str"),
        6: ("resourceVersion", "str"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        9: ("deletionTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int"),
        11: ("labels", "strmap"),
        12: ("annotations", "strmap"),
        13: ("ownerReferences", ["OwnerReference"]),
        14: ("finalizers", ["str"]),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "strmap"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bytesmap"),
        3: ("type", "str"),
        4: ("stringData", "strmap"),
        5: ("immutable", "bool"),
    },
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", ["str"])},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", ["ObjectReference"]),
        3: ("imagePullSecrets", ["LocalObjectReference"]),
        4: ("automountServiceAccountToken", "bool"),
    },
    "ObjectReference": {
        1: ("kind", "str"),
        2: ("namespace", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("resourceVersion", "str"),
        7: ("fieldPath", "str"),
    },
    "LocalObjectReference": {1: ("name", "str")},
    "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", ["PolicyRule"])},
    "ClusterRole": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", ["PolicyRule"]),
        3: ("aggregationRule", "AggregationRule"),
    },
    "AggregationRule": {1: ("clusterRoleSelectors", ["LabelSelector"])},
    "LabelSelector": {1: ("matchLabels", "strmap")},
    "PolicyRule": {
        1: ("verbs", ["str"]),
        2: ("apiGroups", ["str"]),
        3: ("resources", ["str"]),
        4: ("resourceNames", ["str"]),
        5: ("nonResourceURLs", ["str"]),
    },
    "RoleBinding": {1: ("metadata", "ObjectMeta"), 2: ("subjects", ["Subject"]), 3: ("roleRef", "RoleRef")},
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", ["Subject"]),
        3: ("roleRef", "RoleRef"),
    },
    "Subject": {1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")},
    "RoleRef": {1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    # meta/v1 DeleteOptions: typed clients (Helm's release storage) send the body of a DELETE this way
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        2: ("preconditions", "Preconditions"),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "str"),
        5: ("dryRun", ["str"]),
    },
    "Preconditions": {1: ("uid", "str"), 2: ("resourceVersion", "str")},
    "MapEntry": {1: ("key", "rawbytes"), 2: ("value", "rawbytes")},
}
DECODABLE_KINDS = {
    "ConfigMap",
    "Secret",
    "Namespace",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "DeleteOptions",
}


class _Malformed(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Malformed("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message: ints for varints, bytes for length-delimited."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _Malformed("truncated field")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        out.append((num, wire, value))
    return out


def _scalar(kind: str, value: Any) -> Any:
    if kind == "str":
        return value.decode()
    if kind == "rawbytes":
        return value
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == "time":
        t = decode_message("Time", value)
        if not t.get("seconds"):
            return None
        return dt.datetime.fromtimestamp(t["seconds"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return decode_message(kind, value)


def decode_message(schema: str, buf: bytes) -> dict[str, Any]:
    """Decode buf with SCHEMAS[schema]; unknown field numbers are skipped, like proto3 does."""
    fields = SCHEMAS[schema]
    out: dict[str, Any] = {}
    for num, _wire, value in _fields(buf):
        if num not in fields:
            continue
        name, kind = fields[num]
        if kind in ("strmap", "bytesmap"):
            entry = decode_message("MapEntry", value)
            key = entry.get("key", b"").decode()
            raw = entry.get("value", b"")
            out.setdefault(name, {})[key] = (
                raw.decode() if kind == "strmap" else base64.b64encode(raw).decode()
            )
        elif isinstance(kind, list):
            out.setdefault(name, []).append(_scalar(kind[0], value))
        else:
            decoded = _scalar(kind, value)
            # Go's omitempty: proto2 carries "" and 0 explicitly, JSON from the real server leaves them out
            if decoded is not None and decoded != "" and not (kind == "int" and decoded == 0):
                out[name] = decoded
    return out


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object, or 415 for a kind this emulator cannot decode."""
    try:
        if not body.startswith(MAGIC):
            raise _Malformed("missing the k8s protobuf magic prefix")
        unknown = decode_message("Unknown", body[len(MAGIC) :])
        type_meta = unknown.get("typeMeta") or {}
        kind = type_meta.get("kind", "")
        if kind not in DECODABLE_KINDS:
            raise errors.unsupported_media_type(PROTOBUF, ("application/json", "application/yaml"))
        obj = decode_message(kind, unknown.get("raw", b""))
    except _Malformed as exc:
        raise errors.bad_request(f"failed to decode protobuf body: {exc}") from None
    except (UnicodeDecodeError, KeyError, IndexError) as exc:
        raise errors.bad_request(f"failed to decode protobuf body: {type(exc).__name__}") from None
    result: dict[str, Any] = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind}
    result.update(obj)
    return result
