"""Custom resources against their CRD's structural schema: pruning, defaulting, validation.

Mirrors apiextensions-apiserver: unknown fields are pruned (and reported per ``fieldValidation``), nulls of
non-nullable fields without a default are dropped, ``default``s are applied top-down, then the object is
validated the way kube-openapi does it and the errors are turned into field errors with the exact paths
and messages a real kube-apiserver returns (``spec.items[0].name in body should match '^[a-z]+$'``).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import errors
from .errors import FieldError, go_format_float
from .resources import ResourceInfo
from .validation import (
    label_value_errors,
    qualified_name_errors,
    regex_error,
    subdomain_errors,
    validate_name,
    validate_object_meta,
)

__all__ = [
    "OBJECT_META_FIELDS",
    "apply_schema_defaults",
    "label_value_errors",
    "process_custom_resource",
    "prune_unknown_fields",
    "qualified_name_errors",
    "regex_error",
    "subdomain_errors",
    "validate_against_schema",
    "validate_name",
    "validate_object_meta",
]

# metav1.ObjectMeta JSON field names; anything else under metadata is an unknown field.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
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
    }
)
_META_KEYS = ("apiVersion", "kind", "metadata")


def process_custom_resource(
    info: ResourceInfo,
    obj: dict[str, Any],
    *,
    field_validation: str = "Warn",
    name: str,
    old: Mapping[str, Any] | None = None,
) -> list[str]:
    """Prune, default and validate ``obj`` in place; return the warnings to send.

    ``field_validation`` is the request's ``fieldValidation`` (the server default is ``Warn``): ``Strict``
    raises 400 ``strict decoding error: unknown field "spec.x"``, ``Warn`` returns ``unknown field
    "spec.x"`` per pruned field, ``Ignore`` prunes silently. Invalid objects raise 422 Invalid whose
    causes carry the real reasons, fields and messages. With ``old`` (the stored object, on update)
    validation ratchets like CRDValidationRatcheting: an error on a value that did not change is dropped.
    """
    schema = info.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    unknown = _prune_object_meta(obj)
    unknown += prune_unknown_fields(obj, schema)
    _prune_non_nullable_nulls(obj, schema)
    warnings: list[str] = []
    if unknown:
        mode = (field_validation or "Warn").strip()
        texts = [f"unknown field {errors.go_quote(p)}" for p in unknown]
        if mode == "Strict":
            raise errors.bad_request("strict decoding error: " + ", ".join(texts))
        if mode != "Ignore":
            warnings = texts
    apply_schema_defaults(obj, schema)
    errs = validate_name(info, name) if name else []
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        errs += validate_object_meta(meta)
    schema_errs = validate_against_schema(obj, schema)
    if old is not None:
        schema_errs = [e for e in schema_errs if not _unchanged(obj, old, e.field)]
    errs += schema_errs
    if errs:
        raise errors.invalid(info, name, errs)
    return warnings


# --- pruning ----------------------------------------------------------------------------------------


def _prune_object_meta(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    unknown = []
    for key in list(meta):
        if key not in OBJECT_META_FIELDS:
            unknown.append(f"metadata.{key}")
            del meta[key]
    return unknown


def prune_unknown_fields(obj: Any, schema: dict[str, Any]) -> list[str]:
    """Drop fields the structural schema does not specify; return their paths, sorted like the server.

    apiVersion, kind and metadata are kept at the root and in ``x-kubernetes-embedded-resource`` objects.
    """
    pruned: list[str] = []
    embedded_meta: list[str] = []
    root = dict(schema)
    root["x-kubernetes-embedded-resource"] = True
    _prune(obj, root, "", pruned, embedded_meta)
    # Embedded resources' metadata is coerced after pruning (schemaobjectmeta.Coerce), so it comes last.
    return sorted(pruned) + embedded_meta


def _coerce_embedded_meta(x: dict[str, Any], path: str, embedded_meta: list[str]) -> None:
    """Unknown ObjectMeta fields of an x-kubernetes-embedded-resource are dropped and reported too."""
    if not path:
        return  # the root object's metadata is handled by the caller
    meta = x.get("metadata")
    if isinstance(meta, dict):
        for key in list(meta):
            if key not in OBJECT_META_FIELDS:
                embedded_meta.append(f"{path}.metadata.{key}")
                del meta[key]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(x: Any, s: dict[str, Any] | None, path: str, pruned: list[str], embedded_meta: list[str]) -> None:
    if s is not None and s.get("x-kubernetes-preserve-unknown-fields"):
        _skip_prune(x, s, path, pruned, embedded_meta)
        return
    if isinstance(x, dict):
        if s is None:
            for key in list(x):
                pruned.append(_join(path, key))
                del x[key]
            return
        props = s.get("properties") or {}
        additional = s.get("additionalProperties")
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        if embedded:
            _coerce_embedded_meta(x, path, embedded_meta)
        for key in list(x):
            if embedded and key in _META_KEYS:
                continue
            if key in props:
                _prune(x[key], props[key], _join(path, key), pruned, embedded_meta)
            elif isinstance(additional, dict):
                _prune(x[key], additional, _join(path, key), pruned, embedded_meta)
            elif additional is True:
                continue
            else:
                pruned.append(_join(path, key))
                del x[key]
    elif isinstance(x, list):
        items = s.get("items") if s is not None else None
        for i, v in enumerate(x):
            _prune(v, items if isinstance(items, dict) else None, f"{path}[{i}]", pruned, embedded_meta)


def _skip_prune(x: Any, s: dict[str, Any], path: str, pruned: list[str], embedded_meta: list[str]) -> None:
    """Under x-kubernetes-preserve-unknown-fields unknown keys stay, specified ones are still pruned."""
    if isinstance(x, dict):
        props = s.get("properties") or {}
        additional = s.get("additionalProperties")
        embedded = bool(s.get("x-kubernetes-embedded-resource"))
        if embedded:
            _coerce_embedded_meta(x, path, embedded_meta)
        for key in list(x):
            if embedded and key in _META_KEYS:
                continue
            if key in props:
                _prune(x[key], props[key], _join(path, key), pruned, embedded_meta)
            elif isinstance(additional, dict):
                _prune(x[key], additional, _join(path, key), pruned, embedded_meta)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                _skip_prune(v, items, f"{path}[{i}]", pruned, embedded_meta)


def _prune_non_nullable_nulls(x: Any, s: dict[str, Any] | None) -> None:
    """Nulls of fields that are neither nullable nor defaulted are dropped before defaulting."""
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for key in list(x):
            prop = props.get(key)
            if prop is not None and x[key] is None and "default" not in prop and not prop.get("nullable"):
                del x[key]
        additional = s.get("additionalProperties")
        for key, value in x.items():
            if key in props:
                _prune_non_nullable_nulls(value, props[key])
            elif isinstance(additional, dict):
                _prune_non_nullable_nulls(value, additional)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for v in x:
                _prune_non_nullable_nulls(v, items)


# --- defaulting -------------------------------------------------------------------------------------


def apply_schema_defaults(x: Any, s: dict[str, Any] | None) -> None:
    """Structural defaulting: a missing (or non-nullable null) property gets its default, then recursion.

    Because defaults are set before descending, defaults nested inside a defaulted object apply too.
    """
    if s is None:
        return
    if isinstance(x, dict):
        props = s.get("properties") or {}
        for key, prop in props.items():
            if "default" not in prop:
                continue
            if key not in x or (x[key] is None and not prop.get("nullable")):
                x[key] = copy.deepcopy(prop["default"])
        additional = s.get("additionalProperties")
        for key, value in x.items():
            if key in props:
                apply_schema_defaults(value, props[key])
            elif isinstance(additional, dict):
                apply_schema_defaults(value, additional)
    elif isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                if v is None and "default" in items and not items.get("nullable"):
                    x[i] = copy.deepcopy(items["default"])
                apply_schema_defaults(x[i], items)


# --- validation -------------------------------------------------------------------------------------


def _json_type(v: Any) -> str:
    """kube-openapi's name for the JSON type of a decoded value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _body(path: str) -> str:
    return f"{path} in body"


