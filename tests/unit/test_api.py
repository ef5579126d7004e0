"""The CRD is generated from the pydantic models; the committed file must be exactly that."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from celigo_operator import api

ROOT = Path(__file__).resolve().parents[2]


def test_committed_crd_equals_generated() -> None:
    committed = yaml.safe_load((ROOT / "crds" / "celigoconnectors.yaml").read_text())
    assert committed == api.crd(), "crds/celigoconnectors.yaml is stale: run `make crds`"


def test_crd_names_and_columns() -> None:
    spec = api.crd()["spec"]
    assert spec["group"] == "celigo-operator.io"
    assert spec["names"] == {
        "kind": "CeligoConnector",
        "listKind": "CeligoConnectorList",
        "plural": "celigoconnectors",
        "singular": "celigoconnector",
        "shortNames": ["celigo"],
        "categories": ["baton"],
    }
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Ready", "Reason", "Region", "Users", "Checked", "Age", "Message", "Image"]
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Users"]["jsonPath"] == ".status.inventory.users"
    assert columns["Checked"]["jsonPath"] == ".status.lastCheckTime"
    assert columns["Message"]["priority"] == 1 and columns["Image"]["priority"] == 1
    assert "priority" not in columns["Ready"]


def _walk(node: object, path: str = ""):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_schema_is_structural_and_documented() -> None:
    schema = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        if "properties" in node:
            assert node.get("type") == "object", path
            for name, prop in node["properties"].items():
                if name not in ("metadata",):
                    assert prop.get("description"), f"{path}/{name} has no description for kubectl explain"
                assert (
                    "type" in prop
                    or prop.get("x-kubernetes-int-or-string")
                    or prop.get("x-kubernetes-preserve-unknown-fields")
                ), f"{path}/{name} has no type"


def _spec_validator() -> jsonschema.Draft7Validator:
    schema = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("value", ["30s", "45s", "1m", "5m", "1h", "1h30m", "2m5s", "90s", "0h1m", "120s"])
def test_duration_pattern_accepts_30s_and_more(value: str) -> None:
    assert re.fullmatch(api.DURATION_MIN_30S.strip("^$"), value)
    assert api.parse_duration(value) >= 30


@pytest.mark.parametrize("value", ["29s", "0s", "5", "", "1d", "-1m", "0m", "0h0m10s", "5 m", "1.5m"])
def test_duration_pattern_rejects_short_or_malformed(value: str) -> None:
    assert not re.fullmatch(api.DURATION_MIN_30S.strip("^$"), value)


def test_schema_rejects_bad_region_and_requires_secret_ref() -> None:
    validator = _spec_validator()
    errors = list(validator.iter_errors({"region": "xx", "credentialsSecretRef": {"name": "c"}}))
    assert [e.validator for e in errors] == ["enum"]
    errors = list(validator.iter_errors({"region": "us"}))
    assert [e.validator for e in errors] == ["required"]


def test_sample_resource_validates_against_schema() -> None:
    sample = yaml.safe_load((ROOT / "deploy" / "samples" / "celigoconnector.yaml").read_text())
    assert list(_spec_validator().iter_errors(sample["spec"])) == []
    parsed = api.CeligoConnectorSpec.model_validate(sample["spec"])
    assert parsed.credentials_secret_ref.keys.client_id == "BATON_CLIENT_ID"


def test_model_defaults_match_crd_defaults() -> None:
    spec = api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "c"}})
    assert (spec.region, spec.provisioning, spec.replicas) == ("us", False, 1)
    assert spec.health_check.interval == "5m"
    assert spec.credentials_secret_ref.keys.celigo_access_token == "BATON_CELIGO_ACCESS_TOKEN"
    props = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert props["region"]["default"] == "us"
    assert props["healthCheck"]["default"] == {}
    assert props["healthCheck"]["properties"]["interval"]["default"] == "5m"


def test_unknown_spec_field_is_refused_by_the_model() -> None:
    with pytest.raises(ValueError):
        api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "c"}, "regoin": "eu"})


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in ([v] if k == "pattern" else _patterns(v))]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []


def test_schema_patterns_spell_character_classes_in_ascii() -> None:
    """The API server (Go) reads \\w, \\d and \\s as ASCII; the model's regex engine (Rust) as Unicode, where a
    repeated \\w compiles to megabytes in every operator process and admits what the API server refuses."""
    patterns = _patterns(api.crd())
    assert patterns
    for pattern in patterns:
        assert not re.search(r"\\[wWdDsSbB]", pattern), pattern


@pytest.mark.parametrize("tag", ["v1", "v1.2.3_rc-1", "A" * 128, "_x"])
def test_image_tags_the_api_server_accepts_are_accepted(tag: str) -> None:
    image = f"ghcr.io/conductorone/baton-celigo:{tag}"
    assert api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "c"}, "image": image}).image == image
    assert re.fullmatch(api.IMAGE_REF.strip("^$"), image, re.ASCII)


@pytest.mark.parametrize("tag", ["vé", "v١", "-v1", ".v1", "A" * 129])
def test_image_tags_outside_the_reference_grammar_are_refused(tag: str) -> None:
    with pytest.raises(ValueError):
        api.CeligoConnectorSpec.model_validate(
            {"credentialsSecretRef": {"name": "c"}, "image": f"ghcr.io/conductorone/baton-celigo:{tag}"}
        )
