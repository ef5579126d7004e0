"""One benchmark world: a real control plane (etcd + kube-apiserver + kube-controller-manager with its audit
log), the simulated node that makes pods Ready (podsim), the fake Celigo, and the process under test.

Every actor authenticates as its own ServiceAccount (the operator with the RBAC of deploy/, the floor and
the minimal kopf operator with cluster-admin), so the API server's audit log tells their requests apart by
user: request counts come from the server, not from the machine. The bench's own watches (the stopwatch)
run as the admin user and are never counted.

The operator and the minimal kopf operator run as the image runs the operator: on an interpreter whose
site-packages hold the operator's runtime dependencies only (`image_python`), not the dev venv the bench
itself runs in. The dev venv has packages the image lacks, and some are imported when present (the
`kubernetes` package imports kubernetes_validate and with it jsonschema; httpx imports rich and pygments for
its command line): they cost both processes about 10 MiB the image never spends.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from celigo_operator import api, manifests
from celigo_testkit.controlplane import AuditRecord, ControlPlane, free_port
from celigo_testkit.credentials import generate_client_credentials
from celigo_testkit.fake_celigo import FakeCeligo
from celigo_testkit.harness import Kubectl, OperatorProcess, operator_env, wait_for
from celigo_testkit.podsim import PodSimulator, SimSettings

from .writes import SOURCE_SECRET

ROOT = Path(__file__).resolve().parents[1]
BENCH_UA = "celigo-bench"
OPERATOR_NS = "celigo-operator"
OPERATOR_SA = (OPERATOR_NS, "celigo-operator")
BENCH_NS = "celigo-bench"
RBAC_KINDS = ("Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
#: Requests that do not scale with the resources: leader election and (re)opened watch streams.
FIXED_RESOURCES = ("leases",)
FIXED_VERBS = ("watch",)


def runtime_distributions(name: str = "celigo-operator") -> list[importlib.metadata.Distribution]:
    """`name` and what it requires, recursively, without extras: what `pip install` puts in the image."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        key = canonicalize_name(todo.pop())
        if key in found:
            continue
        dist = found[key] = importlib.metadata.distribution(key)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(found.values())


