"""Status errors as kube-apiserver writes them (k8s.io/apimachinery/pkg/api/errors, util/validation/field)."""

from __future__ import annotations

import pytest

from celigo_testkit.kube import errors
from celigo_testkit.kube.errors import FieldError
from celigo_testkit.kube.resources import ResourceInfo, builtin_resource

SECRETS = builtin_resource("", "v1", "secrets")
DEPLOYMENTS = builtin_resource("apps", "v1", "deployments")
WIDGETS = ResourceInfo("example.com", "v1", "Widget", "widgets", "widget", True, custom=True)


def test_status_body_has_the_metav1_status_shape() -> None:
    body = errors.not_found(SECRETS, "x").status()
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "kind": "secrets"},
        "code": 404,
    }


def test_not_found_names_the_group_for_non_core_resources() -> None:
    err = errors.not_found(DEPLOYMENTS, "web")
    assert err.code == 404
    assert err.message == 'deployments.apps "web" not found'
    assert err.details == {"name": "web", "group": "apps", "kind": "deployments"}


def test_already_exists_and_conflict() -> None:
    exists = errors.already_exists(WIDGETS, "w1")
    assert (exists.code, exists.reason) == (409, "AlreadyExists")
    assert exists.message == 'widgets.example.com "w1" already exists'
    conflict = errors.conflict(SECRETS, "s")
    assert (conflict.code, conflict.reason) == (409, "Conflict")
    assert conflict.message == (
        'Operation cannot be fulfilled on secrets "s": the object has been modified; please apply your changes'
        " to the latest version and try again"
    )
    assert conflict.details == {"name": "s", "kind": "secrets"}


def test_invalid_with_one_cause_is_not_bracketed() -> None:
    err = errors.invalid(WIDGETS, "w1", [FieldError.not_supported("spec.size", "xl", ["s", "m"])])
    assert err.code == 422 and err.reason == "Invalid"
    assert (
        err.message
        == 'Widget.example.com "w1" is invalid: spec.size: Unsupported value: "xl": supported values: "s", "m"'
    )
    assert err.details == {
        "name": "w1",
        "group": "example.com",
        "kind": "Widget",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "xl": supported values: "s", "m"',
                "field": "spec.size",
            }
        ],
    }


def test_invalid_with_several_causes_brackets_and_deduplicates() -> None:
    causes = [
        FieldError.required("spec.a"),
        FieldError.invalid("spec.b", 0, "spec.b in body should be greater than or equal to 1"),
        FieldError.required("spec.a"),
    ]
    err = errors.invalid(SECRETS, "s", causes)
    assert err.message == (
        'Secret "s" is invalid: [spec.a: Required value, spec.b: Invalid value: 0: spec.b in body should be'
        " greater than or equal to 1]"
    )
    assert "group" not in (err.details or {})
    assert len((err.details or {})["causes"]) == 3  # causes are not de-duplicated, only the message is


def test_invalid_accepts_plain_cause_dicts() -> None:
    err = errors.invalid(WIDGETS, "w", [errors.cause("FieldValueRequired", "spec.x", "Required value")])
    assert err.message == 'Widget.example.com "w" is invalid: spec.x: Required value'


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            FieldError.required("metadata.name", "name or generateName is required"),
            "Required value: name or generateName is required",
        ),
        (FieldError.too_long("spec.name", 5), "Too long: may not be more than 5 bytes"),
        (FieldError.too_long("spec.name", 1), "Too long: may not be more than 1 byte"),
        (FieldError.too_many("spec.items", 3, 2), "Too many: 3: must have at most 2 items"),
        (FieldError.too_many("spec.items", 2, 1), "Too many: 2: must have at most 1 item"),
        (FieldError.invalid("spec.ratio", 1.5, "x"), "Invalid value: 1.5: x"),
        (FieldError.invalid("spec.on", True, "x"), "Invalid value: true: x"),
        (FieldError.invalid("spec.m", {"b": 1, "a": "<"}, "x"), 'Invalid value: {"a":"\\u003c","b":1}: x'),
        (FieldError.invalid("spec.l", None, "x"), "Invalid value: null: x"),
        (FieldError.duplicate("spec.l[1]", "a"), 'Duplicate value: "a"'),
        (FieldError.forbidden("spec.x", "may not be set"), "Forbidden: may not be set"),
        (
            FieldError.type_invalid(
                "spec.replicas", "string", 'spec.replicas in body must be of type integer: "string"'
            ),
            'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        ),
    ],
)
def test_field_error_bodies(error: FieldError, text: str) -> None:
    assert error.body() == text
    assert error.error() == f"{error.field}: {text}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.5, "0.5"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (-2.5, "-2.5"),
    ],
)
def test_floats_print_like_go(value: float, text: str) -> None:
    assert errors.go_format_float(value) == text


def test_json_patch_failure_is_generic_with_empty_details() -> None:
    body = errors.json_patch_failed().status()
    assert body["code"] == 422 and body["reason"] == "Invalid"
    assert body["message"] == "the server rejected our request due to an error in our request"
    assert body["details"] == {}


def test_namespace_terminating_is_forbidden_with_a_cause() -> None:
    err = errors.namespace_terminating(SECRETS, "s", "ns1")
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == (
        'secrets "s" is forbidden: unable to create new content in namespace ns1 because it is being terminated'
    )
    assert (err.details or {})["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace is being terminated",
            "field": "metadata.namespace",
        }
    ]


def test_other_status_codes() -> None:
    assert errors.bad_request("nope").status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "nope",
        "reason": "BadRequest",
        "code": 400,
    }
    expired = errors.gone_expired("too old resource version: 1 (5)")
    assert (expired.code, expired.reason) == (410, "Expired")
    media = errors.unsupported_media_type("application/strategic-merge-patch+json")
    assert media.code == 415 and media.reason == "UnsupportedMediaType"
    assert media.message == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    assert "application/json, application/yaml" in errors.unsupported_media_type("text/plain").message
    method = errors.method_not_allowed(DEPLOYMENTS, "deletecollection")
    assert (
        method.code == 405
        and method.message == 'deletecollection is not supported on resources of kind "deployments.apps"'
    )
    assert errors.timeout("x", 2).status()["details"] == {"retryAfterSeconds": 2}
    assert errors.too_many_requests(retry_after_seconds=3).code == 429
    assert errors.internal_error("boom").message == "Internal error occurred: boom"
    assert errors.unauthorized().status()["code"] == 401
    assert errors.forbidden("no").code == 403
