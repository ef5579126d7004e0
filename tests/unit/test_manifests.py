"""spec -> Secret and Deployment: the seed doc's recipe with its bugs fixed (pure functions)."""

from __future__ import annotations

import base64

import pytest

from celigo_operator import api, manifests
from celigo_operator.config import OperatorConfig
from celigo_operator.manifests import ConnectorCredentials, Owner

from support.podsecurity import restricted_violations

OWNER = Owner(name="celigo", namespace="baton", uid="0b7a9d2e-1111-2222-3333-444455556666")
CREDS = ConnectorCredentials(
    "conn@tenant.conductor.one/pcc", "secret-token:conductorone.com:v1:abc", "tok-123"
)
KEY = b"k" * 32


def spec(**extra: object) -> api.CeligoConnectorSpec:
    return api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "creds"}, **extra})


def deployment(s: api.CeligoConnectorSpec | None = None, config: OperatorConfig | None = None) -> dict:
    version = manifests.credentials_version(KEY, CREDS)
    return manifests.build_deployment(
        OWNER, s or spec(), config or OperatorConfig(), manifests.secret_name(OWNER.name, version), version
    )


def test_doc_bugs_are_fixed() -> None:
    dep = deployment()
    pod = dep["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert "args" not in container, "the doc's args: [service] makes the connector exit 1"
    assert pod["metadata"]["labels"]["baton"] == "true" and isinstance(
        pod["metadata"]["labels"]["baton"], str
    )
    assert pod["metadata"]["labels"]["baton-app"] == "celigo"
    assert container["image"].startswith("public.ecr.aws/conductorone/baton-celigo:")
    assert not container["image"].endswith(":latest")
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BATON_PROVISIONING"] == "false" and env["BATON_REGION"] == "us"
    assert env["BATON_HOST_ID"] == "baton-celigo"
    assert all(isinstance(v, str) for v in env.values())


def test_pod_is_restricted_and_has_a_writable_work_dir() -> None:
    pod_spec = deployment()["spec"]["template"]["spec"]
    assert restricted_violations(pod_spec) == []
    container = pod_spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_spec["automountServiceAccountToken"] is False
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert container["workingDir"] in mounts and "/tmp" in mounts
    assert {v["name"] for v in pod_spec["volumes"]} == {m["name"] for m in container["volumeMounts"]}


def test_podsecurity_checker_catches_violations() -> None:
    pod_spec = deployment()["spec"]["template"]["spec"]
    pod_spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod_spec["hostNetwork"] = True
    pod_spec["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
    assert len(restricted_violations(pod_spec)) == 3


def test_probes_only_with_health_server() -> None:
    container = deployment()["spec"]["template"]["spec"]["containers"][0]
    assert not {"livenessProbe", "readinessProbe", "startupProbe", "ports"} & set(container)
    container = deployment(spec(healthServer={"enabled": True, "port": 9000}))["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["ports"][0]["containerPort"] == 9000
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == "0.0.0.0" and env["BATON_HEALTH_CHECK_PORT"] == "9000"


def test_rollout_never_drops_the_running_pod() -> None:
    dep = deployment(config=OperatorConfig(min_ready_seconds=7))
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert dep["spec"]["minReadySeconds"] == 7


def test_secret_is_immutable_content_named_and_owned() -> None:
    version = manifests.credentials_version(KEY, CREDS)
    secret = manifests.build_secret(OWNER, CREDS, version)
    assert secret["immutable"] is True
    assert secret["metadata"]["name"] == f"celigo-baton-celigo-{version[:10]}"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == OWNER.uid
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == CREDS.env()
    # Only an HMAC is visible outside data.
    visible = repr({k: v for k, v in secret.items() if k != "data"})
    assert CREDS.access_token not in visible and CREDS.client_secret not in visible


def test_deployment_points_at_the_secret_and_carries_the_version() -> None:
    version = manifests.credentials_version(KEY, CREDS)
    dep = deployment()
    tpl = dep["spec"]["template"]
    assert tpl["spec"]["containers"][0]["envFrom"] == [
        {"secretRef": {"name": manifests.secret_name(OWNER.name, version)}}
    ]
    assert tpl["metadata"]["annotations"][manifests.ANNOTATION_CREDENTIALS_VERSION] == version
    assert dep["metadata"]["ownerReferences"][0]["controller"] is True


def test_version_is_stable_keyed_and_changes_with_any_value() -> None:
    v1 = manifests.credentials_version(KEY, CREDS)
    assert v1 == manifests.credentials_version(KEY, CREDS)
    assert v1 != manifests.credentials_version(b"x" * 32, CREDS)
    other = ConnectorCredentials(CREDS.client_id, CREDS.client_secret, "tok-124")
    assert v1 != manifests.credentials_version(KEY, other)
    assert CREDS.access_token not in v1


def test_credentials_repr_hides_values() -> None:
    assert "tok-123" not in repr(CREDS) and "tok-123" not in str(CREDS)


@pytest.mark.parametrize("name", ["a", "celigo", "x" * 63, "a" * 253, "prod.eu-connector-with-a-long-name"])
def test_child_names_fit_and_do_not_collide(name: str) -> None:
    base = manifests.child_name(name)
    assert len(base) <= manifests.MAX_BASE_NAME
    assert len(manifests.secret_name(name, "f" * 32)) <= 63
    assert base.endswith("-baton-celigo")


def test_long_names_sharing_a_prefix_get_different_children() -> None:
    a, b = "x" * 60 + "-one", "x" * 60 + "-two"
    assert manifests.child_name(a) != manifests.child_name(b)


def test_user_fields_flow_through_but_cannot_override_ours() -> None:
    s = spec(
        podLabels={"team": "iam", "baton": "false"},
        podAnnotations={"a": "b"},
        nodeSelector={"pool": "tools"},
        tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        replicas=2,
        args=["--skip-full-sync"],
        extraEnv=[{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        resources={"requests": {"cpu": "0.5"}},
        imagePullSecrets=["ecr"],
    )
    dep = deployment(s)
    tpl = dep["spec"]["template"]
    assert tpl["metadata"]["labels"]["team"] == "iam" and tpl["metadata"]["labels"]["baton"] == "true"
    assert tpl["spec"]["nodeSelector"] == {"pool": "tools"}
    assert tpl["spec"]["tolerations"] == [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    assert tpl["spec"]["imagePullSecrets"] == [{"name": "ecr"}]
    assert dep["spec"]["replicas"] == 2
    c = tpl["spec"]["containers"][0]
    assert c["args"] == ["--skip-full-sync"]
    assert {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in c["env"]
    assert c["resources"] == {"requests": {"cpu": "0.5"}}


def test_selector_is_a_subset_of_pod_labels_and_stable() -> None:
    dep = deployment()
    sel = dep["spec"]["selector"]["matchLabels"]
    assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert sel == manifests.selector_labels(OWNER)


def test_is_subset_ignores_server_defaults_but_not_edits() -> None:
    desired = {"a": 1, "l": [{"name": "x", "v": "1"}], "q": "0.5"}
    assert manifests.is_subset(desired, {"a": 1, "b": 2, "l": [{"name": "x", "v": "1", "d": 0}], "q": "500m"})
    assert not manifests.is_subset(desired, {"a": 2, "l": [{"name": "x", "v": "1"}], "q": "500m"})
    assert not manifests.is_subset(
        desired, {"a": 1, "l": [{"name": "x", "v": "1"}, {"name": "y"}], "q": "0.5"}
    )
    assert not manifests.is_subset(desired, {"a": 1, "l": [{"name": "x", "v": "1"}], "q": "600m"})