def _bound(limit: float | int, value: Any) -> str:
    """How kube-openapi prints a bound: as int64 for integer data and an integral bound, else float64."""
    if isinstance(value, int) and not isinstance(value, bool) and float(limit).is_integer():
        return str(int(limit))
    return go_format_float(float(limit))


def validate_against_schema(obj: Any, schema: dict[str, Any]) -> list[FieldError]:
    """Validate a whole object (root path ``""``) and return its field errors in server order."""
    out: list[FieldError] = []
    _validate(obj, schema, "", out)
    return out


def _validate(x: Any, s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    # 1. type
    types = _schema_types(s)
    if x is None:
        if types and "null" not in types and not s.get("nullable"):
            out.append(_type_error(path, types, "null"))
        _validate_enum(x, s, path, out)
        return
    actual = _json_type(x)
    if types and not _type_ok(actual, x, types):
        out.append(_type_error(path, types, actual))
    # 2. anyOf/allOf/oneOf/not (int-or-string and value validations in CRDs)
    _validate_schema_props(x, s, path, out)
    # 3. string
    if isinstance(x, str):
        max_len = s.get("maxLength")
        if max_len is not None and len(x) > max_len:
            out.append(FieldError.too_long(path, int(max_len)))
        min_len = s.get("minLength")
        if min_len is not None and len(x) < min_len:
            out.append(FieldError.invalid(path, x, f"{_body(path)} should be at least {min_len} chars long"))
        pattern = s.get("pattern")
        if pattern is not None and not _pattern_matches(pattern, x):
            out.append(FieldError.invalid(path, x, f"{_body(path)} should match '{pattern}'"))
        # 4. format
        fmt = s.get("format")
        if fmt and not _format_ok(fmt, x):
            out.append(
                FieldError.type_invalid(path, x, f"{_body(path)} must be of type {fmt}: {errors.go_quote(x)}")
            )
    # 5. number
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        _validate_number(x, s, path, out)
    # 6. array
    if isinstance(x, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                _validate(v, items, f"{path}[{i}]", out)
        min_items = s.get("minItems")
        if min_items is not None and len(x) < min_items:
            out.append(
                FieldError.invalid(path, len(x), f"{_body(path)} should have at least {min_items} items")
            )
        max_items = s.get("maxItems")
        if max_items is not None and len(x) > max_items:
            out.append(FieldError.too_many(path, len(x), int(max_items)))
        if s.get("uniqueItems") and _has_duplicates(x):
            out.append(FieldError.invalid(path, "", f"{_body(path)} shouldn't contain duplicates"))
        _validate_list_type(x, s, path, out)
    # 7. enum
    _validate_enum(x, s, path, out)
    # 8. object
    if isinstance(x, dict):
        _validate_object(x, s, path, out)


def _schema_types(s: dict[str, Any]) -> list[str]:
    t = s.get("type")
    if isinstance(t, str) and t:
        return [t]
    if isinstance(t, list):
        return [str(v) for v in t]
    return []


def _type_ok(actual: str, value: Any, types: list[str]) -> bool:
    if actual in types:
        return True
    if actual == "number" and "integer" in types and float(value).is_integer():
        return True
    return actual == "integer" and "number" in types


def _type_error(path: str, types: list[str], actual: str) -> FieldError:
    wanted = ",".join(types)
    return FieldError.type_invalid(
        path, actual, f"{_body(path)} must be of type {wanted}: {errors.go_quote(actual)}"
    )


def _validate_schema_props(x: Any, s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool))):
            out.append(
                FieldError.invalid(
                    path, "", f"{errors.go_quote(path)} must validate at least one schema (anyOf)"
                )
            )
            out.append(_type_error(path, ["integer"], _json_type(x)))
    for sub in s.get("allOf") or ():
        _validate(x, _merge_value_validation(sub), path, out)
    any_of = s.get("anyOf")
    if any_of and not s.get("x-kubernetes-int-or-string"):
        results = []
        for sub in any_of:
            sub_errs: list[FieldError] = []
            _validate(x, _merge_value_validation(sub), path, sub_errs)
            results.append(sub_errs)
        if all(results):
            out.append(
                FieldError.invalid(
                    path, "", f"{errors.go_quote(path)} must validate at least one schema (anyOf)"
                )
            )
            out.extend(results[0])
    one_of = s.get("oneOf")
    if one_of:
        passing = 0
        first_errs: list[FieldError] = []
        for sub in one_of:
            sub_errs = []
            _validate(x, _merge_value_validation(sub), path, sub_errs)
            if not sub_errs:
                passing += 1
            elif not first_errs:
                first_errs = sub_errs
        if passing == 0:
            out.append(
                FieldError.invalid(
                    path, "", f"{errors.go_quote(path)} must validate one and only one schema (oneOf)"
                )
            )
            out.extend(first_errs)
        elif passing > 1:
            out.append(
                FieldError.invalid(
                    path, "", f"{errors.go_quote(path)} must validate one and only one schema (oneOf)"
                )
            )
    not_schema = s.get("not")
    if isinstance(not_schema, dict):
        sub_errs = []
        _validate(x, _merge_value_validation(not_schema), path, sub_errs)
        if not sub_errs:
            out.append(
                FieldError.invalid(path, "", f"{errors.go_quote(path)} must not validate the schema (not)")
            )


