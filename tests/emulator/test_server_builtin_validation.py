"""Contract: built-in kinds are decoded and validated as kube-apiserver does.

The Deployment cases and their answers are those recorded from a real kube-apiserver v1.36.2 (POST of a
1-replica Deployment "d", container "c", labels app=d, with one change each): 400 BadRequest when the body
cannot be decoded into the Go types (a quantity that is not one, a string where an object must be), 422
Invalid with causes for the field rules of pkg/apis/core/validation and apps/validation. The other rules
follow the same validation code's documented behaviour (messages of k8s.io/apimachinery/pkg/util/validation).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
QNAME = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"
    " '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
RFC1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and"
    " end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def base() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [{"name": "c", "image": "public.ecr.aws/conductorone/baton-celigo:v0.1.7"}]
                },
            },
        },
    }


def pod_spec(d: dict) -> dict:
    return d["spec"]["template"]["spec"]


def container(d: dict) -> dict:
    return pod_spec(d)["containers"][0]


def invalid(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, Any]:
    """The 422 Status of a Deployment "d" with one cause, as the real server answers it."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'Deployment.apps "d" is invalid: {field}: {message}',
        "reason": "Invalid",
        "details": {
            "name": "d",
            "group": "apps",
            "kind": "Deployment",
            "causes": [{"reason": reason, "message": message, "field": field}],
        },
        "code": 422,
    }


def bad_request(message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'Deployment in version "v1" cannot be handled as a Deployment: {message}',
        "reason": "BadRequest",
        "code": 400,
    }


def _set(path: Callable[[dict], dict], key: str, value: Any) -> Callable[[dict], None]:
    def change(d: dict) -> None:
        path(d)[key] = value

    return change


