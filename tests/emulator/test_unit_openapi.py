"""OpenAPI v3 documents: what kubectl reads from /openapi/v3 (apply's fieldValidation check, explain).

The built-in component schemas are generated from the upstream Kubernetes v1.36 OpenAPI (shipped with
kubernetes-validate); ``test_builtin_module_matches_upstream`` regenerates them and fails on drift.
Run this file as a script to rewrite ``_openapi_builtin.py``.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from celigo_testkit.kube import openapi
from celigo_testkit.kube.resources import BUILTIN_RESOURCES, builtin_resource, resources_from_crd

UPSTREAM_VERSION = "v1.36.0"
MODULE = Path(openapi.__file__).with_name("_openapi_builtin.py")


def _upstream_definitions() -> dict[str, Any]:
    kv = pytest.importorskip("kubernetes_validate")
    path = (
        Path(kv.__file__).parent
        / "kubernetes-json-schema"
        / f"{UPSTREAM_VERSION}-local"
        / "_definitions.json"
    )
    return json.loads(path.read_text())["$defs"]


def _roots() -> list[str]:
    roots = [
        openapi.STATUS,
        openapi.DELETE_OPTIONS,
        openapi.PATCH,
        f"{openapi.META}.APIResourceList",
        openapi.SCALE,
    ]
    for info in BUILTIN_RESOURCES:
        roots += [openapi.schema_name(info), openapi.schema_name(info, info.list_kind)]
    return roots


def generate_module_text() -> str:
    """The text of ``_openapi_builtin.py`` derived from the upstream definitions."""
    schemas = openapi.v3_schemas_from_json_schema(_upstream_definitions(), _roots())
    raw = json.dumps(schemas, sort_keys=True, separators=(",", ":")).encode()
    blob = base64.b64encode(zlib.compress(raw, 9)).decode()
    lines = [blob[i : i + 100] for i in range(0, len(blob), 100)]
    body = "\n".join(f'    "{line}",' for line in lines)
    return (
        '"""Built-in OpenAPI v3 component schemas of Kubernetes '
        + UPSTREAM_VERSION
        + " (generated, do not edit).\n\n"
        "zlib-compressed, base64-encoded JSON: {schema name: schema}, converted from the upstream OpenAPI as\n"
        "shipped by kubernetes-validate (Apache-2.0) by openapi.v3_schemas_from_json_schema. Regenerate with\n"
        "``python tests/emulator/test_unit_openapi.py``; the unit test of that file fails when this drifts.\n"
        '"""\n\n'
        "DATA: tuple[str, ...] = (\n" + body + "\n)\n"
    )


def test_builtin_module_matches_upstream() -> None:
    assert _decode(MODULE.read_text()) == _decode(generate_module_text())


def _decode(module_text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(module_text, "gen", "exec"), namespace)
    return json.loads(zlib.decompress(base64.b64decode("".join(namespace["DATA"]))))


# --- conversion from the JSON-schema form --------------------------------------------------------------


def test_conversion_unwraps_nullable_types_and_wraps_refs_in_allof() -> None:
    defs = {
        "io.k8s.api.core.v1.Thing": {
            "type": ["object", "null"],
            "description": "A thing.",
            "properties": {
                "apiVersion": {"type": ["string", "null"], "enum": ["v1"]},
                "kind": {"type": ["string", "null"], "enum": ["Thing"]},
                "spec": {"$ref": "#/$defs/io.k8s.api.core.v1.ThingSpec", "description": "Spec."},
                "items": {
                    "type": ["array", "null"],
                    "items": {"$ref": "#/$defs/io.k8s.api.core.v1.ThingSpec"},
                },
                "mode": {"type": ["string", "null"], "enum": ["A", "B"]},
            },
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Thing", "version": "v1"}],
        },
        "io.k8s.api.core.v1.ThingSpec": {
            "type": ["object", "null"],
            "properties": {"n": {"type": ["integer", "null"]}},
        },
        "io.k8s.api.core.v1.Unrelated": {"type": ["object", "null"]},
    }
    out = openapi.v3_schemas_from_json_schema(defs, ["io.k8s.api.core.v1.Thing"])
    assert sorted(out) == ["io.k8s.api.core.v1.Thing", "io.k8s.api.core.v1.ThingSpec"]
    thing = out["io.k8s.api.core.v1.Thing"]
    assert thing["type"] == "object"
    assert thing["properties"]["apiVersion"] == {"type": "string"}
    assert thing["properties"]["kind"] == {"type": "string"}
    assert thing["properties"]["mode"]["enum"] == ["A", "B"]  # real enums survive
    assert thing["properties"]["spec"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ThingSpec"}],
        "description": "Spec.",
    }
    assert thing["properties"]["items"]["items"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ThingSpec"}]
    }
    assert out["io.k8s.api.core.v1.ThingSpec"]["properties"]["n"] == {"type": "integer"}