@functools.cache
def image_python() -> str:
    """The interpreter of a virtualenv (made once per bench process, removed at exit) whose site-packages
    hold what the image's /opt/venv holds: the operator and its runtime dependencies, linked from this venv
    (the operator package from the source tree, as the editable install has it)."""
    import atexit
    import sysconfig
    import tempfile
    import venv

    root = Path(tempfile.mkdtemp(prefix="celigo-bench-image-venv-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=True).create(root)
    target = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    here = Path(sysconfig.get_path("purelib"))
    for dist in runtime_distributions():
        tops = {f.parts[0] for f in dist.files or [] if f.parts and f.parts[0] != ".."}
        if canonicalize_name(dist.metadata["Name"]) == "celigo-operator":  # editable: its finder, not files
            (target / "celigo_operator").symlink_to(ROOT / "operator" / "celigo_operator")
            tops = {t for t in tops if t.endswith(".dist-info")}
        for top in sorted(tops - {"__pycache__"}):
            if (here / top).exists() and not (target / top).exists() and not top.endswith(".pth"):
                (target / top).symlink_to(here / top)
    return str(root / "bin" / "python")


class ImageOperator(OperatorProcess):
    """`python -m celigo_operator run` on the image's packages (`image_python`)."""

    def start(self) -> ImageOperator:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [image_python(), "-m", "celigo_operator", "run", *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self


def sa_user(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def rss_mib(pid: int) -> float:
    """Resident set size of one process (VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def condition_true(obj: Mapping[str, Any], *types: str) -> bool:
    conds = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    return all(conds.get(t) == "True" for t in types)


def converged(obj: Mapping[str, Any]) -> str | None:
    """The convergence the goal table times: Reconciled=True and CredentialsValid=True."""
    return "converged" if condition_true(obj, "Reconciled", "CredentialsValid") else None


def template_version(dep: Mapping[str, Any]) -> str | None:
    """The credentials version a Deployment's pod template carries (what a Secret change updates)."""
    ann = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
    return ann.get(manifests.ANNOTATION_CREDENTIALS_VERSION)


def request_key(r: AuditRecord) -> str:
    return f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}" if r.resource else f"{r.verb} {r.path}"


def is_fixed(key: str) -> bool:
    verb, what = key.split(" ", 1)
    return verb in FIXED_VERBS or what.split("/")[0] in FIXED_RESOURCES


def api_client(cp: ControlPlane, token: str | None = None, user_agent: str = BENCH_UA) -> k8s.ApiClient:
    """A `kubernetes` client whose connection pool holds the 8 writer threads' connections (the default
    of 4 makes the other threads open a new TLS connection per request)."""
    cfg = k8s.Configuration()
    cfg.host = cp.url
    cfg.ssl_ca_cert = str(cp.ca_file)
    cfg.api_key = {"authorization": f"Bearer {token or cp.admin_token}"}
    cfg.connection_pool_maxsize = 16
    client = k8s.ApiClient(cfg)
    client.user_agent = user_agent
    return client


class Watcher:
    """A raw watch stream in a thread (the bench's stopwatch): records, per object, the first time each
    state `state_of(obj)` returned was seen (states None are ignored)."""

    def __init__(self, cp: ControlPlane, path: str, state_of: Callable[[Mapping[str, Any]], str | None]):
        self.cp, self.path, self.state_of = cp, path, state_of
        self.first: dict[tuple[str, str], float] = {}
        self.latest: dict[str, str] = {}
        self._stop = threading.Event()
        self._started = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.cp.admin_token}", "User-Agent": BENCH_UA}
        verify = ssl.create_default_context(cafile=str(self.cp.ca_file))
        rv = ""
        with httpx.Client(base_url=self.cp.url, headers=headers, verify=verify, timeout=None) as http:
            while not self._stop.is_set():
                try:
                    if not rv:  # list, then watch from the list's version (as informers do)
                        listed = http.get(self.path)
                        if listed.status_code != 200:  # 429 while a new CRD's storage initializes
                            self._stop.wait(float(listed.headers.get("Retry-After") or 1))
                            continue
                        body = listed.json()
                        for item in body.get("items") or []:
                            self._event({"type": "ADDED", "object": item})
                        rv = body["metadata"]["resourceVersion"]
                        self._started.set()
                    params = {"watch": "true", "timeoutSeconds": "3600", "resourceVersion": rv}
                    with http.stream("GET", self.path, params=params) as response:
                        if response.status_code != 200:
                            response.read()
                            rv = ""
                            self._stop.wait(float(response.headers.get("Retry-After") or 1))
                            continue
                        self._started.set()
                        for line in response.iter_lines():
                            if self._stop.is_set():
                                return
                            if not line:
                                continue
                            event = json.loads(line)
                            if event.get("type") == "ERROR":
                                # 410 Expired: list afresh; else (the watch cache not yet at rv: no
                                # event of this kind since it started) watch again from the same rv
                                if (event.get("object") or {}).get("code") == 410:
                                    rv = ""
                                self._stop.wait(0.5)
                                break
                            rv = self._event(event) or rv
                except (httpx.HTTPError, ValueError):
                    if self._stop.wait(0.5):
                        return

    def _event(self, event: Mapping[str, Any]) -> str:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        if event.get("type") in ("ADDED", "MODIFIED") and meta.get("name"):
            state = self.state_of(obj)
            if state is not None:
                name = f"{meta.get('namespace')}/{meta['name']}"
                with self._cond:
                    self.latest[name] = state
                    self.first.setdefault((name, state), time.monotonic())
                    self._cond.notify_all()
        return str(meta.get("resourceVersion") or "")

    def __enter__(self) -> Watcher:
        self._thread.start()
        self._started.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # the stream ends at its next event; the thread is a daemon

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Block until `done()` (called under the lock) holds (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
        return True

    def wait_changed(self, old: Mapping[str, str], timeout: float) -> bool:
        """Until every object in `old` (name -> state) shows a state other than its old one."""
        return self.wait(lambda: all(self.latest.get(k) not in (None, v) for k, v in old.items()), timeout)

    def count(self, state: str, names: Iterable[str] | None = None) -> int:
        wanted = set(names) if names is not None else None
        return sum(1 for (n, s) in self.first if s == state and (wanted is None or n in wanted))


@dataclass
class Bench:
    """A fresh control plane with its simulated node, the fake Celigo, and the bench's own API clients."""

    cp: ControlPlane
    sim: PodSimulator
    celigo: FakeCeligo
    workdir: Path
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="bench"))
    processes: list[OperatorProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.api = api_client(self.cp)
        # Any: the bench sends plain dicts, which the client accepts but its generated types do not name.
        self.core: Any = k8s.CoreV1Api(self.api)
        self.apps: Any = k8s.AppsV1Api(self.api)
        self.custom: Any = k8s.CustomObjectsApi(self.api)
        self.kubectl = Kubectl(self.cp.kubeconfig, binary=self.cp.assets.kubectl)

    # --- setup ---
    def install_crd(self) -> None:
        crd = yaml.safe_load((ROOT / "crds" / "celigoconnectors.yaml").read_text())
        k8s.ApiextensionsV1Api(self.api).create_custom_resource_definition(crd)
        name = crd["metadata"]["name"]

        def established() -> bool:
            obj = k8s.ApiextensionsV1Api(self.api).read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True" for c in obj.status.conditions or [])

        wait_for(established, 60, 0.2, what=f"CRD {name} established")

    def service_account(self, name: str, namespace: str = BENCH_NS,
                        cluster_role: str = "cluster-admin") -> tuple[str, Path]:
        """A ServiceAccount bound to `cluster_role`: its token and a kubeconfig with it."""
        self.ensure_namespace(namespace)
        self.core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        k8s.RbacAuthorizationV1Api(self.api).create_cluster_role_binding({
            "metadata": {"name": f"{namespace}-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        })
        token = self.cp.create_token(namespace, name)
        return token, self.cp.write_kubeconfig(self.workdir / f"{name}.kubeconfig", token, user=name)

    def install_operator_rbac(self) -> Path:
        """deploy/ha's namespace, ServiceAccount and RBAC (cluster-wide role + the leader Lease), applied
        with kubectl; returns a kubeconfig with the ServiceAccount's own token."""
        objects = [o for o in yaml.safe_load_all(self.kubectl("kustomize", str(ROOT / "deploy" / "ha"))) if o]
        rbac = [o for o in objects if o.get("kind") in RBAC_KINDS]
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
        token = self.cp.create_token(*OPERATOR_SA)
        return self.cp.write_kubeconfig(self.workdir / "operator.kubeconfig", token, user="celigo-operator")

    def ensure_namespace(self, name: str) -> str:
        try:
            self.core.create_namespace({"metadata": {"name": name}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        return name

    def source_secret_body(self, token: str, name: str = SOURCE_SECRET) -> dict[str, Any]:
        """The user's opted-in credentials Secret, with a fresh ConductorOne client and `token` for Celigo."""
        client_id, client_secret = generate_client_credentials("tenant.conductor.one")
        values = {"BATON_CLIENT_ID": client_id, "BATON_CLIENT_SECRET": client_secret,
                  "BATON_CELIGO_ACCESS_TOKEN": token}
        return {
            "metadata": {"name": name, "labels": {api.CREDENTIALS_OPT_IN_LABEL: "true"}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }

    def replace_source_secret(self, ns: str) -> None:
        """A credentials change: the source Secret gets a new Celigo token (valid, so it is rolled)."""
        body = self.source_secret_body(self.celigo.add_token("us"))
        self.core.replace_namespaced_secret(SOURCE_SECRET, ns, body)

    def connector_body(self, name: str) -> dict[str, Any]:
        return {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": {"name": name},
                "spec": {"credentialsSecretRef": {"name": SOURCE_SECRET}}}

    def layout(self, prefix: str, n: int, per_namespace: int) -> list[str]:
        """`n` resource keys ("namespace/name"), `per_namespace` to a namespace; each namespace gets its own
        opted-in source Secret with its own Celigo token (created here, 8 threads)."""
        spaces = [f"{prefix}-{k:03d}" for k in range(-(-n // per_namespace))]

        def one(ns: str) -> None:
            self.ensure_namespace(ns)
            self.core.create_namespaced_secret(ns, self.source_secret_body(self.celigo.add_token("us")))

        list(self.pool.map(one, spaces))
        return [f"{ns}/c{i:03d}" for k, ns in enumerate(spaces) for i in range(min(per_namespace, n - k * per_namespace))]

    def create_connectors(self, keys: list[str]) -> dict[str, float]:
        """Create all at once (8 client threads); each create's completion time (monotonic)."""

        def one(key: str) -> tuple[str, float]:
            ns, name = key.split("/")
            self.custom.create_namespaced_custom_object(api.GROUP, api.VERSION, ns, api.PLURAL,
                                                        self.connector_body(name))
            return key, time.monotonic()

        return dict(self.pool.map(one, keys))

    # --- processes ---
    def start_process(self, proc: OperatorProcess) -> OperatorProcess:
        self.processes.append(proc.start())
        return proc

    def operator_env(self, kubeconfig: Path, **extra: str) -> dict[str, str]:
        """The operator's environment: the defaults of deploy/ (only what a test harness must set differs:
        the fakes' URLs, a free probe port, no metrics port)."""
        env = operator_env(kubeconfig, celigo_urls=self.celigo.base_urls, extra={
            "CELIGO_OPERATOR_TICK_INTERVAL": "30",
            "CELIGO_OPERATOR_MIN_READY_SECONDS": "10",
            "CELIGO_OPERATOR_LOG_LEVEL": "WARNING",
            "CELIGO_OPERATOR_LIVENESS_ENDPOINT": f"http://127.0.0.1:{free_port()}/healthz",
            **extra,
        })
        return env

    # --- watches ---
    def watch_connectors(self, state_of: Callable[[Mapping[str, Any]], str | None] = converged) -> Watcher:
        return Watcher(self.cp, f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}", state_of)

    def watch_deployments(self) -> Watcher:
        return Watcher(self.cp, "/apis/apps/v1/deployments", template_version)

    # --- the audit log ---
    def audit_mark(self) -> int:
        assert self.cp.audit is not None
        self.cp.audit.settle(quiet=0.2, timeout=3.0)
        return len(self.cp.audit.records())

    def requests(self, user: str, since: int, until: int | None = None) -> Counter[str]:
        """Requests of `user` in the audit log between two marks, keyed 'verb resource[/subresource]'."""
        assert self.cp.audit is not None
        records = self.cp.audit.records()[since:until]
        return Counter(request_key(r) for r in records if r.user == user)

    def wait_watching(self, user: str, resource: str, since: int, proc: OperatorProcess,
                      timeout: float = 180.0) -> float:
        """Until `user` opened a watch on `resource` (its informers run: it is serving); seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.requests(user, since)[f"watch {resource}"]:
                return time.monotonic() - start
            if not proc.running:
                raise RuntimeError(f"{proc.log_path.name} exited:\n{proc.log()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{user} did not watch {resource} within {timeout} s:\n{proc.log()[-3000:]}")

    def lease_holder(self, name: str = "celigo-operator-leader") -> str | None:
        try:
            lease = k8s.CoordinationV1Api(self.api).read_namespaced_lease(name, OPERATOR_NS)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return lease.spec.holder_identity

    def wait_quiet(self, user: str, quiet: float, timeout: float) -> float:
        """Until `user` sent no request but fixed traffic for `quiet` seconds; seconds waited."""
        start = time.monotonic()
        mark = self.audit_mark()
        since = time.monotonic()
        while time.monotonic() - start < timeout:
            time.sleep(0.5)
            now = self.audit_mark()
            if any(not is_fixed(k) for k in self.requests(user, mark, now)):
                since = time.monotonic()
            mark = now
            if time.monotonic() - since >= quiet:
                break
        return time.monotonic() - start

    def close(self) -> None:
        for proc in self.processes:
            proc.stop(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.api.close()


def summary(counts: Counter[str], n: int) -> dict[str, Any]:
    """Per-resource requests; the fixed traffic (Lease, watches opened) counted apart, not per resource."""
    scaling = {k: v for k, v in counts.items() if not is_fixed(k)}
    total = sum(scaling.values())
    return {"total": total, "per_resource": round(total / n, 2) if n else None,
            "by_verb_resource": dict(sorted(scaling.items(), key=lambda kv: (-kv[1], kv[0]))),
            "fixed": dict(sorted((k, v) for k, v in counts.items() if is_fixed(k)))}


class KopfMinimal(OperatorProcess):
    """benchmarks.kopf_minimal under `kopf run` (a process, like the operator, on the same packages)."""

    def start(self) -> KopfMinimal:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        path = os.pathsep.join(p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [image_python(), "-m", "kopf", "run", "--standalone", "--all-namespaces", "--log-format=plain",
                 "--quiet", str(ROOT / "benchmarks" / "kopf_minimal.py")],
                env={**self.env, "PYTHONPATH": path}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=ROOT,
            )
        return self


class BenchControlPlane(ControlPlane):
    """The testkit's control plane with kube-controller-manager's client rate raised from its default 20/s
    (burst 30) per controller: at N=1000 that default alone paces ReplicaSets and Pods for minutes, which
    the bench would spend waiting for the cluster, not measuring the operator (large clusters raise it too)."""

    KCM_RATE = ("--kube-api-qps=100", "--kube-api-burst=200")

    def _spawn(self, name: str, args: list[str]) -> None:
        super()._spawn(name, [*args, *self.KCM_RATE] if name == "kube-controller-manager" else args)


@contextmanager
def bench_world(workdir: Path) -> Iterator[Bench]:
    """A fresh control plane, simulated node and fake Celigo, torn down on exit (processes first)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        cp = stack.enter_context(BenchControlPlane())
        sim = stack.enter_context(PodSimulator(cp, settings=SimSettings(workers=4)))
        celigo = stack.enter_context(FakeCeligo())
        bench = Bench(cp, sim, celigo, workdir)
        stack.callback(bench.close)
        bench.install_crd()
        bench.ensure_namespace(OPERATOR_NS)
        yield bench
