"""Kubernetes API errors as the real kube-apiserver reports them.

Clients (kubectl, the ``kubernetes`` client, kopf) branch on ``reason``/``code`` and show ``message``
verbatim, so the texts below follow k8s.io/apimachinery (``pkg/api/errors`` and
``pkg/util/validation/field``) to the character.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .resources import ResourceInfo

__all__ = [
    "BODY_MEDIA_TYPES",
    "CUSTOM_RESOURCE_PATCH_MEDIA_TYPES",
    "ApiError",
    "FieldError",
    "already_exists",
    "bad_request",
    "cause",
    "conflict",
    "forbidden",
    "go_format_float",
    "go_format_value",
    "go_json",
    "gone_expired",
    "internal_error",
    "invalid",
    "json_patch_failed",
    "method_not_allowed",
    "namespace_terminating",
    "not_found",
    "timeout",
    "too_many_requests",
    "unauthorized",
    "unsupported_media_type",
]

# What a real server lists in a 415 for request bodies, and for PATCH of a custom resource
# (no strategic merge).
BODY_MEDIA_TYPES: tuple[str, ...] = (
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
)
CUSTOM_RESOURCE_PATCH_MEDIA_TYPES: tuple[str, ...] = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


class ApiError(Exception):
    """An error the API server answers with a Status object (never a bare string)."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The full metav1.Status body, keys in the order the real server writes them."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"


