"""The operator scenarios: scale-up vs the floor, idle cost, memory, and credential rotation.

Each scenario gets a fresh emulator and operator (bench_world), so one does not inherit another's backlog,
and returns plain dicts that go into results/latest.json unchanged.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celigo_operator import api, manifests
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.config import OperatorConfig
from celigo_operator.manifests import ConnectorCredentials, Owner

from .env import BENCH_UA, SOURCE_SECRET, Bench, bench_world, cpu_seconds, rss_mib


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); what "p95 of N samples" means to most readers."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _summary(counts: Counter[str], n: int) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "total": total,
        "per_resource": round(total / n, 2) if n else None,
        "by_kind": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
    }


# ------------------------------------------------------------------------------------------- scale-up
def _create_and_wait(bench: Bench, keys: list[str], interval: str | None, timeout: float) -> dict[str, Any]:
    """Create `keys` at once and wait until all are Ready; timings, operator requests and Celigo calls."""
    n = len(keys)
    cpu0 = cpu_seconds(bench.pid)
    mark = bench.log_mark()
    celigo_mark = len(bench.celigo.requests)
    probe = ApiProbe(bench)
    with bench.watch_connectors() as watch, probe:
        t0 = time.monotonic()
        created = bench.create_connectors(keys, interval)
        applied = time.monotonic() - t0
        done = watch.wait_count(n, timeout)
        seen = {k: v for k, v in watch.first.items() if k in created}
        elapsed = (max(seen.values()) if done and seen else time.monotonic()) - t0
    latencies = [seen[k] - created[k] for k in seen]
    celigo_calls = bench.celigo.requests[celigo_mark:]
    return {
        "n": n,
        "all_ready": done,
        "ready": len(seen),
        "apply_s": round(applied, 2),
        "time_to_all_ready_s": round(elapsed, 2),
        "latency_p50_s": round(percentile(latencies, 50), 2),
        "latency_p95_s": round(percentile(latencies, 95), 2),
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "operator_cpu_s": round(cpu_seconds(bench.pid) - cpu0, 2),
        "api_requests": _summary(bench.operator_requests(mark), n),
        "celigo_calls": len(celigo_calls),
        "celigo_429": sum(1 for r in celigo_calls if r.status == 429),
        "emulator_get_ms": probe.summary(),
    }


class ApiProbe:
    """One small GET per second from the bench while the operator works: how responsive the emulator is
    (it shares the 2 cores), so a slow figure can be told apart from a slow emulator."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-probe", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            start = time.monotonic()
            self.bench.core.read_namespace("celigo-operator", _preload_content=False)
            self.samples.append((time.monotonic() - start) * 1000.0)

    def __enter__(self) -> ApiProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def summary(self) -> dict[str, float]:
        if not self.samples:
            return {}
        return {"p50": round(percentile(self.samples, 50), 1), "p95": round(percentile(self.samples, 95), 1),
                "max": round(max(self.samples), 1)}


def scale_up(workdir: Path, n: int, env: Mapping[str, str], *, per_namespace: int, interval: str | None = None,
             timeout: float = 240.0, profile: list[str] | None = None) -> dict[str, Any]:
    """N resources created at once -> all Ready (fresh emulator and operator); RSS before and after.
    With `profile` the operator runs under benchmarks.profile_operator (see there)."""
    with bench_world(workdir / f"scale-{n}") as bench:
        bench.start_operator("operator.log", env, profile)
        startup = bench.wait_operator_started()
        rss_empty = rss_mib(bench.pid)
        keys = bench.layout("scale", n, per_namespace)
        result = {"operator_startup_s": round(startup, 2), "rss_mib_empty": round(rss_empty, 1),
                  **_create_and_wait(bench, keys, interval, timeout)}
        if profile:
            _dump_profile(bench.pid, profile)
        _wait_quiet(bench, quiet=3.0, timeout=20.0)
        result["rss_mib_ready"] = round(rss_mib(bench.pid), 1)
        return result


def _dump_profile(pid: int, profile: list[str]) -> None:
    """Ask the profiled operator for its numbers now (SIGUSR1 for --cpu, a trigger file for --mem)."""
    out = Path(profile[1])
    if profile[0] == "--cpu":
        os.kill(pid, signal.SIGUSR1)
    else:
        out.with_name(out.name + ".trigger").touch()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
        time.sleep(0.5)


