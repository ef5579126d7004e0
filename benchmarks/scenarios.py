"""The scenarios of the goal table, each on its own fresh control plane (bench_world) so one does not inherit
another's objects or backlog. Each returns plain dicts that go into results/latest.json unchanged.

- floor: a bare client doing the writes (CR, Secret, Deployment, status patch per resource, 8 threads);
- kopf_minimal: benchmarks/kopf_minimal.py doing the same writes;
- operator: the operator process (on the image's packages: env.image_python) with deploy/'s RBAC and its
  ServiceAccount token, two replicas with leader election (the second started once the first converged): convergence, requests per resource, RSS, idle
  rate, and the leader killed with a change made in the gap;
- latency: a source Secret change until the Deployment's pod template carries the new (verified)
  credentials, at N=1 and N=100; then the request rate while those connectors' pods stay Pending.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client as k8s

from celigo_operator import api
from celigo_testkit.harness import OperatorProcess, wait_for

from .env import (
    BENCH_NS,
    OPERATOR_SA,
    Bench,
    ImageOperator,
    KopfMinimal,
    Watcher,
    api_client,
    bench_world,
    converged,
    is_fixed,
    rss_mib,
    sa_user,
    summary,
)
from .writes import patch_status, write_children

OPERATOR_USER = sa_user(*OPERATOR_SA)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); what "p95 of N samples" means to most readers."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return round(ordered[rank - 1], 2)


def _pid(proc: OperatorProcess) -> int:
    assert proc.proc is not None
    return proc.proc.pid


def _converge(bench: Bench, keys: list[str], create: Callable[[list[str]], object], timeout: float,
              user: str) -> dict[str, Any]:
    """Run `create(keys)` and time until every key is Reconciled and CredentialsValid (watched)."""
    n = len(keys)
    mark = bench.audit_mark()
    with bench.watch_connectors() as watch:
        t0 = time.monotonic()
        create(keys)
        created_s = time.monotonic() - t0
        done = watch.wait(lambda: watch.count("converged") >= n, timeout)
        times = sorted(t - t0 for (_, s), t in watch.first.items() if s == "converged")
    until = bench.audit_mark()
    return {
        "n": n,
        "all_converged": done,
        "converged": len(times),
        "created_s": round(created_s, 2),
        "time_s": round(times[-1], 2) if done and times else None,
        "requests": summary(bench.requests(user, mark, until), n),
        "t0": t0,
        "_marks": (mark, until),
    }


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_") and k != "t0"}


# ---------------------------------------------------------------------------------------- the baselines
def floor(workdir: Path, n: int, *, per_namespace: int, timeout: float) -> dict[str, Any]:
    with bench_world(workdir / "floor") as bench:
        token, _ = bench.service_account("floor")
        client = api_client(bench.cp, token, "celigo-bench-floor")
        core, apps, custom = k8s.CoreV1Api(client), k8s.AppsV1Api(client), k8s.CustomObjectsApi(client)
        keys = bench.layout("floor", n, per_namespace)

        def one(key: str) -> None:
            ns, name = key.split("/")
            obj = custom.create_namespaced_custom_object(api.GROUP, api.VERSION, ns, api.PLURAL,
                                                         bench.connector_body(name))
            write_children(core, apps, ns, name, obj["metadata"]["uid"])
            patch_status(custom, ns, name, int(obj["metadata"].get("generation") or 1))

        try:
            return _public(_converge(bench, keys, lambda ks: list(bench.pool.map(one, ks)), timeout,
                                     sa_user(BENCH_NS, "floor")))
        finally:
            client.close()


def kopf_minimal(workdir: Path, n: int, *, per_namespace: int, timeout: float) -> dict[str, Any]:
    with bench_world(workdir / "kopf") as bench:
        user = sa_user(BENCH_NS, "kopf-minimal")
        _, kubeconfig = bench.service_account("kopf-minimal")
        keys = bench.layout("kopf", n, per_namespace)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")} | {"KUBECONFIG": str(kubeconfig)}
        mark = bench.audit_mark()
        proc = bench.start_process(KopfMinimal(env, bench.workdir / "kopf.log"))
        startup = bench.wait_watching(user, api.PLURAL, mark, proc)
        time.sleep(2.0)
        rss0 = rss_mib(_pid(proc))
        result = _public(_converge(bench, keys, bench.create_connectors, timeout, user))
        result.update(startup_s=round(startup, 2), rss_mib_empty=round(rss0, 1),
                      rss_mib_converged=round(rss_mib(_pid(proc)), 1))
        return result


# ------------------------------------------------------------------------------------------ the operator
def _window(bench: Bench, seconds: float, resources: int) -> dict[str, Any]:
    """The operator's requests over `seconds` of nothing changing: per resource per second, fixed traffic
    (Lease renewals, watches (re)opened) apart."""
    mark = bench.audit_mark()
    t0 = time.monotonic()
    time.sleep(seconds)
    until = bench.audit_mark()
    window = time.monotonic() - t0
    counts = bench.requests(OPERATOR_USER, mark, until)
    scaling = Counter({k: v for k, v in counts.items() if not is_fixed(k)})
    fixed = Counter({k: v for k, v in counts.items() if is_fixed(k)})
    return {
        "resources": resources,
        "window_s": round(window, 1),
        "requests": dict(sorted(scaling.items())),
        "fixed": dict(sorted(fixed.items())),
        "per_resource_per_s": round(sum(scaling.values()) / resources / window, 5),
        "fixed_per_s": round(sum(fixed.values()) / window, 3),
    }


def _ready(obj: dict[str, Any]) -> str | None:
    return "ready" if converged(obj) and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or []
    ) else None


def operator(workdir: Path, n: int, *, per_namespace: int, timeout: float, settle: float, idle_window: float,
             takeover_timeout: float) -> dict[str, Any]:
    with bench_world(workdir / "operator") as bench:
        kubeconfig = bench.install_operator_rbac()
        keys = bench.layout("op", n, per_namespace)
        ha = {"CELIGO_OPERATOR_LEADER_ELECTION": "true"}
        mark = bench.audit_mark()
        leader = bench.start_process(ImageOperator(
            bench.operator_env(kubeconfig, CELIGO_OPERATOR_IDENTITY="replica-a", **ha), bench.workdir / "a.log"))
        startup = bench.wait_watching(OPERATOR_USER, api.PLURAL, mark, leader)
        time.sleep(2.0)
        out: dict[str, Any] = {"startup_s": round(startup, 2), "rss_mib_empty": round(rss_mib(_pid(leader)), 1)}

        with bench.watch_connectors(_ready) as ready:
            conv = _converge(bench, keys, bench.create_connectors, timeout, OPERATOR_USER)
            out["convergence"] = _public(conv)
            # RSS 60 s after convergence; meanwhile the pods come up and Ready is reported.
            wait = conv["t0"] + (conv["time_s"] or 0.0) + settle - time.monotonic()
            time.sleep(max(0.0, wait))
            out["rss_mib_converged_60s"] = round(rss_mib(_pid(leader)), 1)
            all_ready = ready.wait(lambda: ready.count("ready") >= n, timeout)
            out["all_ready"] = all_ready
            out["all_ready_s"] = round(max(ready.first.values()) - conv["t0"], 2) if all_ready else None
        out["quiet_wait_s"] = round(bench.wait_quiet(OPERATOR_USER, quiet=5.0, timeout=60.0), 1)
        until = bench.audit_mark()
        out["requests_until_ready"] = summary(bench.requests(OPERATOR_USER, conv["_marks"][0], until), n)
        out["rss_mib_ready"] = round(rss_mib(_pid(leader)), 1)

        # The second replica, a standby: it only polls the Lease (fixed traffic in the idle window).
        standby = bench.start_process(ImageOperator(
            bench.operator_env(kubeconfig, CELIGO_OPERATOR_IDENTITY="replica-b", **ha), bench.workdir / "b.log"))
        out["standby_up_s"] = round(_wait_healthy(standby), 1)
        bench.wait_quiet(OPERATOR_USER, quiet=5.0, timeout=60.0)  # its startup requests are not idle traffic
        out["idle"] = _window(bench, idle_window, n)
        out["finalizers"] = sum(1 for o in _connectors(bench) if o["metadata"].get("finalizers"))
        out["leader_before_kill"] = bench.lease_holder()
        out["takeover"] = _takeover(bench, leader, standby, keys, takeover_timeout)
        return out


def _wait_healthy(proc: OperatorProcess, timeout: float = 120.0) -> float:
    """Until the process answers its liveness endpoint (a standby serves it while it waits for the Lease)."""
    url = proc.env["CELIGO_OPERATOR_LIVENESS_ENDPOINT"]
    start = time.monotonic()

    def up() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout, 0.5, what=f"{url} answering")
    return time.monotonic() - start


def _takeover(bench: Bench, leader: OperatorProcess, standby: OperatorProcess, keys: list[str],
              timeout: float) -> dict[str, Any]:
    """SIGKILL the leader, change a source Secret in the gap; until the standby rolled it."""
    ns = keys[0].split("/")[0]
    names = {k for k in keys if k.startswith(ns + "/")}
    with bench.watch_deployments() as deps:
        deps.wait(lambda: len([k for k in deps.latest if k.split("/")[0] == ns]) >= len(names), 30)
        old = {k: v for k, v in deps.latest.items() if k.split("/")[0] == ns}
        t0 = time.monotonic()
        os.kill(_pid(leader), signal.SIGKILL)
        bench.replace_source_secret(ns)
        holder_at = None
        while time.monotonic() - t0 < timeout and holder_at is None:
            if bench.lease_holder() == "replica-b":
                holder_at = time.monotonic() - t0
            else:
                time.sleep(0.5)
        done = deps.wait_changed(old, max(1.0, timeout - (time.monotonic() - t0)))
        applied = [t - t0 for (k, s), t in deps.first.items() if k in old and s != old[k]]
    return {
        "deployments": len(old),
        "applied": done,
        "lease_taken_s": round(holder_at, 2) if holder_at is not None else None,
        "applied_s": round(max(applied), 2) if done and applied else None,
        "lease_duration_s": 15.0,
        "standby_running": standby.running,
    }


# -------------------------------------------------------------------------------- latency and Pending
def _changes(bench: Bench, deps: Watcher, spaces: list[str], changes: int, timeout: float) -> dict[str, Any]:
    """`changes` source Secret changes, one at a time, round-robin over `spaces`: seconds until every
    Deployment of the namespace carries a new template version."""
    samples: list[float] = []
    for i in range(changes):
        ns = spaces[i % len(spaces)]
        old = {k: v for k, v in deps.latest.items() if k.split("/")[0] == ns}
        t0 = time.monotonic()
        bench.replace_source_secret(ns)
        if not deps.wait_changed(old, timeout):
            break
        samples.append(max(deps.first[(k, deps.latest[k])] for k in old) - t0)
        time.sleep(1.0)
    return {
        "changes": changes,
        "done": len(samples),
        "deployments_per_change": len(old) if changes else 0,
        "p50_s": percentile(samples, 50),
        "p95_s": percentile(samples, 95),
        "max_s": round(max(samples), 2) if samples else None,
    }


def latency_and_pending(workdir: Path, sizes: list[int], *, per_namespace: int, changes: int, timeout: float,
                        pending_window: float) -> dict[str, Any]:
    """One operator (deploy/'s defaults: one replica), first with 1 connector, then with `sizes[1]` more."""
    with bench_world(workdir / "latency") as bench:
        kubeconfig = bench.install_operator_rbac()
        mark = bench.audit_mark()
        proc = bench.start_process(ImageOperator(bench.operator_env(kubeconfig), bench.workdir / "op.log"))
        bench.wait_watching(OPERATOR_USER, api.PLURAL, mark, proc)
        out: dict[str, Any] = {"latency": []}
        total = 0
        with bench.watch_deployments() as deps:
            for n in sizes:
                keys = bench.layout(f"lat{n}", n, per_namespace)
                conv = _converge(bench, keys, bench.create_connectors, timeout, OPERATOR_USER)
                total += n
                deps.wait(lambda want=total: len(deps.latest) >= want, timeout)
                bench.wait_quiet(OPERATOR_USER, quiet=3.0, timeout=60.0)
                spaces = sorted({k.split("/")[0] for k in keys})
                out["latency"].append({"n": n, "resources": total, "converged_s": conv["time_s"],
                                       **_changes(bench, deps, spaces, changes, timeout=60.0)})
        # Pending: cordon the node and drain it; the Deployments' new pods find no room.
        bench.sim.cordon()
        for ns in _namespaces(bench):
            if ns.startswith("lat"):
                bench.core.delete_collection_namespaced_pod(ns)
        settle = bench.wait_quiet(OPERATOR_USER, quiet=10.0, timeout=120.0)
        not_ready = _count_not_ready(bench)
        out["pending"] = {"settle_s": round(settle, 1), "not_ready": not_ready,
                          **_window(bench, pending_window, total)}
        return out


def _namespaces(bench: Bench) -> list[str]:
    return [ns.metadata.name for ns in bench.core.list_namespace().items]


def _connectors(bench: Bench) -> list[dict[str, Any]]:
    return list(bench.custom.list_cluster_custom_object(api.GROUP, api.VERSION, api.PLURAL)["items"])


def _count_not_ready(bench: Bench) -> int:
    return sum(1 for o in _connectors(bench) if _ready(o) is None)

