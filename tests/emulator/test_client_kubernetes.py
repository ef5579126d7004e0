"""The official `kubernetes` Python client works against the emulator (typed APIs, watch, errors)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from celigo_testkit.kube import KubeEmulator

from .conftest import WIDGET_CRD, deployment, wait_for, widget


@pytest.fixture
def client(emu: KubeEmulator) -> Iterator[kubernetes.client.ApiClient]:
    with emu.api_client() as c:
        yield c


def test_kubeconfig_loads_in_the_client(emu: KubeEmulator, tmp_path: Path) -> None:
    path = emu.write_kubeconfig(tmp_path / "kc", namespace="kube-system")
    assert path.stat().st_mode & 0o777 == 0o600
    cfg = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=cfg)
    with kubernetes.client.ApiClient(cfg) as c:
        names = [n.metadata.name for n in kubernetes.client.CoreV1Api(c).list_namespace().items]
    assert "kube-system" in names
    _, active = kubernetes.config.list_kube_config_contexts(config_file=str(path))
    assert active["context"]["namespace"] == "kube-system"


def test_typed_crud_and_errors(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "a"}, "data": {"k": "v"}})
    assert cm.metadata.uid and cm.metadata.resource_version
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert exc.value.status == 409
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_secret("nope", "default")
    assert exc.value.status == 404
    cm.data = {"k": "w"}
    updated = core.replace_namespaced_config_map("a", "default", cm)
    assert updated.data == {"k": "w"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("a", "default", cm)  # stale resourceVersion
    assert exc.value.status == 409
    core.delete_namespaced_config_map("a", "default")
    assert core.list_namespaced_config_map("default").items == []


def test_dict_patch_of_builtin_is_strategic_merge(client: kubernetes.client.ApiClient) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    apps.create_namespaced_deployment("default", deployment("d"))
    patched = apps.patch_namespaced_deployment(
        "d",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}},
    )
    assert [c.name for c in patched.spec.template.spec.containers] == ["side", "main"]


def test_custom_objects_and_status(client: kubernetes.client.ApiClient) -> None:
    ext = kubernetes.client.ApiextensionsV1Api(client)
    ext.create_custom_resource_definition(WIDGET_CRD)
    co = kubernetes.client.CustomObjectsApi(client)
    w = co.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w"))
    assert w["spec"]["color"] == "blue"
    co.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", {"status": {"phase": "Ready"}}
    )
    got = co.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "w")
    assert got["status"] == {"phase": "Ready"}
    with pytest.raises(ApiException) as exc:
        co.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("bad", "xxl"))
    assert exc.value.status == 422


def test_watch_stream_with_resume(client: kubernetes.client.ApiClient) -> None:
    core = kubernetes.client.CoreV1Api(client)
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    seen: list[tuple[str, str]] = []

    def watch() -> None:
        w = kubernetes.watch.Watch()
        for ev in w.stream(
            core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=4
        ):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    t = threading.Thread(target=watch)
    t.start()
    core.create_namespaced_config_map("default", {"metadata": {"name": "x"}})
    core.patch_namespaced_config_map("x", "default", {"data": {"a": "1"}})
    core.delete_namespaced_config_map("x", "default")
    t.join(10)
    assert seen == [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x")]


def test_leases_for_leader_election(client: kubernetes.client.ApiClient) -> None:
    coord = kubernetes.client.CoordinationV1Api(client)
    body = kubernetes.client.V1Lease(
        metadata=kubernetes.client.V1ObjectMeta(name="leader"),
        spec=kubernetes.client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    lease = coord.create_namespaced_lease("default", body)
    lease.spec.holder_identity = "b"
    assert coord.replace_namespaced_lease("leader", "default", lease).spec.holder_identity == "b"
    with pytest.raises(ApiException) as exc:
        coord.replace_namespaced_lease("leader", "default", lease)
    assert exc.value.status == 409


def test_deployment_rollout_visible_to_client(client: kubernetes.client.ApiClient) -> None:
    apps = kubernetes.client.AppsV1Api(client)
    apps.create_namespaced_deployment("default", deployment("d", replicas=2))
    wait_for(
        lambda: (apps.read_namespaced_deployment_status("d", "default").status.available_replicas or 0) == 2
    )
