"""Validation of built-in kinds, as kube-apiserver does it, in its two stages.

1. Decoding (400 BadRequest): the body must decode into the Go types. A JSON type the Go field cannot hold
   (a string where an object must be) and a quantity that is not a quantity are refused before anything
   else: ``Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into
   Go struct field Affinity.spec.template.spec.affinity.nodeAffinity of type v1.NodeAffinity``. The Go
   types are read from the OpenAPI schemas kubernetes-validate ships (see openapi.builtin_schemas).
2. Field rules (422 Invalid with causes): what pkg/apis/*/validation enforces that a schema cannot say —
   object metadata (names, label and annotation keys/values, total annotation size), pod templates (label
   selector vs template labels, container names, ports, env names, quantities, requests <= limits,
   tolerations, nodeSelector keys), Secrets, Services, Leases and RBAC objects. Paths and messages are the
   real server's (checked against answers recorded from kube-apiserver v1.36).

This module holds the one set of label/annotation/name validators of the emulator; schema.py (custom
resources) uses them too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from . import errors
from .errors import FieldError
from .resources import ResourceInfo

# --- messages of k8s.io/apimachinery/pkg/util/validation ----------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must"
    " start and end with an alphanumeric character"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and"
    " end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic"
    " character, and end with an alphanumeric character"
)
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(_QNAME_FMT)
_QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must"
    " start and end with an alphanumeric character"
)
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
SECRET_DATA_LIMIT = 1024 * 1024


def max_len_error(length: int) -> str:
    """validation.MaxLenError (v1.34+ counts bytes and says so)."""
    return f"must be no more than {length} bytes"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, including its quirk: ``(e.g. 'my-name',  or '123-abc', regex ...)``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def _blen(s: str) -> int:
    return len(s.encode())


def subdomain_errors(name: str) -> list[str]:
    """validation.IsDNS1123Subdomain."""
    out = []
    if _blen(name) > 253:
        out.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(name):
        out.append(regex_error(_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return out


def dns1123_label_errors(name: str) -> list[str]:
    """validation.IsDNS1123Label."""
    out = []
    if _blen(name) > 63:
        out.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.fullmatch(name):
        out.append(regex_error(_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return out


def dns1035_label_errors(name: str) -> list[str]:
    """validation.IsDNS1035Label."""
    out = []
    if _blen(name) > 63:
        out.append(max_len_error(63))
    if not _DNS1035_LABEL_RE.fullmatch(name):
        out.append(regex_error(_DNS1035_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return out


def path_segment_errors(name: str) -> list[str]:
    """path.ValidatePathSegmentName (RBAC objects may be named e.g. ``system:controller``)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    out = []
    for bad in ("/", "%"):
        if bad in name:
            out.append(f"may not contain '{bad}'")
    return out


