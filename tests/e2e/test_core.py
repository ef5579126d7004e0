"""The operator process against the emulator and the fakes: CeligoConnector -> Secret + Deployment + status."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client.exceptions import ApiException

from celigo_testkit.harness import wait_for

from support.podsecurity import restricted_violations
from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-core"))) as w:
        yield w


def ready_connector(w: World, **spec: object) -> tuple[str, dict]:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, **spec)
    return ns, w.wait_ready(ns)


def test_create_makes_owned_children_and_reports_ready(w: World) -> None:
    ns, obj = ready_connector(w)
    status = obj["status"]
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    types = {c["type"]: c for c in status["conditions"]}
    assert {"Ready", "CredentialsValid", "Reconciled", "CeligoReachable", "ConnectorAvailable"} <= set(types)
    assert all(c["observedGeneration"] == 1 for c in types.values())
    dep = w.deployment(ns)
    assert dep is not None
    assert dep["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]
    secret_name = status["credentials"]["secretName"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [{"secretRef": {"name": secret_name}}]
    owned = w.owned_secrets(ns)
    assert [s["metadata"]["name"] for s in owned] == [secret_name]
    assert owned[0]["immutable"] is True
    assert restricted_violations(dep["spec"]["template"]["spec"]) == []
    assert status["connector"]["availableReplicas"] == 1
    assert status["inventory"]["users"] == len(w.celigo.account("us").ashares())
    assert w.wait_event(ns, "Created")["type"] == "Normal"


def test_spec_change_updates_the_deployment(w: World) -> None:
    ns, _ = ready_connector(w)
    w.patch_spec(ns, "celigo", {"logLevel": "debug", "replicas": 2})
    wait_for(lambda: w.get(ns)["status"].get("observedGeneration") == 2, 60, what="observedGeneration 2")
    w.wait_ready(ns)
    dep = w.deployment(ns)
    env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BATON_LOG_LEVEL"] == "debug" and dep["spec"]["replicas"] == 2
    assert w.get(ns)["status"]["connector"]["availableReplicas"] == 2


def test_hand_edits_and_deletions_are_repaired(w: World) -> None:
    ns, obj = ready_connector(w)
    dep = w.deployment(ns)
    name = dep["metadata"]["name"]
    w.apps.patch_namespaced_deployment(
        name, ns, {"spec": {"template": {"spec": {"containers": [{"name": "baton-celigo", "image": "public.ecr.aws/conductorone/baton-celigo:hacked"}]}}}}
    )
    wait_for(
        lambda: w.deployment(ns)["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v0.1.7"),
        60, what="image restored",
    )
    w.apps.delete_namespaced_deployment(name, ns)
    wait_for(lambda: (d := w.deployment(ns)) and d["metadata"]["uid"] != dep["metadata"]["uid"], 60, what="recreated")
    secret = obj["status"]["credentials"]["secretName"]
    w.core.delete_namespaced_secret(secret, ns)
    wait_for(lambda: [s for s in w.owned_secrets(ns) if s["metadata"]["name"] == secret], 60, what="secret restored")
    w.wait_ready(ns)


def test_foreign_object_with_the_child_name_is_never_overwritten(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    foreign = {
        "metadata": {"name": "celigo-baton-celigo", "labels": {"app": "mine"}},
        "spec": {
            "selector": {"matchLabels": {"app": "mine"}},
            "template": {"metadata": {"labels": {"app": "mine"}}, "spec": {"containers": [{"name": "x", "image": "nginx:1"}]}},
        },
    }
    w.apps.create_namespaced_deployment(ns, foreign)
    w.create_connector(ns)
    cond = w.wait_condition(ns, "celigo", "Reconciled", "False", "ChildConflict")
    assert "celigo-baton-celigo" in cond["message"]
    assert w.condition(ns, "celigo", "Ready")["reason"] == "ChildConflict"
    dep = w.deployment(ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert not dep["metadata"].get("ownerReferences")


def test_deleting_the_resource_takes_its_children(w: World) -> None:
    ns, _ = ready_connector(w)
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo")
    wait_for(lambda: w.deployment(ns) is None and not w.owned_secrets(ns), 60, what="children collected")


def test_suspend_leaves_children_alone(w: World) -> None:
    ns, _ = ready_connector(w)
    w.patch_spec(ns, "celigo", {"suspend": True})
    w.wait_condition(ns, "celigo", "Reconciled", "True", "Suspended")
    name = w.deployment(ns)["metadata"]["name"]
    w.apps.patch_namespaced_deployment(name, ns, {"spec": {"replicas": 3}})
    mark = len(w.emu.request_log)
    wait_for(lambda: w.get(ns)["status"]["connector"]["replicas"] == 3, 60, what="status sees 3 replicas")
    assert w.deployment(ns)["spec"]["replicas"] == 3
    assert not [r for r in w.writes_since(mark) if r.resource == "deployments" and "celigo-operator" in r.user_agent]
    w.patch_spec(ns, "celigo", {"suspend": False})
    wait_for(lambda: w.deployment(ns)["spec"]["replicas"] == 1, 60, what="replicas restored after resume")


def test_two_resources_in_one_namespace_do_not_collide(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.put_secret(ns, w.credentials(), name="other-credentials")
    w.create_connector(ns, "a")
    w.create_connector(ns, "b", credentialsSecretRef={"name": "other-credentials"})
    w.wait_ready(ns, "a")
    w.wait_ready(ns, "b")
    assert w.deployment(ns, "a")["metadata"]["name"] != w.deployment(ns, "b")["metadata"]["name"]
    assert len(w.owned_secrets(ns)) == 2


def test_credential_change_rolls_once_and_cleans_up(w: World) -> None:
    ns, obj = ready_connector(w)
    old = obj["status"]["credentials"]
    template_before = w.deployment(ns)["spec"]["template"]
    w.put_secret(ns, w.credentials())
    wait_for(lambda: w.get(ns)["status"]["credentials"]["version"] != old["version"], 60, what="new version")
    wait_for(lambda: w.get(ns)["status"]["credentials"].get("lastRotationResult") == "Succeeded", 60, what="rolled")
    new = w.get(ns)["status"]["credentials"]
    assert new["secretName"] != old["secretName"]
    wait_for(lambda: [s["metadata"]["name"] for s in w.owned_secrets(ns)] == [new["secretName"]], 60, what="old removed")
    tpl = w.deployment(ns)["spec"]["template"]
    assert tpl["metadata"]["annotations"]["celigo-operator.io/credentials-version"] == new["version"]
    assert tpl != template_before
    w.wait_ready(ns)


def test_idle_operator_writes_nothing(w: World) -> None:
    ns, _ = ready_connector(w)
    wait_for(lambda: w.get(ns)["status"]["credentials"].get("lastRotationResult") == "Succeeded", 10)
    mark = len(w.emu.request_log)
    import time

    time.sleep(3.5)  # several operator ticks (tick interval 1 s)
    ours = [r for r in w.writes_since(mark) if "celigo-operator" in r.user_agent or r.user_agent.startswith("kopf")]
    assert ours == [], [(r.verb, r.resource, r.name) for r in ours]


def test_schema_rejects_bad_input_at_admission(w: World) -> None:
    ns = w.namespace()
    with pytest.raises(ApiException) as info:
        w.create_connector(ns, "bad-region", region="xx")
    assert info.value.status == 422 and "spec.region" in info.value.body
    body = {"apiVersion": "celigo-operator.io/v1alpha1", "kind": "CeligoConnector", "metadata": {"name": "no-ref"}, "spec": {}}
    with pytest.raises(ApiException) as info:
        w.custom.create_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", body)
    assert info.value.status == 422 and "spec.credentialsSecretRef" in info.value.body
    with pytest.raises(ApiException) as info:
        w.create_connector(ns, "short", healthCheck={"interval": "10s"})
    assert info.value.status == 422 and "spec.healthCheck.interval" in info.value.body


def test_image_outside_the_allowlist_is_refused(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, image="docker.io/someone/baton-celigo:1.0")
    cond = w.wait_condition(ns, "celigo", "Ready", "False", "ImageNotAllowed")
    assert "docker.io/someone/baton-celigo:1.0" in cond["message"]
    assert w.deployment(ns) is None
    w.wait_event(ns, "ImageNotAllowed")


def test_secret_value_never_appears_outside_the_owned_secret(w: World) -> None:
    ns, _ = ready_connector(w)
    canaries = [s for s in w.secrets_seen if len(s) >= 16]
    assert canaries
    blobs = [
        w.operator.log(),
        w.core.list_event_for_all_namespaces(_preload_content=False).data.decode(),
        w.apps.list_deployment_for_all_namespaces(_preload_content=False).data.decode(),
        w.core.list_pod_for_all_namespaces(_preload_content=False).data.decode(),
        w.custom.list_cluster_custom_object("celigo-operator.io", "v1alpha1", "celigoconnectors", _preload_content=False).data.decode(),
    ]
    for obj in [w.get(ns), w.deployment(ns)]:
        meta = obj["metadata"]
        blobs += [repr(meta.get("labels")), repr(meta.get("annotations")), repr(obj.get("status"))]
    for blob in blobs:
        for canary in canaries:
            assert canary not in blob
            assert base64.b64encode(canary.encode()).decode() not in blob


@pytest.mark.kubectl
def test_kubectl_apply_names_the_bad_field(w: World, tmp_path: Path) -> None:
    from celigo_testkit.harness import Kubectl

    ns = w.namespace()
    k = Kubectl(w.kubeconfig, namespace=ns)
    cases = {
        "region": ("spec: {region: xx, credentialsSecretRef: {name: c}}", 'spec.region: Unsupported value: "xx"'),
        "unknown": ("spec: {regoin: eu, credentialsSecretRef: {name: c}}", 'unknown field "spec.regoin"'),
        "ref": ("spec: {region: us}", "spec.credentialsSecretRef: Required value"),
        "interval": ("spec: {credentialsSecretRef: {name: c}, healthCheck: {interval: 10s}}", "spec.healthCheck.interval"),
    }
    for name, (spec, expected) in cases.items():
        manifest = f"apiVersion: celigo-operator.io/v1alpha1\nkind: CeligoConnector\nmetadata: {{name: {name}}}\n{spec}\n"
        result = k.run("apply", "-f", "-", input=manifest, check=False)
        assert result.returncode != 0, name
        assert expected in result.stderr, (name, result.stderr)
    assert "No resources found" in k.run("get", "celigoconnectors").stderr


@pytest.mark.kubectl
def test_kubectl_explain_documents_the_spec(w: World) -> None:
    from celigo_testkit.harness import Kubectl

    out = Kubectl(w.kubeconfig)("explain", "celigoconnectors.spec")
    for field in ("credentialsSecretRef", "region", "healthCheck", "suspend", "conductorOne"):
        assert field in out
    assert "opt-in" in Kubectl(w.kubeconfig)("explain", "celigoconnectors.spec.credentialsSecretRef.name")