def test_builtin_schemas_carry_patch_strategies_kubectl_apply_uses() -> None:
    schemas = openapi.builtin_schemas()
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["items"] == {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}]}
    env = schemas["io.k8s.api.core.v1.Container"]["properties"]["env"]
    assert env["x-kubernetes-patch-merge-key"] == "name"
    finalizers = schemas[openapi.OBJECT_META]["properties"]["finalizers"]
    assert finalizers["x-kubernetes-patch-strategy"] == "merge"
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert deployment["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/" + openapi.OBJECT_META}
    ]


# --- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "plural", "expected"),
    [
        ("", "secrets", "io.k8s.api.core.v1.Secret"),
        ("apps", "deployments", "io.k8s.api.apps.v1.Deployment"),
        ("rbac.authorization.k8s.io", "clusterroles", "io.k8s.api.rbac.v1.ClusterRole"),
        ("networking.k8s.io", "networkpolicies", "io.k8s.api.networking.v1.NetworkPolicy"),
        ("coordination.k8s.io", "leases", "io.k8s.api.coordination.v1.Lease"),
        ("events.k8s.io", "events", "io.k8s.api.events.v1.Event"),
        ("policy", "poddisruptionbudgets", "io.k8s.api.policy.v1.PodDisruptionBudget"),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ),
    ],
)
def test_builtin_schema_names_are_the_upstream_ones(group: str, plural: str, expected: str) -> None:
    info = builtin_resource(group, "v1", plural)
    assert openapi.schema_name(info) == expected
    assert expected in openapi.builtin_schemas()
    assert openapi.schema_name(info, info.list_kind) in openapi.builtin_schemas()


def _crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "celigoconnectors.celigo-operator.io"},
        "spec": {
            "group": "celigo-operator.io",
            "scope": "Namespaced",
            "names": {"kind": "CeligoConnector", "plural": "celigoconnectors", "singular": "celigoconnector"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "description": "CeligoConnector runs the baton-celigo connector.",
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "description": "Desired state.",
                                    "type": "object",
                                    "required": ["region"],
                                    "properties": {
                                        "region": {
                                            "description": "Celigo region.",
                                            "type": "string",
                                            "enum": ["us", "eu"],
                                        }
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }


def test_custom_resource_schema_name_reverses_the_group() -> None:
    info = resources_from_crd(_crd())[0]
    assert openapi.schema_name(info) == "io.celigo-operator.v1alpha1.CeligoConnector"
    assert openapi.schema_name(info, info.list_kind) == "io.celigo-operator.v1alpha1.CeligoConnectorList"


def test_custom_resource_schema_keeps_descriptions_and_references_object_meta() -> None:
    info = resources_from_crd(_crd())[0]
    schema = openapi.custom_resource_schema(info)
    assert schema["description"] == "CeligoConnector runs the baton-celigo connector."
    assert schema["properties"]["spec"]["properties"]["region"]["description"] == "Celigo region."
    assert schema["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/" + openapi.OBJECT_META}
    ]
    assert schema["properties"]["apiVersion"]["type"] == "string"
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "celigo-operator.io", "kind": "CeligoConnector", "version": "v1alpha1"}
    ]
    assert info.schema is not None and "metadata" not in info.schema["properties"]  # the CRD is not mutated


# --- documents ---------------------------------------------------------------------------------------