def _wait_quiet(bench: Bench, quiet: float, timeout: float) -> None:
    """Until the operator sent no write for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    mark = bench.log_mark()
    while time.monotonic() < deadline:
        writes = sum(v for k, v in bench.operator_requests(mark).items() if not k.startswith(("get", "list", "watch")))
        if writes != last:
            last, since = writes, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


def floor(workdir: Path, n: int, *, per_namespace: int, timeout: float = 240.0) -> dict[str, Any]:
    """The same object writes the operator must make, by a bare client loop (8 threads, like the operator's
    API pool): create the CRs, then per resource its Secret and Deployment, then, once its pods are
    available, one status patch. Its only reads are one Deployment list per 50 ms poll."""
    with bench_world(workdir / f"floor-{n}") as bench:
        keys = bench.layout("floor", n, per_namespace)
        config = OperatorConfig()
        creds = ConnectorCredentials(client_id="bench@tenant.conductor.one/x", client_secret="s", access_token="t")
        version = manifests.credentials_version(b"k" * 32, creds)
        spec = CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": SOURCE_SECRET}})
        status = {"observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": "True", "reason": "Ready", "message": "floor",
             "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}]}
        mark = bench.log_mark()
        t0 = time.monotonic()
        created = bench.create_connectors(keys)

        def children(key: str) -> None:
            ns, name = key.split("/")
            obj = bench.emu.get_object(f"{api.PLURAL}.{api.GROUP}", ns, name)
            assert obj is not None
            owner = Owner(name=name, namespace=ns, uid=obj["metadata"]["uid"])
            secret = manifests.build_secret(owner, creds, version)
            bench.core.create_namespaced_secret(ns, secret)
            dep = manifests.build_deployment(owner, spec, config, secret["metadata"]["name"], version)
            bench.apps.create_namespaced_deployment(ns, dep)

        def patch(key: str) -> tuple[str, float]:
            ns, name = key.split("/")
            bench.custom.patch_namespaced_custom_object_status(
                api.GROUP, api.VERSION, ns, api.PLURAL, name, {"status": status})
            return key, time.monotonic()

        list(bench.pool.map(children, keys))
        children_s = time.monotonic() - t0
        pending, ready = set(keys), dict[str, float]()
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            deps = json.loads(bench.apps.list_deployment_for_all_namespaces(_preload_content=False).data)["items"]
            available = []
            for dep in deps:
                meta = dep["metadata"]
                key = f"{meta['namespace']}/{meta['name'].removesuffix(manifests.CHILD_SUFFIX)}"
                if key in pending and (dep.get("status") or {}).get("availableReplicas", 0) >= 1:
                    available.append(key)
            ready.update(bench.pool.map(patch, available))
            pending.difference_update(available)
            if pending:
                time.sleep(0.05)
        elapsed = (max(ready.values()) if ready else time.monotonic()) - t0
        latencies = [ready[k] - created[k] for k in ready]
        counts = Counter(f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}"
                         for r in bench.emu.request_log[mark:] if r.user_agent.startswith(BENCH_UA)
                         and r.verb not in ("get", "list", "watch"))
        return {
            "n": n,
            "all_ready": not pending,
            "children_written_s": round(children_s, 2),
            "time_to_all_ready_s": round(elapsed, 2),
            "latency_p50_s": round(percentile(latencies, 50), 2),
            "latency_p95_s": round(percentile(latencies, 95), 2),
            "writes": _summary(counts, n),
        }


# --------------------------------------------------------------------------- idle cost, memory, rotation
def _rolled(version_of: Mapping[str, str]) -> Any:
    """Predicate: a Deployment runs a credentials version other than its namespace's old one, fully rolled."""

    def check(dep: Mapping[str, Any]) -> bool:
        meta, spec, st = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
        ann = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        old = version_of.get(meta.get("namespace", ""))
        if old is None or ann.get(manifests.ANNOTATION_CREDENTIALS_VERSION) in (None, old):
            return False
        want = int(spec.get("replicas", 1))
        return (st.get("observedGeneration", 0) >= meta.get("generation", 0)
                and st.get("updatedReplicas", 0) >= want and st.get("availableReplicas", 0) >= want
                and st.get("replicas", 0) <= want)

    return check


def _versions(bench: Bench, namespaces: list[str]) -> dict[str, str]:
    out = {}
    for ns in namespaces:
        deps = bench.emu.list_objects("deployments.apps", ns)
        ann = deps[0]["spec"]["template"]["metadata"]["annotations"]
        out[ns] = ann[manifests.ANNOTATION_CREDENTIALS_VERSION]
    return out


def _rotate(bench: Bench, namespaces: list[str], expected: int, timeout: float) -> dict[str, Any]:
    """Replace the source Secret of every namespace at once; time until every Deployment rolled."""
    with bench.watch_deployments(_rolled(_versions(bench, namespaces))) as watch:
        t0 = time.monotonic()
        for ns in namespaces:
            bench.put_source_secret(ns, token=bench.celigo.add_token("us"))
        done = watch.wait_count(expected, timeout)
        times = sorted(v - t0 for v in watch.first.values())
    return {
        "resources": expected,
        "all_rolled": done,
        "first_s": round(times[0], 2) if times else None,
        "p50_s": round(percentile(times, 50), 2),
        "all_s": round(times[-1], 2) if done else None,
    }


