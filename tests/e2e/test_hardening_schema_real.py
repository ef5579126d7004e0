"""Issue 16 on a real kube-apiserver: the generated CRD is structural and accepted; what the bounds refuse is
refused at `kubectl apply` with the field named; an int quantity is accepted; and an object stored under the
previous CRD that breaks a new bound can still be updated (a finalizer removed, another field changed)
because the API server ratchets validation (on by default from Kubernetes 1.30, the minimum we support)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from celigo_testkit.harness import Kubectl, wait_for

from support.world import GROUP, PLURAL, ROOT, VERSION, World, world

pytestmark = [pytest.mark.realkube, pytest.mark.slow]

PREVIOUS_CRD = ROOT / "tests" / "golden" / "crd-v1alpha1-0.1.0.yaml"


def _manifest(name: str, spec: dict) -> str:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "CeligoConnector",
        "metadata": {"name": name},
        "spec": {"credentialsSecretRef": {"name": "c"}, "suspend": True, **spec},
    }
    return yaml.safe_dump(body)


REFUSED: dict[str, tuple[dict, str]] = {
    "cpu-lots": ({"resources": {"requests": {"cpu": "lots"}}}, "spec.resources.requests.cpu"),
    "memory-negative": ({"resources": {"limits": {"memory": "-1Gi"}}}, "spec.resources.limits.memory"),
    "affinity-type": ({"affinity": {"nodeAffinity": "garbage"}}, "spec.affinity.nodeAffinity"),
    "affinity-unknown": ({"affinity": {"foo": "bar"}}, 'unknown field "spec.affinity.foo"'),
    "interval-400-digits": ({"healthCheck": {"interval": "9" * 400 + "s"}}, "spec.healthCheck.interval"),
    "interval-999999h": ({"healthCheck": {"interval": "999999h"}}, "spec.healthCheck.interval"),
    "schedule-overflow": ({"rotation": {"celigo": {"schedule": "99999999999h"}}}, "spec.rotation.celigo.schedule"),
    "annotation-300k": ({"podAnnotations": {"a": "x" * 300_000}}, "spec.podAnnotations.a"),
    "env-900k": ({"extraEnv": [{"name": "BIG", "value": "x" * 900_000}]}, "spec.extraEnv[0].value"),
    "args-33": ({"args": [f"--a{i}" for i in range(33)]}, "spec.args"),
    "tolerations-junk": ({"tolerations": [{"key": "k", "operator": "Gte"}]}, "spec.tolerations[0].operator"),
}


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> World:
    with world(Path(tmp_path_factory.mktemp("hardening-real")), start_operator=False, kube="real") as w:
        yield w


@pytest.mark.kubectl
@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_at_kubectl_apply_with_the_field_named(w: World, case: str, tmp_path: Path) -> None:
    spec, field = REFUSED[case]
    ns = w.namespace("bounds")
    path = tmp_path / "connector.yaml"
    path.write_text(_manifest(case, spec))
    result = Kubectl(w.kubeconfig, namespace=ns, binary=w.emu.cp.assets.kubectl).run(
        "apply", "--server-side=false", "-f", str(path), check=False
    )
    assert result.returncode != 0, case
    assert field in result.stderr, (case, result.stderr[:2000])
    assert w.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"] == []


def test_an_int_quantity_is_accepted_and_kept(w: World) -> None:
    ns = w.namespace("bounds")
    body = yaml.safe_load(_manifest("cpu-int", {"resources": {"requests": {"cpu": 1}}}))
    made = w.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
    assert made["spec"]["resources"]["requests"]["cpu"] == 1


def test_an_object_stored_under_the_old_crd_can_still_be_updated(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="real", crd=PREVIOUS_CRD) as w:
        ns = w.namespace("ratchet")
        stale = {
            "healthCheck": {"interval": "999999h"},  # over the new pattern (5 digits per number)
            "podAnnotations": {"note": "y" * 2000},  # over the new maxLength
            "args": [f"--a{i}" for i in range(40)],  # over the new maxItems
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]}}},
        }
        body = yaml.safe_load(_manifest("stale", stale))
        body["metadata"]["finalizers"] = ["celigo-operator.io/finalizer"]
        w.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)

        w.upgrade_crd()

        def new_bounds_apply() -> bool:
            try:
                w.custom.create_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURAL, yaml.safe_load(_manifest("probe", {"healthCheck": {"interval": "999999h"}}))
                )
            except ApiException as exc:
                return exc.status == 422
            w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "probe")
            return False

        wait_for(new_bounds_apply, 60, interval=0.5, what="the upgraded CRD's bounds in force")

        # an unrelated change and a finalizer removal: ratcheting lets the untouched out-of-bounds fields stand
        changed = w.custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "stale", {"spec": {"logLevel": "warn"}}
        )
        assert changed["spec"]["logLevel"] == "warn" and len(changed["spec"]["args"]) == 40
        w.custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "stale", {"metadata": {"finalizers": None}}
        )
        w.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "stale")
        wait_for(
            lambda: not w.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"],
            60, what="the stale object deleted",
        )
        # a field that is touched is held to the new bounds
        body = yaml.safe_load(_manifest("stale2", {"args": [f"--a{i}" for i in range(10)]}))
        w.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
        with pytest.raises(ApiException) as refused:
            w.custom.patch_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, "stale2", {"spec": {"args": [f"--a{i}" for i in range(40)]}}
            )
        assert refused.value.status == 422 and "spec.args" in str(refused.value.body)
