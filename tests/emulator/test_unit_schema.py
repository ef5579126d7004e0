"""Custom resources against the CRD's structural schema: pruning, defaulting, validation.

Expected texts follow apiextensions-apiserver + kube-openapi: pruned paths are sorted and use ``[i]`` for
list items; validation errors carry kube-openapi's ``<path> in body ...`` details and field paths.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from celigo_testkit.kube import errors
from celigo_testkit.kube.resources import ResourceInfo
from celigo_testkit.kube.schema import (
    apply_schema_defaults,
    process_custom_resource,
    prune_unknown_fields,
    validate_against_schema,
    validate_name,
    validate_object_meta,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["region"],
            "properties": {
                "region": {"type": "string", "enum": ["us", "eu"]},
                "size": {"type": "string", "default": "m"},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5, "minLength": 2},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                "port": {"x-kubernetes-int-or-string": True},
                "when": {"type": "string", "format": "date-time"},
                "tags": {
                    "type": "array",
                    "maxItems": 2,
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"y": {"type": "string"}, "n": {"type": "integer", "default": 3}},
                    },
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"level": {"type": "string", "default": "info"}},
                },
                "note": {"type": "string", "nullable": True},
            },
            "x-kubernetes-validations": [{"rule": "self.replicas <= 5", "message": "too many"}],
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string", "enum": ["Ready", "Failed"]}},
        },
    },
}
WIDGETS = ResourceInfo(
    "example.com",
    "v1",
    "Widget",
    "widgets",
    "widget",
    True,
    subresources=("status",),
    schema=SCHEMA,
    custom=True,
)


def _widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "d"},
        "spec": {"region": "us", **spec},
    }


def _invalid(obj: dict[str, Any], **kwargs: Any) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as info:
        process_custom_resource(WIDGETS, obj, name="w1", **kwargs)
    return info.value


# --- pruning -----------------------------------------------------------------------------------------


def test_unknown_fields_are_pruned_with_one_warning_each_by_default() -> None:
    obj = _widget(x=1, items=[{"y": "a", "z": 2}])
    obj["extra"] = True
    warnings = process_custom_resource(WIDGETS, obj, name="w1")
    assert warnings == ['unknown field "extra"', 'unknown field "spec.items[0].z"', 'unknown field "spec.x"']
    assert "x" not in obj["spec"] and "extra" not in obj
    assert obj["spec"]["items"] == [{"y": "a", "n": 3}]
    assert obj["apiVersion"] == "example.com/v1" and obj["kind"] == "Widget"


def test_strict_field_validation_is_a_bad_request_listing_every_unknown_field() -> None:
    obj = _widget(x=1, y=2)
    err = _invalid(obj, field_validation="Strict")
    assert err.code == 400 and err.reason == "BadRequest"
    assert err.message == 'strict decoding error: unknown field "spec.x", unknown field "spec.y"'


def test_ignore_prunes_silently() -> None:
    obj = _widget(x=1)
    assert process_custom_resource(WIDGETS, obj, name="w1", field_validation="Ignore") == []
    assert "x" not in obj["spec"]


def test_unknown_metadata_fields_are_reported_first() -> None:
    obj = _widget(x=1)
    obj["metadata"]["bogus"] = 1
    assert process_custom_resource(WIDGETS, obj, name="w1") == [
        'unknown field "metadata.bogus"',
        'unknown field "spec.x"',
    ]
    assert obj["metadata"] == {"name": "w1", "namespace": "d"}


def test_preserve_unknown_fields_and_embedded_resources_keep_their_content() -> None:
    obj = _widget(
        free={"anything": {"goes": [1, 2]}},
        template={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "nope": 1},
            "spec": {"a": 1},
            "junk": 1,
        },
    )
    warnings = process_custom_resource(WIDGETS, obj, name="w1")
    assert obj["spec"]["free"] == {"anything": {"goes": [1, 2]}}
    assert obj["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {},
    }
    assert warnings == [
        'unknown field "spec.template.junk"',
        'unknown field "spec.template.spec.a"',
        'unknown field "spec.template.metadata.nope"',
    ]


def test_prune_without_schema_below_a_node_drops_everything() -> None:
    obj = {"spec": {"a": {"b": 1}}}
    assert prune_unknown_fields(obj, {"type": "object", "properties": {"spec": {"type": "object"}}}) == [
        "spec.a"
    ]
    assert obj == {"spec": {}}


# --- defaulting ------------------------------------------------------------------------------------


def test_defaults_apply_top_down_including_inside_defaulted_objects() -> None:
    obj = _widget()
    process_custom_resource(WIDGETS, obj, name="w1")
    assert obj["spec"]["size"] == "m"
    assert obj["spec"]["nested"] == {"level": "info"}


def test_nulls_are_defaulted_pruned_or_kept_by_nullability() -> None:
    obj = _widget(size=None, replicas=None, note=None)
    process_custom_resource(WIDGETS, obj, name="w1")
    assert obj["spec"]["size"] == "m"  # null with a default → default
    assert "replicas" not in obj["spec"]  # null, not nullable, no default → dropped
    assert obj["spec"]["note"] is None  # nullable → kept


def test_existing_values_are_not_overwritten_by_defaults() -> None:
    obj = {"spec": {"size": "s", "nested": {"level": "debug"}}}
    apply_schema_defaults(obj, SCHEMA)
    assert obj["spec"]["size"] == "s" and obj["spec"]["nested"] == {"level": "debug"}


# --- validation ------------------------------------------------------------------------------------


def test_enum_violation_message() -> None:
    err = _invalid(_widget(region="xx"))
    assert err.code == 422 and err.reason == "Invalid"
    assert (
        err.message
        == 'Widget.example.com "w1" is invalid: spec.region: Unsupported value: "xx": supported values: "us", "eu"'
    )
    assert err.details == {
        "name": "w1",
        "group": "example.com",
        "kind": "Widget",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "xx": supported values: "us", "eu"',
                "field": "spec.region",
            }
        ],
    }


def test_required_value() -> None:
    obj = _widget()
    del obj["spec"]["region"]
    err = _invalid(obj)
    assert err.message == 'Widget.example.com "w1" is invalid: spec.region: Required value'
    assert (err.details or {})["causes"][0]["reason"] == "FieldValueRequired"


def test_type_mismatch_names_the_json_type() -> None:
    err = _invalid(_widget(replicas="three"))
    assert err.message == (
        'Widget.example.com "w1" is invalid: spec.replicas: Invalid value: "string": spec.replicas in body must be'
        ' of type integer: "string"'
    )
    assert (err.details or {})["causes"][0]["reason"] == "FieldValueTypeInvalid"


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        (
            {"replicas": 0},
            (
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            ),
        ),
        (
            {"replicas": 9},
            (
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: 9: spec.replicas in body should be less than or equal to 5",
            ),
        ),
        (
            {"ratio": 0},
            (
                "FieldValueInvalid",
                "spec.ratio",
                "Invalid value: 0: spec.ratio in body should be greater than 0",
            ),
        ),
        (
            {"name": "ab1"},
            (
                "FieldValueInvalid",
                "spec.name",
                "Invalid value: \"ab1\": spec.name in body should match '^[a-z]+$'",
            ),
        ),
        (
            {"name": "a"},
            (
                "FieldValueInvalid",
                "spec.name",
                'Invalid value: "a": spec.name in body should be at least 2 chars long',
            ),
        ),
        ({"name": "abcdefg"}, ("FieldValueTooLong", "spec.name", "Too long: may not be more than 5 bytes")),
        (
            {"tags": ["a", "b", "c"]},
            ("FieldValueTooMany", "spec.tags", "Too many: 3: must have at most 2 items"),
        ),
        ({"tags": ["a", "a"]}, ("FieldValueDuplicate", "spec.tags[1]", 'Duplicate value: "a"')),
        (
            {"labels": {"k": "long"}},
            ("FieldValueTooLong", "spec.labels.k", "Too long: may not be more than 3 bytes"),
        ),
        (
            {"items": [{"y": 5}]},
            (
                "FieldValueTypeInvalid",
                "spec.items[0].y",
                'Invalid value: "integer": spec.items[0].y in body must be of type string: "integer"',
            ),
        ),
        (
            {"when": "yesterday"},
            (
                "FieldValueTypeInvalid",
                "spec.when",
                'Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
            ),
        ),
        (
            {"port": True},
            (
                "FieldValueInvalid",
                "spec.port",
                'Invalid value: "": "spec.port" must validate at least one schema (anyOf)',
            ),
        ),
    ],
)
def test_value_validations(spec: dict[str, Any], cause: tuple[str, str, str]) -> None:
    err = _invalid(_widget(**spec))
    first = (err.details or {})["causes"][0]
    assert (first["reason"], first["field"], first["message"]) == cause


def test_valid_values_pass() -> None:
    obj = _widget(
        replicas=5,
        ratio=0.5,
        name="abc",
        tags=["a", "b"],
        port="http",
        when="2024-01-02T03:04:05Z",
        labels={"k": "v"},
    )
    assert process_custom_resource(WIDGETS, obj, name="w1") == []
    obj2 = _widget(port=8080, replicas=2.0)  # an integral float is an integer
    process_custom_resource(WIDGETS, obj2, name="w1")


def test_several_errors_are_bracketed_properties_before_required() -> None:
    obj = _widget(replicas=0, name="ABC")
    del obj["spec"]["region"]
    err = _invalid(obj)
    assert err.message == (
        'Widget.example.com "w1" is invalid: [spec.name: Invalid value: "ABC": spec.name in body should match'
        " '^[a-z]+$', spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1,"
        " spec.region: Required value]"
    )


def test_status_subtree_is_validated() -> None:
    obj = _widget()
    obj["status"] = {"phase": "Weird"}
    err = _invalid(obj)
    assert (err.details or {})["causes"][0]["field"] == "status.phase"


def test_validation_does_not_mutate_input() -> None:
    obj = _widget(replicas=3)
    before = copy.deepcopy(obj)
    assert validate_against_schema(obj, SCHEMA) == []
    assert obj == before


def test_invalid_object_name() -> None:
    with pytest.raises(errors.ApiError) as info:
        process_custom_resource(WIDGETS, {**_widget(), "metadata": {"name": "Bad_Name"}}, name="Bad_Name")
    err = info.value
    assert err.message.startswith(
        'Widget.example.com "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
    )
    assert (err.details or {})["causes"][0]["field"] == "metadata.name"
    assert "a lowercase RFC 1123 subdomain must consist of" in err.message
    assert "(e.g. 'example.com', regex used for validation is" in err.message


def test_name_rules_per_resource() -> None:
    namespaces = ResourceInfo("", "v1", "Namespace", "namespaces", "namespace", False)
    errs = validate_name(namespaces, "a.b")
    assert len(errs) == 1 and "(e.g. 'my-name',  or '123-abc', regex used for validation is" in errs[0].body()
    services = ResourceInfo("", "v1", "Service", "services", "service", True)
    assert validate_name(services, "1abc")[0].detail.startswith("a DNS-1035 label must consist of")
    roles = ResourceInfo(
        "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", False
    )
    assert validate_name(roles, "system:controller:x") == []
    assert validate_name(roles, "a/b")[0].body() == "Invalid value: \"a/b\": may not contain '/'"
    assert validate_name(WIDGETS, "x" * 254)[0].detail == "must be no more than 253 bytes"


def test_schemaless_custom_resource_keeps_everything() -> None:
    info = ResourceInfo("example.com", "v1", "Blob", "blobs", "blob", True, custom=True)
    obj = {"metadata": {"name": "b"}, "spec": {"anything": [1, {"x": None}]}}
    assert process_custom_resource(info, obj, name="b") == []
    assert obj["spec"] == {"anything": [1, {"x": None}]}


# --- metadata, ratcheting, RE2 patterns ------------------------------------------------------------------


def test_object_meta_checks_labels_annotations_owners_and_finalizers() -> None:
    meta = {
        "name": "w",
        "labels": {"-bad": "ok", "good": "-bad-"},
        "annotations": {"Example.COM/Key": "fine", "a b": "x"},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "1", "controller": True},
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "2", "controller": True},
            {"apiVersion": "", "kind": "", "name": "", "uid": ""},
        ],
        "finalizers": ["example.com/cleanup", "not valid"],
    }
    errs = validate_object_meta(meta)
    fields = [e.field for e in errs]
    assert fields == [
        "metadata.labels",
        "metadata.labels",
        "metadata.annotations",
        "metadata.ownerReferences.apiVersion",
        "metadata.ownerReferences.kind",
        "metadata.ownerReferences.name",
        "metadata.ownerReferences.uid",
        "metadata.ownerReferences",
        "metadata.finalizers",
    ]
    assert (
        errs[0].body().startswith('Invalid value: "-bad": name part must consist of alphanumeric characters')
    )
    assert (
        errs[1]
        .body()
        .startswith('Invalid value: "-bad-": a valid label must be an empty string or consist of')
    )
    assert errs[3].body() == 'Invalid value: "": version must not be empty'
    assert (
        errs[7].detail
        == 'Only one reference can have Controller set to true. Found "true" in references for Deployment/d and Pod/p'
    )
    assert (
        validate_object_meta(
            {"name": "x", "labels": {"app.kubernetes.io/name": "x"}, "finalizers": ["kubernetes"]}
        )
        == []
    )


def test_custom_resource_metadata_errors_come_before_schema_errors() -> None:
    obj = _widget(region="xx")
    obj["metadata"]["labels"] = {"ok": "-no-"}
    err = _invalid(obj)
    assert [c["field"] for c in (err.details or {})["causes"]] == ["metadata.labels", "spec.region"]


def test_ratcheting_keeps_unchanged_invalid_values_on_update() -> None:
    stored = _widget(replicas=9)  # valid once, invalid under today's schema
    update = copy.deepcopy(stored)
    update["spec"]["size"] = "l"
    assert process_custom_resource(WIDGETS, update, name="w1", old=stored) == []
    changed = copy.deepcopy(stored)
    changed["spec"]["replicas"] = 8
    err = _invalid(changed, old=stored)
    assert (err.details or {})["causes"][0]["field"] == "spec.replicas"


def test_patterns_follow_re2_semantics() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "pattern": "^[a-z]+$"},
            "w": {"type": "string", "pattern": "^\\w+$"},
        },
    }
    assert validate_against_schema({"a": "abc", "w": "a_1"}, schema) == []
    errs = validate_against_schema({"a": "abc\n", "w": "é"}, schema)
    assert [e.field for e in errs] == ["a", "w"]  # RE2: $ is end of text, \w is ASCII


def test_list_type_map_rejects_duplicate_keys() -> None:
    schema = {
        "type": "object",
        "properties": {
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "properties": {"type": {"type": "string"}, "status": {"type": "string"}},
                },
            }
        },
    }
    obj = {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Ready", "status": "False"}]}
    (err,) = validate_against_schema(obj, schema)
    assert (err.type, err.field, err.body()) == (
        "FieldValueDuplicate",
        "conditions[1]",
        'Duplicate value: {"type":"Ready"}',
    )
    assert validate_against_schema({"conditions": [{"type": "A"}, {"type": "B"}]}, schema) == []