def _merge_value_validation(sub: dict[str, Any]) -> dict[str, Any]:
    """Value-validation subschemas in structural CRDs carry no type; validate them as given."""
    return sub if isinstance(sub, dict) else {}


def _validate_number(x: float, s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    multiple = s.get("multipleOf")
    if multiple:
        q = x / multiple
        if not float(q).is_integer():
            out.append(
                FieldError.invalid(path, x, f"{_body(path)} should be a multiple of {_bound(multiple, x)}")
            )
    maximum = s.get("maximum")
    if maximum is not None:
        exclusive = bool(s.get("exclusiveMaximum"))
        if x > maximum or (exclusive and x >= maximum):
            word = "less than" if exclusive else "less than or equal to"
            out.append(FieldError.invalid(path, x, f"{_body(path)} should be {word} {_bound(maximum, x)}"))
    minimum = s.get("minimum")
    if minimum is not None:
        exclusive = bool(s.get("exclusiveMinimum"))
        if x < minimum or (exclusive and x <= minimum):
            word = "greater than" if exclusive else "greater than or equal to"
            out.append(FieldError.invalid(path, x, f"{_body(path)} should be {word} {_bound(minimum, x)}"))


def _canonical(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def _has_duplicates(items: list[Any]) -> bool:
    seen = set()
    for v in items:
        c = _canonical(v)
        if c in seen:
            return True
        seen.add(c)
    return False


def _validate_list_type(x: list[Any], s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    """x-kubernetes-list-type set/map: duplicates are FieldValueDuplicate at the repeated index."""
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        seen: set[str] = set()
        for i, v in enumerate(x):
            c = _canonical(v)
            if c in seen:
                out.append(FieldError.duplicate(f"{path}[{i}]", v))
            seen.add(c)
    elif list_type == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen_keys: set[str] = set()
        for i, v in enumerate(x):
            if not isinstance(v, dict):
                continue
            key_values = {k: v[k] for k in keys if k in v}
            c = _canonical(key_values)
            if c in seen_keys:
                out.append(FieldError.duplicate(f"{path}[{i}]", key_values))
            seen_keys.add(c)


def _validate_enum(x: Any, s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    enum = s.get("enum")
    if not enum:
        return
    for allowed in enum:
        if _enum_equal(x, allowed):
            return
    supported = [a if isinstance(a, str) else _canonical(a) for a in enum]
    out.append(FieldError.not_supported(path, x, supported))


def _enum_equal(x: Any, allowed: Any) -> bool:
    if isinstance(x, bool) or isinstance(allowed, bool):
        return isinstance(x, bool) and isinstance(allowed, bool) and x == allowed
    return bool(type(x) is type(allowed) or (_is_number(x) and _is_number(allowed))) and x == allowed


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _validate_object(x: dict[str, Any], s: dict[str, Any], path: str, out: list[FieldError]) -> None:
    n = len(x)
    min_props = s.get("minProperties")
    if min_props is not None and n < min_props:
        out.append(FieldError.invalid(path, n, f"{_body(path)} should have at least {min_props} properties"))
        return
    max_props = s.get("maxProperties")
    if max_props is not None and n > max_props:
        out.append(FieldError.too_many(path, n, int(max_props)))
        return
    props = s.get("properties") or {}
    additional = s.get("additionalProperties")
    if isinstance(additional, dict):
        for key in sorted(x):
            if key not in props:
                _validate(x[key], additional, _join(path, key), out)
    for key in sorted(props):
        if key in x:
            _validate(x[key], props[key], _join(path, key), out)
    for key in s.get("required") or ():
        if key not in x:
            out.append(FieldError.required(_join(path, key)))


_MISSING = object()
_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _lookup(obj: Any, path: str) -> Any:
    """The value at a field path like ``spec.items[0].name`` (``_MISSING`` when absent)."""
    cur = obj
    for key, index in _PATH_TOKEN.findall(path):
        if key:
            if not isinstance(cur, Mapping) or key not in cur:
                return _MISSING
            cur = cur[key]
        else:
            i = int(index)
            if not isinstance(cur, list) or i >= len(cur):
                return _MISSING
            cur = cur[i]
    return cur


def _unchanged(new: Any, old: Any, path: str) -> bool:
    """Ratcheting: the erroneous value (or its absence) is exactly what was already stored."""
    return _lookup(new, path) == _lookup(old, path)


# --- patterns and formats ---------------------------------------------------------------------------


def _re2_to_python(pattern: str) -> str:
    """RE2's ``$`` only matches at the very end (Python's also before a final newline)."""
    out: list[str] = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif in_class:
            out.append(ch)
            if ch == "]":
                in_class = False
        elif ch == "[":
            out.append(ch)
            in_class = True
        elif ch == "$":
            out.append(r"\Z")
        else:
            out.append(ch)
    return "".join(out)


_PATTERN_CACHE: dict[str, re.Pattern[str] | None] = {}


def _pattern_matches(pattern: str, value: str) -> bool:
    """ECMA/RE2 pattern, unanchored as in JSON Schema (search, not match)."""
    compiled = _PATTERN_CACHE.get(pattern)
    if pattern not in _PATTERN_CACHE:
        try:
            # RE2 classes like \w and \d are ASCII-only.
            compiled = re.compile(_re2_to_python(pattern), re.ASCII)
        except re.error:
            compiled = None
        _PATTERN_CACHE[pattern] = compiled
    if compiled is None:
        return True
    return compiled.search(value) is not None


_HOSTNAME = re.compile(
    r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(r"^(?:[0-9A-Fa-f]{2}[:-]){5,7}[0-9A-Fa-f]{2}$")
_HEXCOLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_DURATION = re.compile(r"^(?:[-+]?\d+(?:\.\d+)?\s*(?:ns|us|µs|ms|s|m|h|d|w)\s*)+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$")


def _is_base64(v: str) -> bool:
    try:
        base64.b64decode(v, validate=True)
    except (ValueError, TypeError):
        return False
    return True


def _is_uuid(v: str, version: int | None = None) -> bool:
    try:
        u = uuid.UUID(v)
    except ValueError:
        return False
    return version is None or u.version == version


def _is_ip(v: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(v).version == version
    except ValueError:
        return False


def _is_cidr(v: str) -> bool:
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return False
    return "/" in v


def _is_date(v: str) -> bool:
    if not _DATE.match(v):
        return False
    try:
        datetime.strptime(v, "%Y-%m-%d")
    except ValueError:
        return False
    return True


_FORMATS: dict[str, Callable[[str], bool]] = {
    "byte": _is_base64,
    "date": _is_date,
    "date-time": lambda v: bool(_DATETIME.match(v)),
    "datetime": lambda v: bool(_DATETIME.match(v)),
    "duration": lambda v: bool(_DURATION.match(v)),
    "email": lambda v: bool(_EMAIL.match(v)),
    "hostname": lambda v: len(v) <= 255 and bool(_HOSTNAME.match(v)),
    "ipv4": lambda v: _is_ip(v, 4),
    "ipv6": lambda v: _is_ip(v, 6),
    "cidr": _is_cidr,
    "mac": lambda v: bool(_MAC.match(v)),
    "uuid": _is_uuid,
    "uuid3": lambda v: _is_uuid(v, 3),
    "uuid4": lambda v: _is_uuid(v, 4),
    "uuid5": lambda v: _is_uuid(v, 5),
    "hexcolor": lambda v: bool(_HEXCOLOR.match(v)),
}


def _format_ok(fmt: str, value: str) -> bool:
    """Formats the apiserver knows are checked; unknown ones (and int32, password, ...) pass."""
    check = _FORMATS.get(fmt)
    return True if check is None else check(value)


# --- object names and metadata: the one set of validators lives in validation.py ----------------------