RECORDED: list[tuple[str, Callable[[dict], None], int, dict[str, Any]]] = [
    (
        "nodeselector-bad-key",
        _set(pod_spec, "nodeSelector", {"bad key!": "x"}),
        422,
        invalid("spec.template.spec.nodeSelector", 'Invalid value: "bad key!": ' + QNAME),
    ),
    (
        "toleration-exists-with-value",
        _set(pod_spec, "tolerations", [{"key": "k", "operator": "Exists", "value": "v"}]),
        422,
        invalid(
            "spec.template.spec.tolerations[0].operator",
            "Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
        ),
    ),
    (
        "cpu-lots",
        _set(container, "resources", {"requests": {"cpu": "lots"}}),
        400,
        bad_request(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        ),
    ),
    (
        "memory-negative",
        _set(container, "resources", {"limits": {"memory": "-1Gi"}}),
        422,
        invalid(
            "spec.template.spec.containers[0].resources.limits[memory]",
            'Invalid value: "-1Gi": must be greater than or equal to 0',
        ),
    ),
    (
        "requests-above-limits",
        _set(container, "resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
        422,
        invalid(
            "spec.template.spec.containers[0].resources.requests",
            'Invalid value: "2": must be less than or equal to cpu limit of 1',
        ),
    ),
    (
        "pod-label-key-invalid",
        lambda d: d["spec"]["template"]["metadata"]["labels"].update({"bad key!": "x"}),
        422,
        invalid("spec.template.labels", 'Invalid value: "bad key!": ' + QNAME),
    ),
    (
        "template-annotation-300k",
        lambda d: d["spec"]["template"]["metadata"].update({"annotations": {"big": "x" * 300_000}}),
        422,
        invalid(
            "spec.template.annotations", "Too long: may not be more than 262144 bytes", "FieldValueTooLong"
        ),
    ),
    (
        "container-name-invalid",
        _set(container, "name", "Bad_Name"),
        422,
        invalid("spec.template.spec.containers[0].name", 'Invalid value: "Bad_Name": ' + RFC1123_LABEL),
    ),
    (
        "env-name-invalid",
        _set(container, "env", [{"name": "1BAD=", "value": "x"}]),
        422,
        invalid(
            "spec.template.spec.containers[0].env[0].name",
            'Invalid value: "1BAD=": a valid environment variable name must consist only of printable'
            " ASCII characters other than '='",
        ),
    ),
    (
        "selector-mismatch",
        lambda d: d["spec"]["template"]["metadata"].update({"labels": {"app": "other"}}),
        422,
        invalid(
            "spec.template.metadata.labels",
            'Invalid value: {"app":"other"}: `selector` does not match template `labels`',
        ),
    ),
    (
        "port-out-of-range",
        _set(container, "ports", [{"containerPort": 70000}]),
        422,
        invalid(
            "spec.template.spec.containers[0].ports[0].containerPort",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
    ),
    (
        "affinity-junk-type",
        _set(pod_spec, "affinity", {"nodeAffinity": "junk"}),
        400,
        bad_request(
            "json: cannot unmarshal string into Go struct field Affinity.spec.template.spec.affinity.nodeAffinity"
            " of type v1.NodeAffinity"
        ),
    ),
]


@pytest.mark.parametrize(("case", "change", "code", "answer"), RECORDED, ids=[c[0] for c in RECORDED])
def test_recorded_deployment_answers(
    api: httpx.Client, case: str, change: Callable[[dict], None], code: int, answer: dict
) -> None:
    body = base()
    change(body)
    r = api.post(DEPLOYS, json=body)
    assert r.status_code == code
    assert r.json() == answer
    assert api.get(f"{DEPLOYS}/d").status_code == 404


def test_label_value_1000_chars(api: httpx.Client) -> None:
    body = base()
    body["spec"]["template"]["metadata"]["labels"]["long"] = "v" * 1000
    r = api.post(DEPLOYS, json=body)
    assert r.status_code == 422
    assert r.json()["message"] == (
        'Deployment.apps "d" is invalid: spec.template.labels: Invalid value: "'
        + "v" * 1000
        + '": must be no'
        " more than 63 bytes"
    )
    assert r.json()["details"]["causes"][0]["field"] == "spec.template.labels"


def test_integer_cpu_is_a_quantity(api: httpx.Client) -> None:
    body = base()
    container(body)["resources"] = {"requests": {"cpu": 1}, "limits": {"cpu": 2, "memory": "64Mi"}}
    assert api.post(DEPLOYS, json=body).status_code == 201


def test_the_same_rules_on_update_and_patch(api: httpx.Client) -> None:
    assert api.post(DEPLOYS, json=base()).status_code == 201
    r = api.patch(
        f"{DEPLOYS}/d",
        json={"spec": {"template": {"spec": {"nodeSelector": {"bad key!": "x"}}}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.template.spec.nodeSelector"
    current = api.get(f"{DEPLOYS}/d").json()
    bad = copy.deepcopy(current)
    container(bad)["resources"] = {"limits": {"memory": "-1Gi"}}
    r = api.put(f"{DEPLOYS}/d", json=bad)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == (
        "spec.template.spec.containers[0].resources.limits[memory]"
    )
    # The refused update stored nothing. (Not the resourceVersion: the simulated controller may write the
    # Deployment's status meanwhile, as kube-controller-manager would.)
    after = api.get(f"{DEPLOYS}/d").json()
    assert after["metadata"]["generation"] == current["metadata"]["generation"]
    assert after["spec"] == current["spec"]


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def pod_cause(api: httpx.Client, body: dict) -> tuple[str, str, str]:
    r = api.post(PODS, json=body)
    assert r.status_code == 422, r.text
    cause = r.json()["details"]["causes"][0]
    return cause["reason"], cause["field"], cause["message"]


def test_pod_rules(api: httpx.Client) -> None:
    """The same PodSpec rules on a Pod, at spec.* paths."""
    assert pod_cause(api, pod(tolerations=[{"operator": "Equal", "value": "v"}])) == (
        "FieldValueInvalid",
        "spec.tolerations[0].operator",
        'Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values'
        ' and all keys"',
    )
    assert pod_cause(api, pod(tolerations=[{"key": "k", "operator": "Gte"}]))[:2] == (
        "FieldValueNotSupported",
        "spec.tolerations[0].operator",
    )
    assert pod_cause(
        api,
        pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]),
    ) == (
        "FieldValueInvalid",
        "spec.tolerations[0].effect",
        "Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
    )
    two = pod()
    two["spec"]["containers"].append({"name": "c", "image": "busybox"})
    assert pod_cause(api, two) == ("FieldValueDuplicate", "spec.containers[1].name", 'Duplicate value: "c"')
    assert pod_cause(api, pod(containers=[])) == ("FieldValueRequired", "spec.containers", "Required value")
    no_image = pod()
    del no_image["spec"]["containers"][0]["image"]
    assert pod_cause(api, no_image) == ("FieldValueRequired", "spec.containers[0].image", "Required value")
    mount = pod()
    mount["spec"]["containers"][0]["volumeMounts"] = [{"name": "cfg", "mountPath": "/cfg"}]
    assert pod_cause(api, mount) == (
        "FieldValueNotFound",
        "spec.containers[0].volumeMounts[0].name",
        'Not found: "cfg"',
    )
    res = pod()
    res["spec"]["containers"][0]["resources"] = {"limits": {"gpu": "1"}}
    assert pod_cause(api, res) == (
        "FieldValueInvalid",
        "spec.containers[0].resources.limits[gpu]",
        'Invalid value: "gpu": must be a standard resource for containers',
    )
    ports = pod()
    ports["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "HTTP"}]
    assert pod_cause(api, ports) == (
        "FieldValueNotSupported",
        "spec.containers[0].ports[0].protocol",
        'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    )
    named = pod()
    named["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": "Http_Port"}]
    assert pod_cause(api, named)[:2] == ("FieldValueInvalid", "spec.containers[0].ports[0].name")
    ok = pod(nodeSelector={"kubernetes.io/os": "linux"}, tolerations=[{"operator": "Exists"}])
    ok["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "100m", "memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }
    assert api.post(PODS, json=ok).status_code == 201


def test_requests_above_limits_message_uses_canonical_quantities(api: httpx.Client) -> None:
    body = pod()
    body["spec"]["containers"][0]["resources"] = {
        "requests": {"memory": "2048Mi"},
        "limits": {"memory": "1024Mi"},
    }
    assert pod_cause(api, body) == (
        "FieldValueInvalid",
        "spec.containers[0].resources.requests",
        'Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi',
    )


def test_decoder_refuses_wrong_json_types(api: httpx.Client) -> None:
    body = pod()
    body["spec"]["containers"][0]["ports"] = [{"containerPort": "80"}]
    r = api.post(PODS, json=body)
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field'
        " ContainerPort.spec.containers.ports.containerPort of type int32"
    )
    body = pod()
    body["spec"]["containers"][0]["resources"] = {"limits": {"memory": "1Qi"}}
    r = api.post(PODS, json=body)
    assert r.status_code == 400 and r.json()["message"].endswith(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_secret_service_lease_and_rbac_rules(api: httpx.Client) -> None:
    r = api.post(
        "/api/v1/namespaces/default/secrets", json={"metadata": {"name": "s"}, "data": {"bad key": "eA=="}}
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "data[bad key]"
    assert "a valid config key must consist of alphanumeric characters" in r.json()["message"]
    r = api.post(
        "/api/v1/namespaces/default/services",
        json={"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 0}]}},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: 0: must be between 1 and 65535, inclusive",
        "field": "spec.ports[0].port",
    }
    r = api.post(
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        json={"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.leaseDurationSeconds"
    r = api.post(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        json={"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value: verbs must contain at least one value",
        "field": "rules[0].verbs",
    }
    r = api.post(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        json={
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Pod", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}],
        },
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "roleRef.kind"


def test_configmap_keys(api: httpx.Client) -> None:
    r = api.post(
        "/api/v1/namespaces/default/configmaps",
        json={"metadata": {"name": "c"}, "data": {"a b": "x", "ok.key": "y"}},
    )
    assert r.status_code == 422
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_'"
            " or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is"
            " '[-._a-zA-Z0-9]+')",
            "field": "data[a b]",
        }
    ]
    ok = {"metadata": {"name": "c"}, "data": {"app.properties": "x", "KEY_1": "y", "-dash": "z"}}
    assert api.post("/api/v1/namespaces/default/configmaps", json=ok).status_code == 201


def _pod_with(change: Callable[[dict], None]) -> dict[str, Any]:
    body = pod()
    change(body["spec"])
    return body


# (case, change of a Pod's spec, reason, field, message) — one rule each, from pkg/apis/core/validation
POD_RULES: list[tuple[str, Callable[[dict], None], str, str, str]] = [
    (
        "toleration-key",
        lambda s: s.update(tolerations=[{"key": "bad key", "operator": "Exists"}]),
        "FieldValueInvalid",
        "spec.tolerations[0].key",
        'Invalid value: "bad key": ' + QNAME,
    ),
    (
        "toleration-value",
        lambda s: s.update(tolerations=[{"key": "k", "operator": "Equal", "value": "-v"}]),
        "FieldValueInvalid",
        "spec.tolerations[0].operator",
        "Invalid value: \"-v\": a valid label must be an empty string or consist of alphanumeric characters, '-',"
        " '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value', "
        " or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ),
    (
        "toleration-effect",
        lambda s: s.update(tolerations=[{"key": "k", "operator": "Exists", "effect": "Never"}]),
        "FieldValueNotSupported",
        "spec.tolerations[0].effect",
        'Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ),
    (
        "env-name-empty",
        lambda s: s["containers"][0].update(env=[{"name": "", "value": "x"}]),
        "FieldValueRequired",
        "spec.containers[0].env[0].name",
        "Required value",
    ),
    (
        "host-port",
        lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 70000}]),
        "FieldValueInvalid",
        "spec.containers[0].ports[0].hostPort",
        "Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    (
        "port-name-too-long",
        lambda s: s["containers"][0].update(ports=[{"containerPort": 80, "name": "a-very-long-port-name"}]),
        "FieldValueInvalid",
        "spec.containers[0].ports[0].name",
        'Invalid value: "a-very-long-port-name": must be no more than 15 characters',
    ),
    (
        "duplicate-port-name",
        lambda s: s["containers"][0].update(
            ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]
        ),
        "FieldValueDuplicate",
        "spec.containers[0].ports[1].name",
        'Duplicate value: "http"',
    ),
    (
        "volume-name",
        lambda s: s.update(volumes=[{"name": "Cfg", "emptyDir": {}}]),
        "FieldValueInvalid",
        "spec.volumes[0].name",
        'Invalid value: "Cfg": ' + RFC1123_LABEL,
    ),
    (
        "service-account-name",
        lambda s: s.update(serviceAccountName="Bad_SA"),
        "FieldValueInvalid",
        "spec.serviceAccountName",
        'Invalid value: "Bad_SA": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric'
        " characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com',"
        " regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ),
    (
        "node-selector-value",
        lambda s: s.update(nodeSelector={"pool": "x" * 64}),
        "FieldValueInvalid",
        "spec.nodeSelector",
        f'Invalid value: "{"x" * 64}": must be no more than 63 bytes',
    ),
    (
        "image-pull-policy",
        lambda s: s["containers"][0].update(imagePullPolicy="Sometimes"),
        "FieldValueNotSupported",
        "spec.containers[0].imagePullPolicy",
        'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
    ),
    (
        "restart-policy",
        lambda s: s.update(restartPolicy="Sometimes"),
        "FieldValueNotSupported",
        "spec.restartPolicy",
        'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ),
    (
        "dns-policy",
        lambda s: s.update(dnsPolicy="Google"),
        "FieldValueNotSupported",
        "spec.dnsPolicy",
        'Unsupported value: "Google": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default",'
        ' "None"',
    ),
    (
        "cpu-negative-request",
        lambda s: s["containers"][0].update(resources={"requests": {"cpu": "-100m"}}),
        "FieldValueInvalid",
        "spec.containers[0].resources.requests[cpu]",
        'Invalid value: "-100m": must be greater than or equal to 0',
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "reason", "field", "message"), POD_RULES, ids=[r[0] for r in POD_RULES]
)
def test_pod_spec_rule(
    api: httpx.Client, case: str, change: Callable[[dict], None], reason: str, field: str, message: str
) -> None:
    assert pod_cause(api, _pod_with(change)) == (reason, field, message)


def test_workload_rules(api: httpx.Client) -> None:
    body = base()
    body["spec"]["replicas"] = -1
    r = api.post(DEPLOYS, json=body)
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueInvalid",
        "message": "Invalid value: -1: must be greater than or equal to 0",
        "field": "spec.replicas",
    }
    body = base()
    del body["spec"]["selector"]
    r = api.post(DEPLOYS, json=body)
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value",
        "field": "spec.selector",
    }
    body = base()
    pod_spec(body)["restartPolicy"] = "Never"
    r = api.post(DEPLOYS, json=body)
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "Never": supported values: "Always"',
        "field": "spec.template.spec.restartPolicy",
    }
    rs = base()
    rs["kind"] = "ReplicaSet"
    rs["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    r = api.post("/apis/apps/v1/namespaces/default/replicasets", json=rs)
    assert r.status_code == 422
    assert r.json()["message"] == (
        'ReplicaSet.apps "d" is invalid: spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector`'
        " does not match template `labels`"
    )


def test_secret_data_size_limit(api: httpx.Client) -> None:
    import base64

    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    r = api.post("/api/v1/namespaces/default/secrets", json={"metadata": {"name": "big"}, "data": {"k": big}})
    assert r.status_code == 422
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 1048576 bytes",
            "field": "data",
        }
    ]


def test_cluster_rbac_rules(api: httpx.Client) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    r = api.post(
        f"{rbac}/namespaces/default/roles",
        json={"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]},
    )
    assert r.json()["details"]["causes"][0]["message"] == (
        'Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs'
    )
    ok = {"metadata": {"name": "c"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    assert api.post(f"{rbac}/clusterroles", json=ok).status_code == 201
    r = api.post(
        f"{rbac}/clusterrolebindings",
        json={
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "c"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}],
        },
    )
    assert [(c["reason"], c["field"]) for c in r.json()["details"]["causes"]] == [
        ("FieldValueNotSupported", "roleRef.kind"),
        ("FieldValueRequired", "subjects[0].namespace"),
    ]


def test_unknown_fields_are_dropped_with_a_warning_or_refused_when_strict(api: httpx.Client) -> None:
    body = base()
    body["spec"]["bogus"] = 1
    container(body)["imagePolicy"] = "x"
    r = api.post(DEPLOYS, json=body, params={"fieldValidation": "Strict"})
    assert r.status_code == 400
    assert r.json()["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field'
        ' "spec.template.spec.containers[0].imagePolicy", unknown field "spec.bogus"'
    )  # in the order of the body
    r = api.post(DEPLOYS, json=body)
    assert r.status_code == 201
    assert r.headers.get_list("Warning") == [
        '299 - "unknown field \\"spec.template.spec.containers[0].imagePolicy\\""',
        '299 - "unknown field \\"spec.bogus\\""',
    ]
    stored = api.get(f"{DEPLOYS}/d").json()
    assert "bogus" not in stored["spec"] and "imagePolicy" not in container(stored)
    r = api.patch(
        f"{DEPLOYS}/d",
        json={"metadata": {"labels": {"a": "b"}}, "spec": {"other": True}},
        headers={"Content-Type": "application/merge-patch+json"},
        params={"fieldValidation": "Ignore"},
    )
    assert r.status_code == 200 and "Warning" not in r.headers and "other" not in r.json()["spec"]


def test_deployment_strategy_rules(api: httpx.Client) -> None:
    body = base()
    body["spec"]["strategy"] = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    r = api.post(DEPLOYS, json=body)
    assert r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            "field": "spec.strategy.rollingUpdate",
        }
    ]
    body["spec"]["strategy"] = {"type": "BlueGreen"}
    r = api.post(DEPLOYS, json=body)
    assert r.json()["details"]["causes"][0]["message"] == (
        'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"'
    )
    body["spec"]["strategy"] = {"type": "Recreate"}
    assert api.post(DEPLOYS, json=body).status_code == 201
    r = api.post(
        "/api/v1/namespaces/default/services",
        json={"metadata": {"name": "svc"}, "spec": {"type": "Internal", "ports": [{"port": 80}]}},
    )
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueNotSupported",
        "message": 'Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer",'
        ' "NodePort"',
        "field": "spec.type",
    }
