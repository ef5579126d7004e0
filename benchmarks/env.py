"""One benchmark world: the Kubernetes API emulator, the fake Celigo, and the real operator process.

Why not the test World: the benchmark must see the operator exactly as users run it (its documented
CELIGO_OPERATOR_* environment), count every request it makes in the emulator's log, and time Ready with a
watch instead of polling, so the observer does not load the 2-core machine it measures.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client as k8s

from celigo_operator import api
from celigo_testkit.credentials import generate_client_credentials
from celigo_testkit.fake_celigo import FakeCeligo
from celigo_testkit.harness import OperatorProcess, operator_env
from celigo_testkit.kube import EmulatorSettings, KubeEmulator

ROOT = Path(__file__).resolve().parents[1]
BENCH_UA = "celigo-bench"
SOURCE_SECRET = "celigo-credentials"
#: Small emulator delays: pods become Ready 50 ms after creation; watches bookmark every second.
EMULATOR_SETTINGS = EmulatorSettings(rollout_delay=0.05, bookmark_interval=1.0, gc_interval=0.05)


def is_operator_request(user_agent: str) -> bool:
    """Requests the operator process sends: our Kube facade (celigo-operator/...) and kopf's own client."""
    return user_agent.startswith("celigo-operator") or user_agent.startswith("kopf")


def rss_mib(pid: int) -> float:
    """Resident set size of one process (VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def ready_at(obj: Mapping[str, Any]) -> bool:
    """Ready=True with the status observing the current generation."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != (obj.get("metadata") or {}).get("generation"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


