"""Issue 16, schema bounds: every free-form field of the spec is bounded, so that no CeligoConnector the schema
admits can outgrow what kopf keeps of it in an annotation (256 KiB for all annotations together; a bigger one
could never be deleted); durations cannot overflow and stay within a year; quantities reach the Kubernetes
client as strings; affinity, tolerations and resources are typed, so junk is refused at apply."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from celigo_operator import api, manifests
from celigo_operator.config import OperatorConfig
from celigo_operator.manifests import Owner

SPEC_SCHEMA = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
BASE = {"credentialsSecretRef": {"name": "c"}}
#: kopf stores the whole spec in one annotation; all annotations of an object share 256 KiB.
ANNOTATION_BUDGET = 256 * 1024


def _escaped(pattern: str | None) -> int:
    """Bytes per character in kopf's JSON (json.dumps, ASCII escapes): a pattern of letters, digits and
    punctuation other than quote and backslash keeps one byte, printable ASCII may be escaped to two, and
    any other text to twelve (an astral character as two \\uXXXX escapes)."""
    if pattern is None:
        return 12
    return 2 if pattern == "^[ -~]*$" else 1


def _worst(node: dict[str, Any], path: str, unbounded: list[str]) -> int:
    """The longest JSON text a value of this schema node can have (keys of maps bounded by the model)."""
    if "enum" in node:
        return max(len(json.dumps(v)) for v in node["enum"])
    if node.get("x-kubernetes-int-or-string"):
        if "maxLength" not in node:
            unbounded.append(path)
        return max(node.get("maxLength", 0) + 2, 20)
    kind = node.get("type")
    if kind == "string":
        if "maxLength" not in node:
            unbounded.append(path)
            return 0
        return int(node["maxLength"]) * _escaped(node.get("pattern")) + 2
    if kind in ("integer", "number"):
        return 20
    if kind == "boolean":
        return 5
    if kind == "array":
        if "maxItems" not in node:
            unbounded.append(path)
            return 0
        return 2 + int(node["maxItems"]) * (_worst(node["items"], path + "[]", unbounded) + 1)
    if kind == "object":
        if node.get("x-kubernetes-preserve-unknown-fields"):
            unbounded.append(path)
            return 0
        if "additionalProperties" in node:
            if "maxProperties" not in node:
                unbounded.append(path)
                return 0
            key = api.MAX_KEY + 3
            value = _worst(node["additionalProperties"], path + "{}", unbounded)
            return 2 + int(node["maxProperties"]) * (key + value + 1)
        props = node.get("properties") or {}
        return 2 + sum(len(k) + 4 + _worst(v, f"{path}.{k}", unbounded) for k, v in props.items())
    unbounded.append(path)
    return 0


def test_every_free_form_field_is_bounded_and_the_worst_spec_fits_kopfs_annotation() -> None:
    unbounded: list[str] = []
    worst = _worst(SPEC_SCHEMA, "spec", unbounded)
    assert unbounded == []
    # every string at its longest, every character escaped as kopf's JSON would: 32 KiB left for the metadata
    # kopf keeps alongside (labels, annotations)
    assert worst < ANNOTATION_BUDGET - 32 * 1024, worst


def test_the_spec_schema_keeps_nothing_unknown() -> None:
    text = json.dumps(SPEC_SCHEMA)
    assert "x-kubernetes-preserve-unknown-fields" not in text  # affinity is typed now
    assert "propertyNames" not in text  # not part of a structural schema: map keys are the model's


def _schema_errors(spec: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SPEC_SCHEMA)
    return ["/".join(str(p) for p in e.absolute_path) for e in validator.iter_errors({**BASE, **spec})]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"healthCheck": {"interval": "9" * 400 + "s"}}, "healthCheck/interval"),  # was an OverflowError
        ({"healthCheck": {"interval": "999999h"}}, "healthCheck/interval"),  # was accepted
        ({"rotation": {"celigo": {"schedule": "99999999999h"}}}, "rotation/celigo/schedule"),  # OverflowError
        ({"rotation": {"conductorOne": {"schedule": "999999h"}}}, "rotation/conductorOne/schedule"),
        ({"rotation": {"expiryWarning": "1000000h"}}, "rotation/expiryWarning"),
        ({"affinity": {"nodeAffinity": "garbage"}}, "affinity/nodeAffinity"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "resources/requests/cpu"),
        ({"resources": {"limits": {"memory": "-1Gi"}}}, "resources/limits/memory"),
        ({"resources": {"limits": {"memory": -1}}}, "resources/limits/memory"),
        ({"podAnnotations": {"a": "x" * 300_000}}, "podAnnotations/a"),  # the undeletable 300 KB spec
        ({"extraEnv": [{"name": "BIG", "value": "x" * 900_000}]}, "extraEnv/0/value"),  # the 900 KB one
        ({"args": [f"--a{i}" for i in range(33)]}, "args"),
        ({"args": ["x" * 257]}, "args/0"),
        ({"tolerations": [{"key": "k", "operator": "Exists"}] * 33}, "tolerations"),
        ({"tolerations": [{"key": "k", "operator": "Gte"}]}, "tolerations/0/operator"),
        ({"podLabels": {f"k{i}": "v" for i in range(33)}}, "podLabels"),
        ({"nodeSelector": {"pool": "x" * 64}}, "nodeSelector/pool"),
        ({"imagePullSecrets": ["Not_A_Name"]}, "imagePullSecrets/0"),
    ],
)
def test_refused_by_the_schema_with_the_field_named(spec: dict[str, Any], field: str) -> None:
    errors = _schema_errors(spec)
    assert field in errors, errors
    with pytest.raises(ValidationError):  # the model refuses it too: a stored one is InvalidSpec, never a crash
        api.CeligoConnectorSpec.model_validate({**BASE, **spec})


def test_affinity_with_an_unknown_field_is_refused_by_the_model() -> None:
    """`affinity: {foo: bar}`: the API server prunes the unknown field (kubectl's strict validation refuses
    it); the model, stricter, refuses it outright instead of handing it to the client (it was a crash)."""
    with pytest.raises(ValidationError):
        api.CeligoConnectorSpec.model_validate({**BASE, "affinity": {"foo": "bar"}})


@pytest.mark.parametrize("value", ["99999h", "8761h", "8760h1s", "8000h99999m"])
def test_a_duration_the_pattern_admits_but_longer_than_a_year_is_invalid_spec(value: str) -> None:
    assert _schema_errors({"healthCheck": {"interval": value}}) == []
    with pytest.raises(ValidationError) as info:
        api.CeligoConnectorSpec.model_validate({**BASE, "healthCheck": {"interval": value}})
    assert "8760h" in str(info.value)


def test_durations_are_computed_in_integers() -> None:
    assert api.parse_duration("8760h") == api.MAX_DURATION
    for value in ("9" * 400 + "s", "99999999999h"):
        with pytest.raises(ValueError):  # not an OverflowError
            api.parse_duration(value)


@pytest.mark.parametrize("value", ["30s", "5m", "1h30m", "0h1m", "8760h", "99999s"])
def test_ordinary_durations_still_pass(value: str) -> None:
    assert re.fullmatch(api.DURATION_MIN_30S.strip("^$"), value)
    api.CeligoConnectorSpec.model_validate({**BASE, "healthCheck": {"interval": value}})


def test_an_int_quantity_reaches_the_pod_template_as_a_string() -> None:
    """`resources.requests.cpu: 1` is schema-valid (int-or-string); it crashed the kubernetes client."""
    assert _schema_errors({"resources": {"requests": {"cpu": 1, "memory": "128Mi"}}}) == []
    spec = api.CeligoConnectorSpec.model_validate({**BASE, "resources": {"requests": {"cpu": 1, "memory": "128Mi"}}})
    dep = manifests.build_deployment(Owner("c", "ns", "u"), spec, OperatorConfig(), "s", "v")
    assert dep["spec"]["template"]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "1", "memory": "128Mi"}}


def test_typed_affinity_reaches_the_pod_as_written() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["a"]}]}]
            }
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                   "labelSelector": {"matchLabels": {"app": "x"}}}}
            ]
        },
    }
    assert _schema_errors({"affinity": affinity}) == []
    spec = api.CeligoConnectorSpec.model_validate({**BASE, "affinity": affinity})
    dep = manifests.build_deployment(Owner("c", "ns", "u"), spec, OperatorConfig(), "s", "v")
    assert dep["spec"]["template"]["spec"]["affinity"] == affinity


def test_a_map_key_longer_than_the_bound_is_refused_by_the_model() -> None:
    """A structural schema cannot bound map keys: the model does (the pass reports InvalidSpec)."""
    with pytest.raises(ValidationError):
        api.CeligoConnectorSpec.model_validate({**BASE, "podAnnotations": {"k" * 254: "v"}})


@pytest.mark.parametrize(
    "keys",
    [
        {"clientSecret": "SAME", "celigoAccessToken": "SAME"},
        {"clientId": "BATON_CELIGO_ACCESS_TOKEN"},
        {"clientId": "X", "clientSecret": "X"},
    ],
)
def test_keys_naming_one_secret_key_for_two_roles_are_refused(keys: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "c", "keys": keys}})
    assert "each role needs its own key" in str(info.value)


def test_conductorone_keys_naming_one_key_twice_are_refused() -> None:
    c1 = {"appId": "a", "connectorId": "c", "credentialsSecretRef": {"name": "api", "keys": {"clientId": "K", "clientSecret": "K"}}}
    with pytest.raises(ValidationError):
        api.CeligoConnectorSpec.model_validate({**BASE, "conductorOne": c1})


def test_the_minimum_kubernetes_version_is_the_one_that_ratchets_validation() -> None:
    """Tighter bounds refuse updates (a finalizer removal included) of objects stored before them unless the
    API server ratchets validation, which Kubernetes does by default from 1.30: README and chart say so."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    chart = (root / "charts" / "celigo-operator" / "Chart.yaml").read_text()
    assert re.search(r'^kubeVersion: ">=1\.30\.0-0"', chart, re.M)
    readme = (root / "README.md").read_text()
    assert "Kubernetes 1.30 or newer" in readme and "ratchet" in readme
