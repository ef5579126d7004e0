"""One cluster, fake Celigo and ConductorOne, and the real operator process, for end-to-end tests.

The cluster is the emulator or the real control plane (kube-apiserver + etcd + kube-controller-manager and
a simulated node, shared by the whole session), chosen by `CELIGO_TEST_KUBE` (support/realkube.py). On the
real one a world installs the CRD when it starts and, when it ends, deletes the CRD (with every
CeligoConnector), the namespaces it made and what the operator kept in its own namespace, so the next
world starts as clean as a fresh emulator.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from celigo_operator import api
from celigo_testkit.credentials import generate_client_credentials
from celigo_testkit.fake_celigo import FakeCeligo
from celigo_testkit.fake_conductorone import FakeConductorOne
from celigo_testkit.harness import OperatorProcess, operator_env, wait_for
from celigo_testkit.kube import EmulatorSettings, KubeEmulator

from support.realkube import RealCluster, backend

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = api.GROUP, api.VERSION, api.PLURAL
_counter = itertools.count()


class World:
    """What an end-to-end test talks to; every call goes over HTTP to the emulator or the fakes."""

    def __init__(
        self, emu: KubeEmulator | RealCluster, celigo: FakeCeligo, c1: FakeConductorOne, workdir: Path
    ) -> None:
        # `emu` is the emulator, or on the real control plane what stands in for its test hooks
        # (request_log from the audit log, workload = the simulated kubelet, settings.rollout_delay)
        self.emu, self.celigo, self.c1, self.workdir = emu, celigo, c1, workdir
        self.real = isinstance(emu, RealCluster)
        self.made_namespaces: list[str] = []
        if isinstance(emu, RealCluster):
            self.kubeconfig = emu.cp.write_kubeconfig(workdir / "kubeconfig")
            self.api = emu.cp.api_client()
        else:
            self.kubeconfig = emu.write_kubeconfig(workdir / "kubeconfig")
            self.api = emu.api_client()
        self.core = k8s.CoreV1Api(self.api)
        self.apps = k8s.AppsV1Api(self.api)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.ext = k8s.ApiextensionsV1Api(self.api)
        self.operator: OperatorProcess | None = None
        self.started: list[OperatorProcess] = []  # every operator process a test started: all stopped at exit
        self.secrets_seen: list[str] = []  # every secret value a test handed out: scanned for leaks

    # --- setup ---
    def install_crd(self, path: Path | None = None) -> None:
        crd = yaml.safe_load((path or ROOT / "crds" / "celigoconnectors.yaml").read_text())
        if self.real:
            self._install_crd_real(crd)
        else:
            self.ext.create_custom_resource_definition(crd)
        try:
            self.core.create_namespace({"metadata": {"name": "celigo-operator"}})
        except ApiException as exc:
            if not (self.real and exc.status == 409):  # the real cluster keeps it between worlds
                raise

    def _install_crd_real(self, crd: dict) -> None:
        """The CRD stays between worlds on the real cluster, replaced by each world's version: a CRD created
        anew is watched by the controller-manager's garbage collector only from its next discovery sync
        (every 30 s), so children of a resource deleted before then would linger."""
        name = crd["metadata"]["name"]
        try:
            current = self.ext.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.ext.create_custom_resource_definition(crd)
            self._wait_established(name)
            self._wait_gc_watches_crd()
            return
        crd["metadata"]["resourceVersion"] = current.metadata.resource_version
        self.ext.replace_custom_resource_definition(name, crd)
        self._wait_established(name)

    def _wait_established(self, name: str) -> None:
        def established() -> bool:
            crd = self.ext.read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

        wait_for(established, 60, what=f"CRD {name} Established")

    def _wait_gc_watches_crd(self) -> None:
        """A probe: a ConfigMap owned by a CeligoConnector is collected once the resource is deleted."""
        ns = self.namespace("gc-probe")
        owner = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL,
            {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": {"name": "probe"},
             "spec": {"credentialsSecretRef": {"name": "none"}, "suspend": True}},
        )
        ref = {"apiVersion": api.API_VERSION, "kind": api.KIND, "name": "probe", "uid": owner["metadata"]["uid"]}

        def collected() -> bool:
            try:
                self.core.read_namespaced_config_map("probe", ns)
            except ApiException as exc:
                return exc.status == 404
            return False

        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "probe", "ownerReferences": [ref]}})
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "probe")
        wait_for(collected, 120, interval=0.5, what="the garbage collector watching the CRD")

    def _delete_connectors(self) -> None:
        try:
            items = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        for obj in items:
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            try:
                if obj["metadata"].get("finalizers"):
                    self.custom.patch_namespaced_custom_object(
                        GROUP, VERSION, ns, PLURAL, name, {"metadata": {"finalizers": None}}
                    )
                self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        wait_for(
            lambda: not self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"],
            120, interval=0.2, what="every CeligoConnector deleted",
        )

    def cleanup_real(self) -> None:
        """Leave the shared control plane as a fresh world finds it (operators already stopped): no
        CeligoConnector, none of the world's namespaces, nothing in the operator's namespace."""
        self._delete_connectors()
        for ns in self.made_namespaces:
            try:
                self.core.delete_namespace(ns)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        # the operator's own namespace: HMAC key, leader Lease, anything else it keeps
        self.core.delete_collection_namespaced_secret("celigo-operator")
        self.core.delete_collection_namespaced_config_map("celigo-operator", field_selector="metadata.name!=kube-root-ca.crt")
        k8s.CoordinationV1Api(self.api).delete_collection_namespaced_lease("celigo-operator")

    def upgrade_crd(self, path: Path | None = None) -> None:
        """Replace the CRD in place, as `kubectl apply` of a newer release would."""
        crd = yaml.safe_load((path or ROOT / "crds" / "celigoconnectors.yaml").read_text())
        current = self.ext.read_custom_resource_definition(crd["metadata"]["name"])
        crd["metadata"]["resourceVersion"] = current.metadata.resource_version
        self.ext.replace_custom_resource_definition(crd["metadata"]["name"], crd)

    def start_operator(
        self, log_name: str = "operator.log", kubeconfig: Path | None = None, **extra_env: str
    ) -> OperatorProcess:
        """`kubeconfig`: another way to the cluster (a fault proxy's) instead of the world's own."""
        env = operator_env(
            kubeconfig or self.kubeconfig,
            celigo_urls=self.celigo.base_urls,
            conductorone_url=self.c1.url,
            extra=extra_env,
        )
        self.operator = OperatorProcess(env, self.workdir / log_name).start()
        self.started.append(self.operator)
        return self.operator

    def namespace(self, prefix: str = "t") -> str:
        name = f"{prefix}-{next(_counter)}-{int(time.time() * 1000) % 100000}"
        self.core.create_namespace({"metadata": {"name": name}})
        self.made_namespaces.append(name)
        if self.real:  # pods are refused until the namespace's default ServiceAccount exists
            wait_for(lambda: self._has_default_sa(name), 60, what=f"default ServiceAccount in {name}")
        return name

    def _has_default_sa(self, ns: str) -> bool:
        try:
            self.core.read_namespaced_service_account("default", ns)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- credentials ---
    def credentials(self, region: str = "us", token: str | None = None) -> dict[str, str]:
        client_id, client_secret = generate_client_credentials("tenant.conductor.one")
        token = token or self.celigo.add_token(region)
        self.secrets_seen += [client_secret, token]
        return {"BATON_CLIENT_ID": client_id, "BATON_CLIENT_SECRET": client_secret, "BATON_CELIGO_ACCESS_TOKEN": token}

    def put_secret(
        self, ns: str, values: Mapping[str, str], name: str = "celigo-credentials", labelled: bool = True
    ) -> None:
        labels = {api.CREDENTIALS_OPT_IN_LABEL: "true"} if labelled else {}
        body = {
            "metadata": {"name": name, "labels": labels},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        try:
            self.core.create_namespaced_secret(ns, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, ns, body)

    # --- the resource ---
    def create_connector(self, ns: str, name: str = "celigo", **spec: Any) -> dict:
        body = {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "metadata": {"name": name},
            "spec": {"credentialsSecretRef": {"name": "celigo-credentials"}, **spec},
        }
        return dict(self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body))

    def get(self, ns: str, name: str = "celigo") -> dict:
        return dict(self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name))

    def patch_spec(self, ns: str, name: str, spec: Mapping[str, Any]) -> dict:
        return dict(
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name, {"spec": dict(spec)})
        )

    def condition(self, ns: str, name: str, type_: str) -> dict | None:
        for cond in (self.get(ns, name).get("status") or {}).get("conditions") or []:
            if cond["type"] == type_:
                return dict(cond)
        return None

    def wait_condition(
        self, ns: str, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 60.0
    ) -> dict:
        def check() -> dict | None:
            cond = self.condition(ns, name, type_)
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return cond
            return None

        try:
            return dict(wait_for(check, timeout, what=f"{type_}={status} ({reason})"))
        except TimeoutError as exc:
            conds = (self.get(ns, name).get("status") or {}).get("conditions")
            raise AssertionError(f"{exc}\nconditions now: {json.dumps(conds, indent=1)}\n{self.log_tail()}") from None

    def wait_ready(self, ns: str, name: str = "celigo", timeout: float = 60.0) -> dict:
        self.wait_condition(ns, name, "Ready", "True", timeout=timeout)
        return self.get(ns, name)

    # --- children ---
    def deployment(self, ns: str, name: str = "celigo") -> dict | None:
        try:
            resp = self.apps.read_namespaced_deployment(f"{name}-baton-celigo", ns, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(resp.data))

    def owned_secrets(self, ns: str) -> list[dict]:
        resp = self.core.list_namespaced_secret(
            ns, label_selector="app.kubernetes.io/managed-by=celigo-operator", _preload_content=False
        )
        return list(json.loads(resp.data)["items"])

    def pods(self, ns: str) -> list[dict]:
        return list(json.loads(self.core.list_namespaced_pod(ns, _preload_content=False).data)["items"])

    def events(self, ns: str, name: str = "celigo") -> list[dict]:
        resp = self.core.list_namespaced_event(
            ns, field_selector=f"involvedObject.name={name}", _preload_content=False
        )
        return list(json.loads(resp.data)["items"])

    def wait_event(self, ns: str, reason: str, name: str = "celigo", timeout: float = 30.0) -> dict:
        found = wait_for(
            lambda: [e for e in self.events(ns, name) if e.get("reason") == reason], timeout, what=f"event {reason}"
        )
        return dict(found[0])

    def log_tail(self, n: int = 4000) -> str:
        return f"--- operator log ---\n{self.operator.log()[-n:]}" if self.operator else ""

    def writes_since(self, mark: int) -> list[Any]:
        return [r for r in self.emu.request_log[mark:] if r.verb not in ("get", "list", "watch")]


_active_real: list[World] = []  # the worlds open on the (one, shared) real control plane


def _refuse_overlap() -> None:
    """Emulator worlds are each a cluster of their own; real ones share one. An operator another world still
    runs would act on this world's connectors too, against its own fake Celigo and ConductorOne."""
    if any(op.running for other in _active_real for op in other.started):
        raise RuntimeError(
            "another world on the real control plane still runs an operator (a module-scoped world?): it would "
            "act on this world's connectors too; give a test that needs its own world a module of its own"
        )


@contextmanager
def world(
    workdir: Path,
    *,
    start_operator: bool = True,
    crd: Path | None = None,
    kube: str | None = None,
    **operator_env_extra: str,
) -> Iterator[World]:
    """`kube`: "real" or "emulator" for a test that needs one; by default CELIGO_TEST_KUBE decides."""
    with ExitStack() as stack:
        emu: KubeEmulator | RealCluster
        if (kube or backend()) == "real":
            emu = RealCluster()
            delay = emu.settings.rollout_delay
            stack.callback(setattr, emu.settings, "rollout_delay", delay)  # a test may slow rollouts
        else:
            # progressDeadlineSeconds in real time, as kube-apiserver's deployment controller counts it
            settings = EmulatorSettings(
                rollout_delay=0.05, bookmark_interval=1.0, gc_interval=0.02, progress_deadline_scale=1.0
            )
            emu = stack.enter_context(KubeEmulator(settings=settings))
        celigo = stack.enter_context(FakeCeligo())
        c1 = stack.enter_context(FakeConductorOne())
        w = World(emu, celigo, c1, workdir)
        if w.real:
            _refuse_overlap()
            _active_real.append(w)
            stack.callback(_active_real.remove, w)
            stack.callback(w.cleanup_real)
        w.install_crd(crd)
        stack.callback(lambda: [op.stop() for op in w.started])
        if start_operator:
            w.start_operator(**operator_env_extra)
        yield w