class Watcher:
    """A raw watch stream in a thread: records, per object name, the first time `predicate` held."""

    def __init__(self, base_url: str, token: str, path: str, predicate: Callable[[Mapping[str, Any]], bool]):
        self.base_url, self.token, self.path, self.predicate = base_url, token, path, predicate
        self.first: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watch", daemon=True)
        self._started = threading.Event()
        self._cond = threading.Condition()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": BENCH_UA}
        params = {"watch": "true", "timeoutSeconds": "1200"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=None) as http:
            with http.stream("GET", self.path, params=params) as response:
                self._started.set()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    meta = obj.get("metadata") or {}
                    name = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("name") else None
                    if event.get("type") in ("ADDED", "MODIFIED") and name and name not in self.first:
                        if self.predicate(obj):
                            with self._cond:
                                self.first[name] = time.monotonic()
                                self._cond.notify_all()

    def __enter__(self) -> Watcher:
        self._thread.start()
        self._started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # the stream ends at the next event or when the emulator stops

    def wait_count(self, n: int, timeout: float) -> bool:
        """Block until `n` names matched (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.first) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
        return True


class ProfiledOperator(OperatorProcess):
    """The same operator process under benchmarks.profile_operator (cProfile or tracemalloc)."""

    def __init__(self, env: Mapping[str, str], log_path: Path, profile: list[str]) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        super().__init__({**env, "PYTHONPATH": path}, log_path)
        self.profile = profile

    def start(self) -> ProfiledOperator:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.profile_operator", *self.profile, "--", *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
            )
        return self


@dataclass
class Bench:
    """An emulator, a fake Celigo and (optionally) the operator, plus the bench's own API clients."""

    emu: KubeEmulator
    celigo: FakeCeligo
    workdir: Path
    operator: OperatorProcess | None = None
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="bench"))

    def __post_init__(self) -> None:
        self.kubeconfig = self.emu.write_kubeconfig(self.workdir / "kubeconfig")
        self.api = self.emu.api_client()
        self.api.user_agent = BENCH_UA
        # Any: the bench sends plain dicts, which the client accepts but its generated types do not name.
        self.core: Any = k8s.CoreV1Api(self.api)
        self.apps: Any = k8s.AppsV1Api(self.api)
        self.custom: Any = k8s.CustomObjectsApi(self.api)
        self.token = self.celigo.default_token("us")

    # --- setup ---
    def install(self) -> None:
        crd = yaml.safe_load((ROOT / "crds" / "celigoconnectors.yaml").read_text())
        k8s.ApiextensionsV1Api(self.api).create_custom_resource_definition(crd)
        self.core.create_namespace({"metadata": {"name": "celigo-operator"}})

    def start_operator(
        self, log_name: str, env: Mapping[str, str], profile: list[str] | None = None
    ) -> OperatorProcess:
        """The operator as `celigo-operator run -A`; with `profile` (e.g. ["--cpu", path]) under
        benchmarks.profile_operator instead."""
        full = operator_env(self.kubeconfig, celigo_urls=self.celigo.base_urls, extra=env)
        op = ProfiledOperator(full, self.workdir / log_name, profile) if profile else OperatorProcess(
            full, self.workdir / log_name)
        self.operator = op.start()
        return self.operator

    @property
    def pid(self) -> int:
        assert self.operator is not None and self.operator.proc is not None
        return self.operator.proc.pid

    def wait_operator_started(self, timeout: float = 120.0) -> float:
        """Until the operator created its HMAC key Secret (its startup handler finished); seconds."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.emu.get_object("secrets", "celigo-operator", "celigo-operator-hmac") is not None:
                time.sleep(0.5)  # the watch streams open right after startup
                return time.monotonic() - start
            if self.operator is not None and not self.operator.running:
                raise RuntimeError(f"operator exited:\n{self.operator.log()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError("operator did not start")

    def namespace(self, name: str) -> str:
        self.core.create_namespace({"metadata": {"name": name}})
        return name

    def put_source_secret(self, ns: str, token: str | None = None, name: str = SOURCE_SECRET) -> None:
        """The user's opted-in credentials Secret (created, or replaced with new values)."""
        client_id, client_secret = generate_client_credentials("tenant.conductor.one")
        values = {
            "BATON_CLIENT_ID": client_id,
            "BATON_CLIENT_SECRET": client_secret,
            "BATON_CELIGO_ACCESS_TOKEN": token or self.token,
        }
        body = {
            "metadata": {"name": name, "labels": {api.CREDENTIALS_OPT_IN_LABEL: "true"}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
        }
        if self.emu.get_object("secrets", ns, name) is None:
            self.core.create_namespaced_secret(ns, body)
        else:
            self.core.replace_namespaced_secret(name, ns, body)

    def connector_body(self, name: str, interval: str | None = None) -> dict[str, Any]:
        spec: dict[str, Any] = {"credentialsSecretRef": {"name": SOURCE_SECRET}}
        if interval:
            spec["healthCheck"] = {"interval": interval}
        return {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": {"name": name}, "spec": spec}

    def layout(self, prefix: str, n: int, per_namespace: int) -> list[str]:
        """`n` resource keys ("namespace/name"), `per_namespace` to a namespace, each namespace with its own
        source Secret; namespaces and Secrets are created here."""
        keys = []
        for k in range(-(-n // per_namespace)):
            ns = self.namespace(f"{prefix}-{k:03d}")
            self.put_source_secret(ns)
            keys += [f"{ns}/c{i:03d}" for i in range(min(per_namespace, n - k * per_namespace))]
        return keys

    def create_connectors(self, keys: list[str], interval: str | None = None) -> dict[str, float]:
        """Create all at once (8 client threads); returns each create's completion time (monotonic)."""

        def one(key: str) -> tuple[str, float]:
            ns, name = key.split("/")
            self.custom.create_namespaced_custom_object(
                api.GROUP, api.VERSION, ns, api.PLURAL, self.connector_body(name, interval)
            )
            return key, time.monotonic()

        return dict(self.pool.map(one, keys))

    def watch_connectors(self, predicate: Callable[[Mapping[str, Any]], bool] = ready_at) -> Watcher:
        """Every CeligoConnector in the cluster (each bench world is fresh)."""
        return Watcher(self.emu.url, self.emu.token, f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}", predicate)

    def watch_deployments(self, predicate: Callable[[Mapping[str, Any]], bool]) -> Watcher:
        return Watcher(self.emu.url, self.emu.token, "/apis/apps/v1/deployments", predicate)

    # --- counting ---
    def log_mark(self) -> int:
        return len(self.emu.request_log)

    def operator_requests(self, since: int, until: int | None = None) -> Counter[str]:
        """Operator requests in the emulator's log since a mark, keyed 'verb resource[/subresource]'."""
        records = self.emu.request_log[since:until]
        counts: Counter[str] = Counter()
        for r in records:
            if is_operator_request(r.user_agent):
                what = r.resource + (f"/{r.subresource}" if r.subresource else "")
                counts[f"{r.verb} {what}"] += 1
        return counts

    def close(self) -> None:
        if self.operator is not None:
            self.operator.stop(timeout=20)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.api.close()


@contextmanager
def bench_world(workdir: Path, *, celigo_latency: float = 0.0) -> Iterator[Bench]:
    """A fresh emulator and fake Celigo on loopback, torn down on exit (the operator first)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        emu = stack.enter_context(KubeEmulator(settings=EMULATOR_SETTINGS))
        celigo = stack.enter_context(FakeCeligo(latency=celigo_latency))
        bench = Bench(emu, celigo, workdir)
        stack.callback(bench.close)
        bench.install()
        yield bench
