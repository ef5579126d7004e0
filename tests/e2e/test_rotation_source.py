"""Source-Secret rotation (the default): verified before rolled, only the latest change, a deleted Secret rolls
nothing, drift repair restores the last verified set."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_operator import manifests
from celigo_operator.manifests import ConnectorCredentials
from celigo_testkit.fake_celigo import Fault
from celigo_testkit.harness import wait_for

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-rot-src")), CELIGO_OPERATOR_CELIGO_TIMEOUT="1") as w:
        yield w


@pytest.fixture(autouse=True)
def _clear_faults(w: World) -> Iterator[None]:
    yield
    w.celigo.clear_faults()


def ready(w: World, **spec: object) -> tuple[str, dict]:
    ns = w.namespace("src")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, **spec)
    obj = w.wait_ready(ns)
    wait_for(lambda: w.get(ns)["status"]["credentials"].get("lastRotationResult") == "Succeeded", 60, what="deployed")
    return ns, obj


def version_of(w: World, values: dict[str, str]) -> str:
    key = base64.b64decode(w.core.read_namespaced_secret("celigo-operator-hmac", "celigo-operator").data["key"])
    creds = ConnectorCredentials(
        client_id=values["BATON_CLIENT_ID"],
        client_secret=values["BATON_CLIENT_SECRET"],
        access_token=values["BATON_CELIGO_ACCESS_TOKEN"],
    )
    return manifests.credentials_version(key, creds)


def template_versions(w: World, ns: str) -> set[str]:
    """Credential versions of every pod template the Deployment ever had (its ReplicaSets)."""
    sets = json.loads(w.apps.list_namespaced_replica_set(ns, _preload_content=False).data)["items"]
    return {
        (rs["spec"]["template"]["metadata"].get("annotations") or {}).get(manifests.ANNOTATION_CREDENTIALS_VERSION, "")
        for rs in sets
    }


def test_rotation_is_reported_once_the_new_pods_are_available(w: World) -> None:
    ns, obj = ready(w, replicas=2)
    before = obj["status"]["credentials"]
    values = w.credentials()
    w.put_secret(ns, values)

    def rolled() -> dict | None:
        status = w.get(ns)["status"]
        cred = status["credentials"]
        return status if cred["version"] != before["version"] and cred["lastRotationResult"] == "Succeeded" else None

    status = wait_for(rolled, 60, what="rotation succeeded")
    cred, conn = status["credentials"], status["connector"]
    # Succeeded is written only together with every pod of the new template available.
    assert conn["secret"] == cred["secretName"] and conn["availableReplicas"] == conn["updatedReplicas"] == 2
    assert cred["version"] == version_of(w, values)
    assert cred["rotatedAt"] >= before["rotatedAt"]
    assert cred.get("rejectedVersion") is None
    assert any(e["reason"] == "CredentialsChanged" for e in w.events(ns))


def test_secret_changed_twice_quickly_rolls_only_the_last(w: World) -> None:
    ns, _ = ready(w)
    gate = threading.Event()
    # Hold the operator inside a reconcile (its Celigo check), change the Secret twice, then let it go.
    fault = w.celigo.inject(Fault(path_prefix="/v1/tokenInfo", gate=gate))
    w.custom.patch_namespaced_custom_object(
        "celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo",
        {"metadata": {"annotations": {"celigo-operator.io/refresh": str(time.time_ns())}}},
    )
    try:
        assert fault.arrived.wait(20)
        first, last = w.credentials(), w.credentials()
        w.put_secret(ns, first)
        w.put_secret(ns, last)
    finally:
        gate.set()
    wanted = version_of(w, last)
    wait_for(
        lambda: w.get(ns)["status"]["credentials"]["version"] == wanted
        and w.get(ns)["status"]["credentials"]["lastRotationResult"] == "Succeeded",
        20,
        what="last version rolled",
    )
    assert version_of(w, first) not in template_versions(w, ns), "the intermediate set was never rolled out"
    names = [s["metadata"]["name"] for s in w.owned_secrets(ns)]
    assert names == [manifests.secret_name("celigo", wanted)]


def test_deleted_source_secret_rolls_nothing_and_says_so(w: World) -> None:
    ns, obj = ready(w)
    template = w.deployment(ns)["spec"]["template"]
    values = {k: base64.b64decode(v).decode() for k, v in w.core.read_namespaced_secret("celigo-credentials", ns).data.items()}
    w.core.delete_namespaced_secret("celigo-credentials", ns)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "SecretNotFound")
    assert "does not exist" in cond["message"] and "Nothing is rolled out" in cond["message"]
    assert obj["status"]["credentials"]["version"][:12] in cond["message"]
    w.wait_event(ns, "SecretNotFound")
    time.sleep(2)  # ticks pass
    assert w.deployment(ns)["spec"]["template"] == template
    assert w.get(ns)["status"]["connector"]["availableReplicas"] == 1
    w.put_secret(ns, values)  # back: same HMAC, nothing rolls
    w.wait_condition(ns, "celigo", "CredentialsValid", "True")
    assert w.deployment(ns)["spec"]["template"] == template


def test_drift_repair_restores_the_last_verified_set_not_unverified_values(w: World) -> None:
    ns, obj = ready(w)
    verified = obj["status"]["credentials"]
    bad = {**w.credentials(), "BATON_CELIGO_ACCESS_TOKEN": "0123456789abcdef0123456789abcdef"}  # unknown to Celigo
    w.put_secret(ns, bad)
    w.wait_condition(ns, "celigo", "CredentialsValid", "False", "NewCredentialsRejected")
    dep = w.deployment(ns)
    dep["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "someone-elses"}}]
    dep["spec"]["template"]["metadata"]["annotations"][manifests.ANNOTATION_CREDENTIALS_VERSION] = "tampered"
    dep["metadata"].pop("managedFields", None)
    w.apps.replace_namespaced_deployment(dep["metadata"]["name"], ns, dep)

    def repaired() -> bool:
        d = w.deployment(ns)["spec"]["template"]
        return d["spec"]["containers"][0]["envFrom"] == [{"secretRef": {"name": verified["secretName"]}}]

    wait_for(repaired, 60, what="drift repaired")
    annotations = w.deployment(ns)["spec"]["template"]["metadata"]["annotations"]
    assert annotations[manifests.ANNOTATION_CREDENTIALS_VERSION] == verified["version"]
    assert [s["metadata"]["name"] for s in w.owned_secrets(ns)] == [verified["secretName"]]
    status = w.get(ns)["status"]["credentials"]
    assert status["version"] == verified["version"] and status["rejectedVersion"] == version_of(w, bad)


def test_rejected_set_is_not_rechecked_every_tick(w: World) -> None:
    ns, _ = ready(w)
    bad = {**w.credentials(), "BATON_CELIGO_ACCESS_TOKEN": "fedcba9876543210fedcba9876543210"}
    w.put_secret(ns, bad)
    w.wait_condition(ns, "celigo", "CredentialsValid", "False", "NewCredentialsRejected")
    w.wait_event(ns, "NewCredentialsRejected")
    time.sleep(1.5)
    calls = w.celigo.count(path="/v1/tokenInfo")
    time.sleep(3)  # three ticks
    assert w.celigo.count(path="/v1/tokenInfo") == calls, "retried on the next change or health check only"
    good = w.credentials()
    w.put_secret(ns, good)
    wait_for(lambda: w.get(ns)["status"]["credentials"]["version"] == version_of(w, good), 60, what="new set rolled")
    w.wait_ready(ns)