def steady_state(workdir: Path, n: int, env: Mapping[str, str], *, per_namespace: int, interval: str,
                 interval_s: float, tick_s: float, windows: int, timeout: float = 240.0) -> dict[str, Any]:
    """One world for the small figures: scale-up of N with a short health interval, then idle cost over
    `windows` health intervals, memory at 0 and N, then rotation of 1 resource and of N together."""
    with bench_world(workdir / f"steady-{n}") as bench:
        bench.start_operator("operator.log", env)
        startup = bench.wait_operator_started()
        time.sleep(1.0)
        rss_empty = rss_mib(bench.pid)
        solo = bench.layout("solo", 1, 1)
        keys = bench.layout("steady", n, per_namespace)
        bench.create_connectors(solo, interval)
        scale = {"operator_startup_s": round(startup, 2), **_create_and_wait(bench, keys, interval, timeout)}

        # Idle: every resource Ready, children rolled; let one more tick pass so the window starts clean.
        time.sleep(tick_s + 2.0)
        window = windows * interval_s
        mark, celigo_mark = bench.log_mark(), len(bench.celigo.requests)
        cpu0 = cpu_seconds(bench.pid)
        time.sleep(window)
        requests = bench.operator_requests(mark)
        calls = bench.celigo.requests[celigo_mark:]
        total = n + 1
        writes = {k: v for k, v in requests.items() if not k.startswith(("get ", "list ", "watch "))}
        reads = sum(v for k, v in requests.items() if k.startswith(("get ", "list ")))
        child_writes = sum(v for k, v in writes.items() if k.split()[1] in ("secrets", "deployments"))
        status_writes = sum(v for k, v in writes.items() if k.endswith("/status"))
        checks = sum(1 for r in calls if r.path == "/v1/tokenInfo")
        idle = {
            "resources": total,
            "health_interval_s": interval_s,
            "tick_interval_s": tick_s,
            "window_s": window,
            "writes": dict(writes),
            "child_writes": child_writes,
            "status_writes": status_writes,
            "status_writes_per_resource_hour": round(status_writes / total * 3600.0 / window, 2),
            "reads_per_resource_interval": round(reads / total / windows, 2),
            "reads": {k: v for k, v in requests.items() if k.startswith(("get ", "list "))},
            "health_checks": checks,
            "celigo_calls": len(calls),
            "celigo_calls_per_check": round(len(calls) / checks, 2) if checks else None,
            "celigo_429": sum(1 for r in calls if r.status == 429),
            "operator_cpu_percent": round(100.0 * (cpu_seconds(bench.pid) - cpu0) / window, 2),
        }
        memory = {"rss_mib_0": round(rss_empty, 1), f"rss_mib_{total}": round(rss_mib(bench.pid), 1)}

        rotation = {
            "one": _rotate(bench, [solo[0].split("/")[0]], 1, timeout=tick_s * 3 + 30),
            "many": _rotate(bench, sorted({k.split("/")[0] for k in keys}), n, timeout=tick_s * 3 + 60),
        }
        return {"scale": scale, "idle": idle, "memory": memory, "rotation": rotation}


def observed(obj: Mapping[str, Any]) -> bool:
    """The operator wrote a status for the current generation (Ready or not)."""
    status = obj.get("status") or {}
    return status.get("observedGeneration") == (obj.get("metadata") or {}).get("generation")


def watched_memory(workdir: Path, n: int, env: Mapping[str, str], *, per_namespace: int,
                   timeout: float = 240.0) -> dict[str, Any]:
    """RSS with N resources watched. They are suspended (the operator reads, checks Celigo and writes status
    but creates no children), because the emulator's simulated workload controller cannot hold N Deployments
    within the time budget. Every resource shares one Celigo token: the create-time checks are also a
    burst of 3N calls against one account's rate limit, made by the real operator process."""
    with bench_world(workdir / f"watched-{n}") as bench:
        bench.start_operator("operator.log", env)
        bench.wait_operator_started()
        time.sleep(1.0)
        rss_empty = rss_mib(bench.pid)
        keys = bench.layout("watched", n, per_namespace)
        mark, celigo_mark = bench.log_mark(), len(bench.celigo.requests)

        def one(key: str) -> None:
            ns, name = key.split("/")
            body = bench.connector_body(name)
            body["spec"]["suspend"] = True
            bench.custom.create_namespaced_custom_object(api.GROUP, api.VERSION, ns, api.PLURAL, body)

        with bench.watch_connectors(observed) as watch:
            t0 = time.monotonic()
            list(bench.pool.map(one, keys))
            done = watch.wait_count(n, timeout)
            elapsed = time.monotonic() - t0
        _wait_quiet(bench, quiet=3.0, timeout=20.0)
        calls = bench.celigo.requests[celigo_mark:]
        return {
            "n": n,
            "all_observed": done,
            "observed": len(watch.first),
            "time_to_all_observed_s": round(elapsed, 2),
            "rss_mib_0": round(rss_empty, 1),
            f"rss_mib_{n}": round(rss_mib(bench.pid), 1),
            "api_requests": _summary(bench.operator_requests(mark), n),
            "celigo_calls": len(calls),
            "celigo_429": sum(1 for r in calls if r.status == 429),
        }
