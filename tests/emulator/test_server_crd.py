"""Custom resources against the CRD's structural schema: validation, defaults, pruning, field validation."""

from __future__ import annotations

import httpx

from .conftest import WIDGETS, widget


def test_defaults_applied_and_stored(api: httpx.Client, widget_crd: dict) -> None:
    w = api.post(WIDGETS, json=widget("w")).json()
    assert w["spec"] == {"size": "s", "replicas": 1, "color": "blue"}
    assert api.get(f"{WIDGETS}/w").json()["spec"] == w["spec"]
    assert w["metadata"]["generation"] == 1


def test_enum_violation_is_422_with_real_message(api: httpx.Client, widget_crd: dict) -> None:
    r = api.post(WIDGETS, json=widget("w", "xl"))
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'Widget.example.com "w" is invalid: spec.size: Unsupported value: "xl": supported values: "s", "m", "l"'
    )
    assert body["details"]["kind"] == "Widget" and body["details"]["group"] == "example.com"
    assert body["details"]["causes"][0]["reason"] == "FieldValueNotSupported"
    assert body["details"]["causes"][0]["field"] == "spec.size"


def test_other_schema_violations(api: httpx.Client, widget_crd: dict) -> None:
    cases = {
        "FieldValueRequired": {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {},
        },
        "FieldValueInvalid": widget("w", name="UPPER"),
        "FieldValueTooLong": widget("w", name="abcdefghijklmnop"),
        "FieldValueTypeInvalid": widget("w", replicas="many"),
        "FieldValueTooMany": widget("w", tags=["a", "b", "c", "d"]),
    }
    for reason, body in cases.items():
        r = api.post(WIDGETS, json=body)
        assert r.status_code == 422, (reason, r.text)
        causes = r.json()["details"]["causes"]
        assert reason in {c["reason"] for c in causes}, (reason, causes)
    r = api.post(WIDGETS, json=widget("w", replicas=0))
    assert r.status_code == 422
    assert (
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
        in r.json()["message"]
    )


def test_unknown_fields_warn_strict_ignore(api: httpx.Client, widget_crd: dict) -> None:
    r = api.post(WIDGETS, json=widget("w1", extra="x"))
    assert r.status_code == 201
    assert "extra" not in r.json()["spec"]
    assert r.headers.get_list("warning") == ['299 - "unknown field \\"spec.extra\\""']
    r = api.post(WIDGETS, params={"fieldValidation": "Strict"}, json=widget("w2", extra="x"))
    assert r.status_code == 400
    assert r.json()["message"] == 'strict decoding error: unknown field "spec.extra"'
    r = api.post(WIDGETS, params={"fieldValidation": "Ignore"}, json=widget("w3", extra="x"))
    assert r.status_code == 201 and "warning" not in r.headers
    assert "extra" not in r.json()["spec"]


def test_status_validated_on_status_subresource(api: httpx.Client, widget_crd: dict) -> None:
    api.post(WIDGETS, json=widget("w"))
    r = api.patch(
        f"{WIDGETS}/w/status",
        json={"status": {"observedGeneration": "one"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "status.observedGeneration"


def test_update_is_validated_too(api: httpx.Client, widget_crd: dict) -> None:
    api.post(WIDGETS, json=widget("w"))
    r = api.patch(
        f"{WIDGETS}/w",
        json={"spec": {"size": "huge"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 422
    assert api.get(f"{WIDGETS}/w").json()["spec"]["size"] == "s"


def test_crd_name_must_match_names(api: httpx.Client) -> None:
    import copy

    from .conftest import WIDGET_CRD

    bad = copy.deepcopy(WIDGET_CRD)
    bad["metadata"]["name"] = "gadgets.example.com"
    r = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=bad)
    assert r.status_code == 422
    assert r.json()["details"]["kind"] == "CustomResourceDefinition"


def test_project_crd_registers_when_present(api: httpx.Client) -> None:
    import pathlib

    import yaml

    path = pathlib.Path(__file__).resolve().parents[2] / "crds" / "celigoconnectors.yaml"
    crd = yaml.safe_load(path.read_text())
    r = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    assert r.status_code == 201, r.text
    group = crd["spec"]["group"]
    version = next(v["name"] for v in crd["spec"]["versions"] if v.get("storage"))
    plural = crd["spec"]["names"]["plural"]
    doc = api.get(f"/apis/{group}/{version}").json()
    assert plural in {x["name"] for x in doc["resources"]}


def test_deprecated_version_warns_and_versions_share_storage(api: httpx.Client) -> None:
    import copy

    from .conftest import WIDGET_CRD

    crd = copy.deepcopy(WIDGET_CRD)
    old = copy.deepcopy(crd["spec"]["versions"][0])
    old.update(name="v1beta1", storage=False, deprecated=True, deprecationWarning="use example.com/v1")
    crd["spec"]["versions"].append(old)
    assert api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd).status_code == 201
    api.post(WIDGETS, json=widget("w"))
    r = api.get("/apis/example.com/v1beta1/namespaces/default/widgets/w")
    assert r.status_code == 200
    assert r.json()["apiVersion"] == "example.com/v1beta1"
    assert r.headers.get_list("warning") == ['299 - "use example.com/v1"']
    assert "warning" not in api.get(f"{WIDGETS}/w").headers
    versions = [
        v["version"]
        for v in next(g for g in api.get("/apis").json()["groups"] if g["name"] == "example.com")["versions"]
    ]
    assert versions == ["v1", "v1beta1"]
