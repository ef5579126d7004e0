"""The served resource table: names, short names, categories, verbs as discovery publishes them."""

from __future__ import annotations

import pytest

from celigo_testkit.kube.resources import (
    ALL_VERBS,
    BUILTIN_RESOURCES,
    builtin_resource,
    resources_from_crd,
)


@pytest.mark.parametrize(
    ("group", "plural", "kind", "short", "namespaced"),
    [
        ("", "namespaces", "Namespace", ("ns",), False),
        ("", "configmaps", "ConfigMap", ("cm",), True),
        ("", "events", "Event", ("ev",), True),
        ("", "pods", "Pod", ("po",), True),
        ("", "serviceaccounts", "ServiceAccount", ("sa",), True),
        ("", "services", "Service", ("svc",), True),
        ("", "secrets", "Secret", (), True),
        ("apps", "deployments", "Deployment", ("deploy",), True),
        ("apps", "replicasets", "ReplicaSet", ("rs",), True),
        ("events.k8s.io", "events", "Event", ("ev",), True),
        ("coordination.k8s.io", "leases", "Lease", (), True),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            ("crd", "crds"),
            False,
        ),
        ("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", (), False),
        ("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", (), True),
        ("policy", "poddisruptionbudgets", "PodDisruptionBudget", ("pdb",), True),
        ("networking.k8s.io", "networkpolicies", "NetworkPolicy", ("netpol",), True),
    ],
)
def test_builtins_match_discovery(
    group: str, plural: str, kind: str, short: tuple[str, ...], namespaced: bool
) -> None:
    info = builtin_resource(group, "v1", plural)
    assert info.kind == kind
    assert info.short_names == short
    assert info.namespaced is namespaced
    assert info.singular == kind.lower()
    assert not info.custom


def test_category_all_is_only_where_real() -> None:
    in_all = {i.plural for i in BUILTIN_RESOURCES if "all" in i.categories}
    assert in_all == {"pods", "services", "deployments", "replicasets"}
    assert builtin_resource("apiextensions.k8s.io", "v1", "customresourcedefinitions").categories == (
        "api-extensions",
    )


def test_verbs_and_subresources() -> None:
    ns = builtin_resource("", "v1", "namespaces")
    assert "deletecollection" not in ns.verbs
    assert set(builtin_resource("", "v1", "secrets").verbs) == set(ALL_VERBS)
    deploy = builtin_resource("apps", "v1", "deployments")
    assert deploy.has_subresource("scale") and deploy.has_subresource("status")
    assert not builtin_resource("", "v1", "configmaps").has_subresource("status")


def test_derived_names() -> None:
    secret = builtin_resource("", "v1", "secrets")
    assert (secret.api_version, secret.list_kind, secret.group_resource) == ("v1", "SecretList", "secrets")
    deploy = builtin_resource("apps", "v1", "deployments")
    assert (deploy.api_version, deploy.group_resource) == ("apps/v1", "deployments.apps")
    with pytest.raises(KeyError):
        builtin_resource("", "v1", "nodes")


def _crd() -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {
                "kind": "Widget",
                "plural": "widgets",
                "shortNames": ["wd"],
                "categories": ["all", "things"],
                "listKind": "WidgetCollection",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "string", "jsonPath": ".spec.size"}
                    ],
                    "selectableFields": [{"jsonPath": ".spec.color"}],
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                },
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "deprecated": True,
                    "deprecationWarning": "use v1",
                },
                {"name": "v1alpha1", "served": False, "storage": False},
            ],
        },
    }


def test_resources_from_crd_one_per_served_version() -> None:
    infos = resources_from_crd(_crd())
    assert [i.version for i in infos] == ["v1", "v1beta1"]
    v1, beta = infos
    assert v1.custom and v1.storage and not beta.storage
    assert (v1.kind, v1.plural, v1.singular, v1.namespaced) == ("Widget", "widgets", "widget", False)
    assert v1.short_names == ("wd",) and v1.categories == ("all", "things")
    assert v1.subresources == ("scale", "status")
    assert v1.list_kind == "WidgetCollection"
    assert v1.printer_columns[0]["name"] == "Size"
    assert v1.selectable_fields == (".spec.color",)
    assert v1.schema == {"type": "object"}
    assert v1.crd_name == "widgets.example.com"
    assert beta.deprecated and beta.deprecation_warning == "use v1"
    assert beta.subresources == ()
    assert v1.group_resource == "widgets.example.com"