def _details(resource: ResourceInfo, name: str, kind: str) -> dict[str, Any]:
    """StatusDetails with Go's omitempty: an empty name or group is left out."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource.group:
        details["group"] = resource.group
    details["kind"] = kind
    return details


def _qualified_resource(resource: ResourceInfo) -> str:
    return resource.group_resource


def not_found(resource: ResourceInfo, name: str) -> ApiError:
    """404 NotFound: ``secrets "x" not found`` / ``deployments.apps "x" not found``."""
    return ApiError(
        404,
        "NotFound",
        f"{_qualified_resource(resource)} {go_quote(name)} not found",
        _details(resource, name, resource.plural),
    )


def already_exists(resource: ResourceInfo, name: str) -> ApiError:
    """409 AlreadyExists on create of an existing name."""
    return ApiError(
        409,
        "AlreadyExists",
        f"{_qualified_resource(resource)} {go_quote(name)} already exists",
        _details(resource, name, resource.plural),
    )


def conflict(resource: ResourceInfo, name: str) -> ApiError:
    """409 Conflict for a stale resourceVersion (optimistic concurrency)."""
    return ApiError(
        409,
        "Conflict",
        f"Operation cannot be fulfilled on {_qualified_resource(resource)} {go_quote(name)}: "
        "the object has been modified; please apply your changes to the latest version and try again",
        _details(resource, name, resource.plural),
    )


def _aggregate(messages: Sequence[str]) -> str:
    """utilerrors.Aggregate.Error(): one message bare, several de-duplicated inside ``[...]``."""
    if len(messages) == 1:
        return messages[0]
    seen: list[str] = []
    for msg in messages:
        if msg not in seen:
            seen.append(msg)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid(resource: ResourceInfo, name: str, causes: Sequence[dict[str, Any] | FieldError]) -> ApiError:
    """422 Invalid: ``Widget.example.com "w1" is invalid: [spec.a: Required value, ...]``.

    ``causes`` are StatusCause dicts (see :func:`cause`) or :class:`FieldError` objects; details.kind is the
    Kind (not the plural) as in NewInvalid.
    """
    cause_dicts = [c.to_cause() if isinstance(c, FieldError) else c for c in causes]
    kind = resource.kind
    qualified = f"{kind}.{resource.group}" if resource.group else kind
    if cause_dicts:
        texts = [f"{c.get('field', '')}: {c.get('message', '')}" for c in cause_dicts]
        message = f"{qualified} {go_quote(name)} is invalid: {_aggregate(texts)}"
    else:
        message = f"{qualified} {go_quote(name)} is invalid"
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource.group:
        details["group"] = resource.group
    details["kind"] = kind
    if cause_dicts:
        details["causes"] = cause_dicts
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    """400 BadRequest (NewBadRequest has no details)."""
    return ApiError(400, "BadRequest", message)


def forbidden(message: str, details: dict[str, Any] | None = None) -> ApiError:
    """403 Forbidden with a caller-built message (see :func:`namespace_terminating` for the usual one)."""
    return ApiError(403, "Forbidden", message, details)


def namespace_terminating(resource: ResourceInfo, name: str, namespace: str) -> ApiError:
    """403 from the NamespaceLifecycle admission plugin for a create in a namespace being deleted."""
    reason = f"unable to create new content in namespace {namespace} because it is being terminated"
    qualified = _qualified_resource(resource)
    message = (
        f"{qualified} {go_quote(name)} is forbidden: {reason}"
        if name
        else f"{qualified} is forbidden: {reason}"
    )
    details = _details(resource, name, resource.plural)
    details["causes"] = [cause("NamespaceTerminating", "metadata.namespace", "namespace is being terminated")]
    return ApiError(403, "Forbidden", message, details)


def gone_expired(message: str) -> ApiError:
    """410 Expired, e.g. ``too old resource version: 5 (120)`` for a watch or a continue token."""
    return ApiError(410, "Expired", message)


def unsupported_media_type(content_type: str, accepted: Sequence[str] | None = None) -> ApiError:
    """415 UnsupportedMediaType; the real message lists what is accepted, not what was sent.

    Without ``accepted``: a patch content type (e.g. strategic merge on a custom resource) lists the
    custom-resource patch types, anything else the body media types.
    """
    if accepted is None:
        accepted = CUSTOM_RESOURCE_PATCH_MEDIA_TYPES if "patch" in content_type else BODY_MEDIA_TYPES
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def method_not_allowed(resource: ResourceInfo, action: str) -> ApiError:
    """405 MethodNotAllowed (NewMethodNotSupported): ``create is not supported on resources of kind "x"``."""
    qualified = _qualified_resource(resource)
    details: dict[str, Any] = {}
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.plural
    return ApiError(
        405,
        "MethodNotAllowed",
        f"{action} is not supported on resources of kind {go_quote(qualified)}",
        details,
    )


def json_patch_failed() -> ApiError:
    """422 for a JSON patch that cannot be applied (failed ``test``, ``remove`` of a missing path).

    The real server wraps it with NewGenericServerResponse, so the message is generic and details empty.
    """
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def timeout(message: str, retry_after_seconds: int = 0) -> ApiError:
    """504 Timeout (NewTimeoutError)."""
    details = {"retryAfterSeconds": retry_after_seconds} if retry_after_seconds else {}
    return ApiError(504, "Timeout", f"Timeout: {message}", details)


def too_many_requests(message: str = "", retry_after_seconds: int = 0) -> ApiError:
    """429 TooManyRequests (NewTooManyRequests) as the API priority-and-fairness filter answers."""
    details = {"retryAfterSeconds": retry_after_seconds} if retry_after_seconds else {}
    return ApiError(429, "TooManyRequests", message or "Too many requests, please try again later.", details)


def internal_error(err: str) -> ApiError:
    """500 InternalError (NewInternalError)."""
    return ApiError(500, "InternalError", f"Internal error occurred: {err}", {"causes": [{"message": err}]})


def unauthorized(message: str = "Unauthorized") -> ApiError:
    """401 from the authentication filter (no or a wrong bearer token)."""
    return ApiError(401, "Unauthorized", message)


def cause(reason: str, field: str, message: str) -> dict[str, Any]:
    """A metav1.StatusCause (key order as the real server writes it)."""
    return {"reason": reason, "message": message, "field": field}


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) --------------------------------------

_TYPE_TEXT = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}
_NO_VALUE_TYPES = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError"}
_OMIT = object()


def go_quote(s: str) -> str:
    """Go's %q for a string: JSON-like double quoting (good enough for the names and values we see)."""
    return json.dumps(s, ensure_ascii=False)