def _patch_op_for(doc: dict[str, Any], gvk: dict[str, str]) -> dict[str, Any]:
    """What kubectl's QueryParamVerifierV3 does: the first PATCH operation tagged with the GVK."""
    for path in doc["paths"].values():
        op = path.get("patch")
        if op and op.get("x-kubernetes-group-version-kind") == gvk:
            return op
    raise AssertionError(f"no PATCH operation for {gvk}")


def test_root_lists_server_relative_urls_per_group_version() -> None:
    root = openapi.openapi_v3_root([("", "v1"), ("apps", "v1")], {("apps", "v1"): "ABC"})
    assert root["paths"]["apis/apps/v1"] == {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=ABC"}
    assert root["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")


def test_core_document_patch_operation_supports_field_validation() -> None:
    core = [i for i in BUILTIN_RESOURCES if i.group == "" and i.version == "v1"]
    doc = openapi.openapi_v3_document("", "v1", core)
    op = _patch_op_for(doc, {"group": "", "kind": "Secret", "version": "v1"})
    params = {(p["name"], p["in"]) for p in op["parameters"]}
    assert ("fieldValidation", "query") in params
    assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    assert op["x-kubernetes-action"] == "patch"
    item = doc["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    assert (
        doc["paths"]["/api/v1/namespaces/{namespace}/secrets"]["get"]["operationId"]
        == "listCoreV1NamespacedSecret"
    )
    assert "/api/v1/secrets" in doc["paths"]
    # cluster-scoped namespaces have no namespace segment and no deletecollection
    assert "delete" not in doc["paths"]["/api/v1/namespaces"]
    assert doc["paths"]["/api/v1/namespaces/{name}"]["patch"]["operationId"] == "patchCoreV1Namespace"


def test_document_schemas_are_closed_under_references() -> None:
    apps = [i for i in BUILTIN_RESOURCES if i.group == "apps"]
    doc = openapi.openapi_v3_document("apps", "v1", apps)
    schemas = doc["components"]["schemas"]
    text = json.dumps(doc)
    import re

    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in schemas, ref
    assert "io.k8s.api.core.v1.Secret" not in schemas  # only what this group-version references
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas  # deployments/scale
    assert doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"][
        "x-kubernetes-group-version-kind"
    ] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}


def test_custom_resource_document_for_kubectl_apply_and_explain() -> None:
    info = resources_from_crd(_crd())[0]
    doc = openapi.openapi_v3_document("celigo-operator.io", "v1alpha1", [info])
    op = _patch_op_for(doc, {"group": "celigo-operator.io", "kind": "CeligoConnector", "version": "v1alpha1"})
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    # custom resources take no strategic merge patch, so kubectl computes a JSON merge patch
    assert set(op["requestBody"]["content"]) == {
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    }
    schemas = doc["components"]["schemas"]
    cr = schemas["io.celigo-operator.v1alpha1.CeligoConnector"]
    assert cr["properties"]["spec"]["description"] == "Desired state."
    assert openapi.OBJECT_META in schemas and openapi.LIST_META in schemas
    assert schemas["io.celigo-operator.v1alpha1.CeligoConnectorList"]["properties"]["items"]["items"][
        "allOf"
    ] == [{"$ref": "#/components/schemas/io.celigo-operator.v1alpha1.CeligoConnector"}]
    status_path = "/apis/celigo-operator.io/v1alpha1/namespaces/{namespace}/celigoconnectors/{name}/status"
    assert set(doc["paths"][status_path]) == {"get", "put", "patch", "parameters"}
    assert doc["openapi"] == "3.0.0"


def test_document_hash_changes_with_content() -> None:
    info = resources_from_crd(_crd())[0]
    a = openapi.openapi_v3_document("celigo-operator.io", "v1alpha1", [info])
    crd = _crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["description"] = "Changed."
    b = openapi.openapi_v3_document("celigo-operator.io", "v1alpha1", resources_from_crd(crd))
    assert openapi.document_hash(a) != openapi.document_hash(b)
    assert openapi.document_hash(a) == openapi.document_hash(json.loads(json.dumps(a)))


if __name__ == "__main__":
    MODULE.write_text(generate_module_text())
    print(f"wrote {MODULE} ({len(_decode(MODULE.read_text()))} schemas)")
