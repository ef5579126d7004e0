"""The schema modules against the project's real CRD (crds/) and sample (deploy/samples/), not a copy."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from celigo_testkit.kube import errors, openapi
from celigo_testkit.kube.resources import ResourceInfo, resources_from_crd
from celigo_testkit.kube.schema import process_custom_resource, validate_against_schema
from celigo_testkit.kube.table import to_table

ROOT = Path(__file__).resolve().parents[2]


def _storage_version() -> ResourceInfo:
    crd = yaml.safe_load((ROOT / "crds" / "celigoconnectors.yaml").read_text())
    (info,) = [i for i in resources_from_crd(crd) if i.storage]
    return info


def _sample() -> dict[str, Any]:
    docs = yaml.safe_load_all((ROOT / "deploy" / "samples" / "celigoconnector.yaml").read_text())
    (sample,) = [d for d in docs if d and d.get("kind") == "CeligoConnector"]
    sample["metadata"].setdefault("namespace", "default")
    return sample


def test_sample_is_accepted_and_defaulted_idempotently() -> None:
    info = _storage_version()
    obj = _sample()
    assert process_custom_resource(info, obj, name=obj["metadata"]["name"], field_validation="Strict") == []
    assert info.schema is not None
    spec_schema = info.schema["properties"]["spec"]
    for key, prop in (spec_schema.get("properties") or {}).items():
        if "default" in prop:
            assert key in obj["spec"], key
    again = copy.deepcopy(obj)
    assert process_custom_resource(info, again, name=obj["metadata"]["name"]) == []
    assert again == obj
    assert validate_against_schema(obj, info.schema) == []


def test_unknown_and_invalid_fields_are_rejected_like_a_server() -> None:
    info = _storage_version()
    obj = _sample()
    obj["spec"]["bogus"] = 1
    with pytest.raises(errors.ApiError) as strict:
        process_custom_resource(info, copy.deepcopy(obj), name="celigo", field_validation="Strict")
    assert strict.value.message == 'strict decoding error: unknown field "spec.bogus"'
    obj["spec"]["region"] = "xx"
    with pytest.raises(errors.ApiError) as invalid:
        process_custom_resource(info, obj, name="celigo")
    assert invalid.value.code == 422
    assert 'spec.region: Unsupported value: "xx": supported values: "us", "eu"' in invalid.value.message


def test_printer_columns_and_openapi_of_the_project_crd() -> None:
    info = _storage_version()
    obj = _sample()
    process_custom_resource(info, obj, name="celigo")
    table = to_table(info, [obj])
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[0] == "Name" and len(names) == 1 + len(info.printer_columns)
    assert table["rows"][0]["cells"][0] == "celigo"
    doc = openapi.openapi_v3_document(info.group, info.version, [info])
    schema = doc["components"]["schemas"][openapi.schema_name(info)]
    assert schema["properties"]["spec"]["description"] == info.schema["properties"]["spec"]["description"]  # type: ignore[index]