def go_format_float(f: float) -> str:
    """Go's %v for a float64: shortest digits, exponent form when exp < -4 or exp >= 6 (``1e+06``)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    dec = Decimal(repr(abs(f))).normalize()
    _, digit_tuple, raw_exponent = dec.as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    exponent = int(raw_exponent)  # always an int for a finite number
    exp = len(digits) + exponent - 1  # decimal exponent of the leading digit
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if exponent >= 0:
        return sign + digits + "0" * exponent
    point = len(digits) + exponent
    if point > 0:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    return f"{sign}0.{'0' * -point}{digits}"


def go_format_value(value: Any) -> str:
    """How field.Error renders a bad value: strings %q, numbers and bools %v, anything else as Go JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_format_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_json(value)


def go_json(value: Any) -> str:
    """encoding/json.Marshal: sorted map keys, no spaces, HTML-safe escaping of <, > and &."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@dataclass(frozen=True)
class FieldError:
    """One field.Error; ``error()`` is ``<field>: <body>`` and ``body()`` is what a StatusCause carries."""

    type: str
    field: str
    bad_value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        """field.Error.ErrorBody()."""
        text = _TYPE_TEXT[self.type]
        if self.type not in _NO_VALUE_TYPES and self.bad_value is not _OMIT:
            text = f"{text}: {go_format_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def error(self) -> str:
        """field.Error.Error()."""
        return f"{self.field}: {self.body()}"

    def to_cause(self) -> dict[str, Any]:
        """The StatusCause of this error inside a 422 Status."""
        return cause(self.type, self.field, self.body())

    # Constructors named after the Go helpers, so call sites read like the apiserver code.
    @staticmethod
    def required(field: str, detail: str = "") -> FieldError:
        """field.Required."""
        return FieldError("FieldValueRequired", field, _OMIT, detail)

    @staticmethod
    def invalid(field: str, value: Any, detail: str = "") -> FieldError:
        """field.Invalid."""
        return FieldError("FieldValueInvalid", field, value, detail)

    @staticmethod
    def type_invalid(field: str, value: Any, detail: str = "") -> FieldError:
        """field.TypeInvalid."""
        return FieldError("FieldValueTypeInvalid", field, value, detail)

    @staticmethod
    def not_supported(field: str, value: Any, valid: Sequence[str]) -> FieldError:
        """field.NotSupported: ``Unsupported value: "xl": supported values: "s", "m"``."""
        detail = "supported values: " + ", ".join(go_quote(v) for v in valid) if valid else ""
        return FieldError("FieldValueNotSupported", field, value, detail)

    @staticmethod
    def too_long(field: str, max_length: int) -> FieldError:
        """field.TooLong: the value itself is never shown."""
        if max_length >= 0:
            unit = "byte" if max_length == 1 else "bytes"
            detail = f"may not be more than {max_length} {unit}"
        else:
            detail = "value is too long"
        return FieldError("FieldValueTooLong", field, _OMIT, detail)

    @staticmethod
    def too_many(field: str, actual: int, max_items: int) -> FieldError:
        """field.TooMany: ``Too many: 3: must have at most 2 items``."""
        if max_items >= 0:
            detail = f"must have at most {max_items} {'item' if max_items == 1 else 'items'}"
        else:
            detail = "has too many items"
        return FieldError("FieldValueTooMany", field, actual if actual >= 0 else _OMIT, detail)

    @staticmethod
    def forbidden(field: str, detail: str) -> FieldError:
        """field.Forbidden."""
        return FieldError("FieldValueForbidden", field, _OMIT, detail)

    @staticmethod
    def duplicate(field: str, value: Any) -> FieldError:
        """field.Duplicate."""
        return FieldError("FieldValueDuplicate", field, value)

    @staticmethod
    def not_found(field: str, value: Any) -> FieldError:
        """field.NotFound."""
        return FieldError("FieldValueNotFound", field, value)