@functools.lru_cache(maxsize=8192)
def qualified_name_errors(value: str) -> list[str]:
    """validation.IsQualifiedName (label keys, annotation keys, finalizers, nodeSelector keys)."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in subdomain_errors(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


@functools.lru_cache(maxsize=8192)
def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errs = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def config_key_errors(key: str) -> list[str]:
    """validation.IsConfigMapKey (Secret and ConfigMap data keys)."""
    errs = []
    if _blen(key) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_KEY_RE.fullmatch(key):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def validate_labels(labels: Any, field: str) -> list[FieldError]:
    """ValidateLabels: every key a qualified name, every value a label value (keys in sorted order; the real
    server walks a Go map, so its order varies)."""
    errs: list[FieldError] = []
    if not isinstance(labels, Mapping):
        return errs
    for key in sorted(labels):
        errs.extend(FieldError.invalid(field, key, m) for m in qualified_name_errors(key))
        value = labels[key]
        if isinstance(value, str):
            errs.extend(FieldError.invalid(field, value, m) for m in label_value_errors(value))
    return errs


def validate_annotations(annotations: Any, field: str) -> list[FieldError]:
    """ValidateAnnotations: keys are qualified names (lower-cased first); the total size of keys plus values
    is at most 256 KiB, counted in bytes."""
    errs: list[FieldError] = []
    if not isinstance(annotations, Mapping):
        return errs
    size = 0
    for key in sorted(annotations):
        errs.extend(FieldError.invalid(field, key, m) for m in qualified_name_errors(key.lower()))
    for key, value in annotations.items():
        size += _blen(key) + _blen(value if isinstance(value, str) else str(value or ""))
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(FieldError.too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


_NAME_RULES: dict[tuple[str, str], Callable[[str], list[str]]] = {
    ("", "namespaces"): dns1123_label_errors,
    ("", "services"): dns1035_label_errors,
    ("rbac.authorization.k8s.io", "roles"): path_segment_errors,
    ("rbac.authorization.k8s.io", "rolebindings"): path_segment_errors,
    ("rbac.authorization.k8s.io", "clusterroles"): path_segment_errors,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): path_segment_errors,
}


def validate_name(info: ResourceInfo, name: str) -> list[FieldError]:
    """metadata.name checks of ValidateObjectMeta for this resource (DNS subdomain unless said otherwise)."""
    rule = _NAME_RULES.get((info.group, info.plural), subdomain_errors)
    return [FieldError.invalid("metadata.name", name, msg) for msg in rule(name)]


def validate_object_meta(meta: Mapping[str, Any]) -> list[FieldError]:
    """The label, annotation, ownerReference and finalizer checks of ValidateObjectMetaAccessor."""
    errs: list[FieldError] = []
    errs += validate_labels(meta.get("labels") or {}, "metadata.labels")
    errs += validate_annotations(meta.get("annotations") or {}, "metadata.annotations")
    owners = meta.get("ownerReferences") or []
    controllers = []
    for ref in owners if isinstance(owners, list) else ():
        if not isinstance(ref, Mapping):
            continue
        api_version = str(ref.get("apiVersion") or "")
        version = api_version.rsplit("/", 1)[-1] if api_version else ""
        if not version:
            errs.append(
                FieldError.invalid(
                    "metadata.ownerReferences.apiVersion", api_version, "version must not be empty"
                )
            )
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(
                    FieldError.invalid(
                        f"metadata.ownerReferences.{key}", ref.get(key) or "", "must not be empty"
                    )
                )
        if ref.get("controller") is True:
            controllers.append(f"{ref.get('kind', '')}/{ref.get('name', '')}")
    if len(controllers) > 1:
        errs.append(
            FieldError.invalid(
                "metadata.ownerReferences",
                owners,
                'Only one reference can have Controller set to true. Found "true" in references for '
                + " and ".join(controllers),
            )
        )
    finalizers = meta.get("finalizers") or []
    for finalizer in finalizers if isinstance(finalizers, list) else ():
        if isinstance(finalizer, str):
            errs.extend(
                FieldError.invalid("metadata.finalizers", finalizer, m)
                for m in qualified_name_errors(finalizer)
            )
    if isinstance(finalizers, list) and "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            FieldError.invalid(
                "metadata.finalizers",
                finalizers,
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return errs


# --- resource.Quantity ---------------------------------------------------------------------------------

QUANTITY_FORMAT_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_BINARY_SUFFIX = {v: k for k, v in _BINARY.items()}


class QuantityError(ValueError):
    """resource.ParseQuantity failed; str() is the Go error text."""


def parse_quantity(value: Any) -> tuple[Fraction, str]:
    """resource.ParseQuantity (or a JSON number): (value, format) with format binary, decimal or exponent."""
    try:
        return _parse_quantity(value, type(value).__name__)
    except TypeError:  # unhashable: not a quantity
        raise QuantityError(QUANTITY_FORMAT_ERROR) from None


@functools.lru_cache(maxsize=4096)
def _parse_quantity(value: Any, _type: str) -> tuple[Fraction, str]:
    if isinstance(value, bool):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    if isinstance(value, int | float):
        return Fraction(str(value)) if isinstance(value, float) else Fraction(value), "decimal"
    text = str(value)
    m = _QUANTITY_RE.match(text)
    if not m:
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    number, suffix = m.groups()
    if number.count(".") > 1 or number.strip("+-") in (".", ""):
        raise QuantityError(QUANTITY_FORMAT_ERROR)
    base = Fraction(number)
    if suffix in _BINARY:
        return base * (2 ** _BINARY[suffix]), "binary"
    if suffix in _DECIMAL:
        return base * Fraction(10) ** _DECIMAL[suffix], "decimal"
    if suffix[:1] in ("e", "E"):
        try:
            exp = int(suffix[1:])
        except ValueError:
            raise QuantityError(QUANTITY_SUFFIX_ERROR) from None
        return base * Fraction(10) ** exp, "exponent"
    raise QuantityError(QUANTITY_SUFFIX_ERROR)


def format_quantity(value: Fraction, fmt: str) -> str:
    """Quantity.String(): the canonical form (largest suffix that keeps an integer mantissa)."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    if fmt == "binary" and v.denominator == 1 and v >= 1024:
        n = v.numerator
        exp = 0
        while exp < 60 and n % 1024 == 0:
            n //= 1024
            exp += 10
        return f"{sign}{n}{_BINARY_SUFFIX.get(exp, '')}"
    # decimal SI (also for small or fractional binary values): round up to nano precision
    scaled = v * 10**9
    n = -(-scaled.numerator // scaled.denominator)
    exp = -9
    if n == 0:
        return "0"
    while exp < 18 and n % 1000 == 0:
        n //= 1000
        exp += 3
    if fmt == "exponent":
        return f"{sign}{n}" + (f"e{exp}" if exp else "")
    return f"{sign}{n}{_DECIMAL_SUFFIX[exp]}"


# --- stage 1: decoding against the Go types -------------------------------------------------------------


class _Node:
    """A resolved schema node: what Go type sits at this place of the object."""

    __slots__ = ("go_type", "items", "kind", "props", "struct", "values")

    def __init__(self, kind: str, go_type: str) -> None:
        self.kind = kind  # struct, map, list, string, int, float, bool, quantity, intstr, any
        self.go_type = go_type
        self.struct = ""
        self.props: dict[str, Callable[[], _Node]] = {}
        self.items: Callable[[], _Node] | None = None
        self.values: Callable[[], _Node] | None = None


def _go_name(ref: str) -> str:
    parts = ref.split(".")
    return f"{parts[-2]}.{parts[-1]}"


@functools.cache
def _ref_node(ref: str) -> _Node:
    from .openapi import builtin_schemas

    schema = builtin_schemas().get(ref)
    if ref.endswith("resource.Quantity"):
        return _Node("quantity", "resource.Quantity")
    if ref.endswith("intstr.IntOrString"):
        return _Node("intstr", "intstr.IntOrString")
    if ref.endswith(("meta.v1.Time", "meta.v1.MicroTime")):
        return _Node("string", _go_name(ref))
    if schema is None or "properties" not in schema:
        return _Node("any", _go_name(ref))
    node = _Node("struct", _go_name(ref))
    node.struct = ref.rsplit(".", 1)[-1]
    for key, sub in schema["properties"].items():
        node.props[key] = functools.partial(_node, _freeze(sub))
    return node


def _freeze(schema: dict[str, Any]) -> Any:
    import json

    return json.dumps(schema, sort_keys=True)


@functools.cache
def _node(frozen: str) -> _Node:
    import json

    schema = json.loads(frozen)
    for sub in schema.get("allOf") or ():
        ref = sub.get("$ref", "")
        if ref:
            return _ref_node(ref.rsplit("/", 1)[-1])
    typ = schema.get("type")
    if typ == "object" and "additionalProperties" in schema:
        values = schema["additionalProperties"]
        inner = _node(_freeze(values)) if isinstance(values, dict) else _Node("any", "interface {}")
        node = _Node("map", f"map[string]{inner.go_type}")
        node.values = functools.partial(_node, _freeze(values)) if isinstance(values, dict) else None
        return node
    if typ == "array":
        items = schema.get("items") or {}
        inner = _node(_freeze(items))
        prefix = "[]uint8" if inner.kind == "string" and items.get("format") == "byte" else None
        node = _Node("list", prefix or f"[]{inner.go_type}")
        node.items = functools.partial(_node, _freeze(items))
        return node
    if typ == "string":
        return _Node("string", "[]uint8" if schema.get("format") == "byte" else "string")
    if typ == "integer":
        return _Node("int", "int64" if schema.get("format") == "int64" else "int32")
    if typ == "number":
        return _Node("float", "float64")
    if typ == "boolean":
        return _Node("bool", "bool")
    return _Node("any", "interface {}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


class DecodeError(Exception):
    pass


def _check(
    node: _Node,
    value: Any,
    path: str,
    struct: str,
    jpath: str = "",
    unknown: list[tuple[dict, str, str]] | None = None,
) -> None:
    """Raise DecodeError with the Go decoder's text at the first value the Go type cannot hold. ``path`` is
    the Go error's field path (no indices), ``jpath`` the strict decoder's (``containers[0].x``); fields the
    type does not have are collected in ``unknown`` as (holder, key, jpath)."""
    if value is None or node.kind == "any":
        return
    kind = node.kind
    if kind == "struct":
        if not isinstance(value, dict):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
        for key, sub in value.items():
            make = node.props.get(key)
            sub_jpath = f"{jpath}.{key}" if jpath else key
            if make is not None:
                _check(make(), sub, f"{path}.{key}" if path else key, node.struct, sub_jpath, unknown)
            elif unknown is not None:
                unknown.append((value, key, sub_jpath))
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
        if node.values is not None:
            inner = node.values()
            for key, sub in value.items():
                _check(inner, sub, path, struct, f"{jpath}[{key}]", unknown)
        return
    if kind == "list":
        if not isinstance(value, list):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
        if node.items is not None:
            inner = node.items()
            for i, sub in enumerate(value):
                _check(inner, sub, path, struct, f"{jpath}[{i}]", unknown)
        return
    if kind == "string":
        if not isinstance(value, str):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
        if isinstance(value, float) and not value.is_integer():
            raise DecodeError(_unmarshal(value, struct, path, node.go_type, number=True))
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
    elif kind == "bool":
        if not isinstance(value, bool):
            raise DecodeError(_unmarshal(value, struct, path, node.go_type))
    elif kind == "quantity":
        try:
            parse_quantity(value)
        except QuantityError as exc:
            raise DecodeError(str(exc)) from None
    elif kind == "intstr" and (isinstance(value, bool) or not isinstance(value, int | str)):
        raise DecodeError(_unmarshal(value, struct, path, node.go_type))


def _unmarshal(value: Any, struct: str, path: str, go_type: str, *, number: bool = False) -> str:
    what = _json_kind(value)
    if number:
        what = f"number {value}"
    return f"json: cannot unmarshal {what} into Go struct field {struct}.{path} of type {go_type}"


def decode_check(info: ResourceInfo, obj: dict, field_validation: str = "Warn") -> list[str]:
    """400 BadRequest when obj would not decode into the built-in kind's Go type. Fields the type does not
    have are dropped (the decoder has nowhere to put them) and, per fieldValidation, reported: Warn (the
    default) returns one ``unknown field "spec.x"`` warning each, Strict refuses the request with them,
    Ignore drops them silently."""
    from .openapi import builtin_schemas, schema_name

    ref = schema_name(info)
    if ref not in builtin_schemas():
        return []
    unknown: list[tuple[dict, str, str]] = []
    prefix = f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
    try:
        _check(_ref_node(ref), obj, "", info.kind, "", unknown)
    except DecodeError as exc:
        raise errors.bad_request(f"{prefix}{exc}") from None
    if not unknown:
        return []
    texts = [f"unknown field {errors.go_quote(p)}" for _, _, p in unknown]
    if field_validation == "Strict":
        raise errors.bad_request(prefix + "strict decoding error: " + ", ".join(texts))
    for holder, key, _ in unknown:
        holder.pop(key, None)
    return [] if field_validation == "Ignore" else texts


# --- stage 2: field rules ----------------------------------------------------------------------------------

_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")  # validateTaintEffect's order
_IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _port_errors(port: Any, field: str) -> list[FieldError]:
    n = _int(port)
    if n is not None and not 1 <= n <= 65535:
        return [FieldError.invalid(field, n, "must be between 1 and 65535, inclusive")]
    return []


def _port_name_errors(name: str, field: str) -> list[FieldError]:
    """validation.IsValidPortName (IANA_SVC_NAME)."""
    msgs = []
    if len(name) > 15:
        msgs.append("must be no more than 15 characters")
    if not _IANA_SVC_NAME.match(name):
        msgs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        msgs.append("must not contain consecutive hyphens")
    if name and not re.search("[a-z]", name):
        msgs.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        msgs.append("must not begin or end with a hyphen")
    return [FieldError.invalid(field, name, m) for m in msgs]


def _env_name_errors(name: str, field: str) -> list[FieldError]:
    """IsEnvVarName with RelaxedEnvironmentVariableValidation (GA): printable ASCII other than '='."""
    if not name:
        return [FieldError.required(field, "")]
    if any(not 32 <= ord(ch) <= 126 or ch == "=" for ch in name):
        return [
            FieldError.invalid(
                field,
                name,
                "a valid environment variable name must consist only of printable ASCII characters other"
                " than '='",
            )
        ]
    return []


def _resources_errors(res: Any, field: str) -> list[FieldError]:
    """ValidateContainerResourceRequirements."""
    errs: list[FieldError] = []
    if not isinstance(res, dict):
        return errs
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    parsed_limits: dict[str, tuple[Fraction, str]] = {}
    for part, values in (("limits", limits), ("requests", requests)):
        if not isinstance(values, dict):
            continue
        for name in values:
            key_field = f"{field}.{part}[{name}]"
            if (
                "/" not in name
                and name not in _STANDARD_CONTAINER_RESOURCES
                and not name.startswith("hugepages-")
            ):
                errs.append(FieldError.invalid(key_field, name, "must be a standard resource for containers"))
                continue
            errs.extend(FieldError.invalid(key_field, name, m) for m in qualified_name_errors(name))
            try:
                quantity, fmt = parse_quantity(values[name])
            except QuantityError:
                continue  # refused while decoding
            if quantity < 0:
                errs.append(
                    FieldError.invalid(
                        key_field, format_quantity(quantity, fmt), "must be greater than or equal to 0"
                    )
                )
            if part == "limits":
                parsed_limits[name] = (quantity, fmt)
            elif name in parsed_limits and quantity > parsed_limits[name][0]:
                errs.append(
                    FieldError.invalid(
                        f"{field}.requests",
                        format_quantity(quantity, fmt),
                        f"must be less than or equal to {name} limit of "
                        + format_quantity(*parsed_limits[name]),
                    )
                )
    return errs


def _container_errors(c: Any, field: str, volumes: set[str], names: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(c, dict):
        return errs
    name = c.get("name") or ""
    if not name:
        errs.append(FieldError.required(f"{field}.name", ""))
    else:
        errs.extend(FieldError.invalid(f"{field}.name", name, m) for m in dns1123_label_errors(name))
        if name in names:
            errs.append(FieldError.duplicate(f"{field}.name", name))
        names.add(name)
    pull = c.get("imagePullPolicy")
    if pull is not None and pull not in ("Always", "IfNotPresent", "Never"):
        errs.append(
            FieldError.not_supported(f"{field}.imagePullPolicy", pull, ("Always", "IfNotPresent", "Never"))
        )
    if not c.get("image"):
        errs.append(FieldError.required(f"{field}.image", ""))
    port_names: set[str] = set()
    for i, port in enumerate(c.get("ports") or ()):
        if not isinstance(port, dict):
            continue
        pf = f"{field}.ports[{i}]"
        pname = port.get("name")
        if pname:
            errs.extend(_port_name_errors(pname, f"{pf}.name"))
            if pname in port_names:
                errs.append(FieldError.duplicate(f"{pf}.name", pname))
            port_names.add(pname)
        if port.get("containerPort") is None:
            errs.append(FieldError.required(f"{pf}.containerPort", ""))
        else:
            errs.extend(_port_errors(port.get("containerPort"), f"{pf}.containerPort"))
        if port.get("hostPort"):
            errs.extend(_port_errors(port.get("hostPort"), f"{pf}.hostPort"))
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            errs.append(FieldError.not_supported(f"{pf}.protocol", protocol, _PROTOCOLS))
    for i, env in enumerate(c.get("env") or ()):
        if isinstance(env, dict):
            errs.extend(_env_name_errors(env.get("name") or "", f"{field}.env[{i}].name"))
    for i, mount in enumerate(c.get("volumeMounts") or ()):
        if isinstance(mount, dict):
            mname = mount.get("name") or ""
            if not mname:
                errs.append(FieldError.required(f"{field}.volumeMounts[{i}].name", ""))
            elif mname not in volumes:
                errs.append(FieldError.not_found(f"{field}.volumeMounts[{i}].name", mname))
            if not mount.get("mountPath"):
                errs.append(FieldError.required(f"{field}.volumeMounts[{i}].mountPath", ""))
    errs.extend(_resources_errors(c.get("resources"), f"{field}.resources"))
    return errs


def _toleration_errors(tolerations: Any, field: str) -> list[FieldError]:
    """ValidateTolerations."""
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations if isinstance(tolerations, list) else ()):
        if not isinstance(t, dict):
            continue
        tf = f"{field}[{i}]"
        key = t.get("key") or ""
        operator = t.get("operator") or ""
        value = t.get("value") or ""
        effect = t.get("effect") or ""
        if key:
            errs.extend(FieldError.invalid(f"{tf}.key", key, m) for m in qualified_name_errors(key))
        if not key and operator != "Exists":
            errs.append(
                FieldError.invalid(
                    f"{tf}.operator",
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                FieldError.invalid(
                    f"{tf}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if operator in ("", "Equal"):
            value_errs = label_value_errors(value)
            if value_errs:  # the messages joined into one cause, as validateTolerations does
                errs.append(FieldError.invalid(f"{tf}.operator", value, ";".join(value_errs)))
        elif operator == "Exists":
            if value:
                errs.append(
                    FieldError.invalid(
                        f"{tf}.operator", value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errs.append(FieldError.not_supported(f"{tf}.operator", operator, ("Equal", "Exists")))
        if effect and effect not in _EFFECTS:
            errs.append(FieldError.not_supported(f"{tf}.effect", effect, _EFFECTS))
    return errs


def pod_spec_errors(spec: Any, field: str, *, restart_always: bool = False) -> list[FieldError]:
    """ValidatePodSpec: the rules the operator and the chart can break."""
    errs: list[FieldError] = []
    if not isinstance(spec, dict):
        return [FieldError.required(field, "")]
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or ()):
        if not isinstance(vol, dict):
            continue
        vname = vol.get("name") or ""
        vf = f"{field}.volumes[{i}].name"
        if not vname:
            errs.append(FieldError.required(vf, ""))
        else:
            errs.extend(FieldError.invalid(vf, vname, m) for m in dns1123_label_errors(vname))
            if vname in volumes:
                errs.append(FieldError.duplicate(vf, vname))
        volumes.add(vname)
    containers = spec.get("containers") or []
    names: set[str] = set()
    for i, c in enumerate(spec.get("initContainers") or ()):
        errs.extend(_container_errors(c, f"{field}.initContainers[{i}]", volumes, names))
    if not containers:
        errs.append(FieldError.required(f"{field}.containers", ""))
    for i, c in enumerate(containers):
        errs.extend(_container_errors(c, f"{field}.containers[{i}]", volumes, names))
    policy = spec.get("restartPolicy")
    if restart_always and policy is not None and policy != "Always":
        errs.append(FieldError.not_supported(f"{field}.restartPolicy", policy, ("Always",)))
    elif policy is not None and policy not in ("Always", "OnFailure", "Never"):
        errs.append(
            FieldError.not_supported(f"{field}.restartPolicy", policy, ("Always", "OnFailure", "Never"))
        )
    dns = spec.get("dnsPolicy")
    dns_policies = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
    if dns is not None and dns not in dns_policies:
        errs.append(FieldError.not_supported(f"{field}.dnsPolicy", dns, dns_policies))
    errs.extend(validate_labels(spec.get("nodeSelector") or {}, f"{field}.nodeSelector"))
    account = spec.get("serviceAccountName")
    if account:
        errs.extend(
            FieldError.invalid(f"{field}.serviceAccountName", account, m) for m in subdomain_errors(account)
        )
    errs.extend(_toleration_errors(spec.get("tolerations"), f"{field}.tolerations"))
    return errs


def pod_template_errors(template: Any, field: str, selector: Any) -> list[FieldError]:
    """ValidatePodTemplateSpec (labels and annotations at <field>.labels/.annotations, as the server says)
    plus the selector-matches-labels rule of Deployments and ReplicaSets."""
    errs: list[FieldError] = []
    if not isinstance(template, dict):
        return [FieldError.required(field, "")]
    meta = template.get("metadata") or {}
    labels = meta.get("labels") or {}
    if isinstance(selector, dict) and selector and not _selector_matches(selector, labels):
        errs.append(
            FieldError.invalid(
                f"{field}.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    errs.extend(validate_labels(labels, f"{field}.labels"))
    errs.extend(validate_annotations(meta.get("annotations") or {}, f"{field}.annotations"))
    errs.extend(pod_spec_errors(template.get("spec"), f"{field}.spec", restart_always=True))
    return errs


def _selector_matches(selector: dict, labels: Mapping[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        if not isinstance(expr, dict):
            continue
        key, op, values = str(expr.get("key") or ""), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _workload_errors(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [FieldError.required("spec", "")]
    errs: list[FieldError] = []
    replicas = _int(spec.get("replicas"))
    if replicas is not None and replicas < 0:
        errs.append(FieldError.invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type") if isinstance(strategy, dict) else None
    if stype is not None and stype not in ("Recreate", "RollingUpdate"):
        errs.append(FieldError.not_supported("spec.strategy.type", stype, ("Recreate", "RollingUpdate")))
    elif stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.append(
            FieldError.forbidden(
                "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )
        )
    selector = spec.get("selector")
    if not selector:
        errs.append(FieldError.required("spec.selector", ""))
    elif (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    ):
        errs.append(FieldError.invalid("spec.selector", selector, "empty selector is invalid for deployment"))
    else:
        errs.extend(validate_labels((selector or {}).get("matchLabels") or {}, "spec.selector.matchLabels"))
    errs.extend(pod_template_errors(spec.get("template"), "spec.template", selector))
    return errs


def _pod_errors(obj: dict) -> list[FieldError]:
    return pod_spec_errors(obj.get("spec"), "spec")


def _secret_errors(obj: dict) -> list[FieldError]:
    errs: list[FieldError] = []
    data = obj.get("data") or {}
    total = 0
    if isinstance(data, dict):
        for key in sorted(data):
            errs.extend(FieldError.invalid(f"data[{key}]", key, m) for m in config_key_errors(key))
        for value in data.values():
            if isinstance(value, str):
                total += len(value) * 3 // 4
    if total > SECRET_DATA_LIMIT:
        errs.append(FieldError.too_long("data", SECRET_DATA_LIMIT))
    return errs


def _configmap_errors(obj: dict) -> list[FieldError]:
    """ValidateConfigMap: data and binaryData keys are config keys, and no key is in both."""
    errs: list[FieldError] = []
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    for part, values in (("data", data), ("binaryData", binary)):
        if not isinstance(values, dict):
            continue
        for key in sorted(values):
            errs.extend(FieldError.invalid(f"{part}[{key}]", key, m) for m in config_key_errors(key))
            if part == "binaryData" and isinstance(data, dict) and key in data:
                errs.append(FieldError.invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
    return errs


def _service_errors(obj: dict) -> list[FieldError]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    errs: list[FieldError] = []
    kind = spec.get("type") or "ClusterIP"
    service_types = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
    if kind not in service_types:
        errs.append(FieldError.not_supported("spec.type", kind, service_types))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        errs.append(FieldError.required("spec.ports", ""))
    names: set[str] = set()
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        pf = f"spec.ports[{i}]"
        pname = port.get("name") or ""
        if len(ports) > 1 and not pname:
            errs.append(FieldError.required(f"{pf}.name", ""))
        elif pname:
            errs.extend(FieldError.invalid(f"{pf}.name", pname, m) for m in dns1123_label_errors(pname))
            if pname in names:
                errs.append(FieldError.duplicate(f"{pf}.name", pname))
            names.add(pname)
        if port.get("port") is None:
            errs.append(FieldError.required(f"{pf}.port", ""))
        else:
            errs.extend(_port_errors(port.get("port"), f"{pf}.port"))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errs.extend(_port_errors(target, f"{pf}.targetPort"))
        elif isinstance(target, str) and target:
            errs.extend(_port_name_errors(target, f"{pf}.targetPort"))
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            errs.append(FieldError.not_supported(f"{pf}.protocol", protocol, _PROTOCOLS))
    errs.extend(validate_labels(spec.get("selector") or {}, "spec.selector"))
    return errs


def _lease_errors(obj: dict) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if not isinstance(spec, dict):
        return errs
    duration = _int(spec.get("leaseDurationSeconds"))
    if duration is not None and duration <= 0:
        errs.append(FieldError.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = _int(spec.get("leaseTransitions"))
    if transitions is not None and transitions < 0:
        errs.append(
            FieldError.invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    return errs


def _rules_errors(obj: dict, *, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(obj.get("rules") or ()):
        if not isinstance(rule, dict):
            continue
        rf = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(FieldError.required(f"{rf}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(
                    FieldError.invalid(
                        f"{rf}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"
                    )
                )
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(
                    FieldError.invalid(
                        f"{rf}.nonResourceURLs",
                        urls,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not rule.get("apiGroups"):
            errs.append(
                FieldError.required(f"{rf}.apiGroups", "resource rules must supply at least one api group")
            )
        if not rule.get("resources"):
            errs.append(
                FieldError.required(f"{rf}.resources", "resource rules must supply at least one resource")
            )
    return errs


def _binding_errors(obj: dict, *, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    ref = obj.get("roleRef") or {}
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        errs.append(
            FieldError.not_supported(
                "roleRef.apiGroup", ref.get("apiGroup") or "", ("rbac.authorization.k8s.io",)
            )
        )
    if ref.get("kind") not in kinds:
        errs.append(FieldError.not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        errs.append(FieldError.required("roleRef.name", ""))
    else:
        errs.extend(
            FieldError.invalid("roleRef.name", ref["name"], m) for m in path_segment_errors(ref["name"])
        )
    for i, subject in enumerate(obj.get("subjects") or ()):
        if not isinstance(subject, dict):
            continue
        sf = f"subjects[{i}]"
        if not subject.get("name"):
            errs.append(FieldError.required(f"{sf}.name", ""))
        skind = subject.get("kind")
        if skind == "ServiceAccount":
            if subject.get("apiGroup"):
                errs.append(FieldError.not_supported(f"{sf}.apiGroup", subject["apiGroup"], ("",)))
            if not namespaced and not subject.get("namespace"):
                errs.append(FieldError.required(f"{sf}.namespace", ""))
        elif skind in ("User", "Group"):
            if subject.get("apiGroup") != "rbac.authorization.k8s.io":
                errs.append(
                    FieldError.not_supported(
                        f"{sf}.apiGroup", subject.get("apiGroup") or "", ("rbac.authorization.k8s.io",)
                    )
                )
        else:
            errs.append(
                FieldError.not_supported(f"{sf}.kind", skind or "", ("ServiceAccount", "User", "Group"))
            )
    return errs


_RULES: dict[str, Callable[[dict], list[FieldError]]] = {
    "deployments.apps": _workload_errors,
    "replicasets.apps": _workload_errors,
    "pods": _pod_errors,
    "secrets": _secret_errors,
    "configmaps": _configmap_errors,
    "services": _service_errors,
    "leases.coordination.k8s.io": _lease_errors,
    "roles.rbac.authorization.k8s.io": lambda o: _rules_errors(o, namespaced=True),
    "clusterroles.rbac.authorization.k8s.io": lambda o: _rules_errors(o, namespaced=False),
    "rolebindings.rbac.authorization.k8s.io": lambda o: _binding_errors(o, namespaced=True),
    "clusterrolebindings.rbac.authorization.k8s.io": lambda o: _binding_errors(o, namespaced=False),
}


def field_errors(info: ResourceInfo, obj: dict) -> list[FieldError]:
    """The kind's field rules (beyond object metadata) for an object about to be stored."""
    rule = _RULES.get(info.group_resource)
    return rule(obj) if rule is not None else []


def validate_builtin(info: ResourceInfo, obj: dict, name: str) -> None:
    """422 Invalid with the causes of metadata and field rules."""
    meta = obj.get("metadata") or {}
    causes = validate_object_meta(meta) + field_errors(info, obj)
    if causes:
        raise errors.invalid(info, name, causes)
