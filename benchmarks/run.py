"""`make bench`: the goal table of the event-driven issue in one bounded run on the real control plane
(etcd + kube-apiserver + kube-controller-manager from celigo_testkit.controlplane, pods made Ready or kept
Pending by celigo_testkit.podsim); prints the table and writes benchmarks/results/latest.json (and
latest.png when matplotlib is installed).

Four fresh control planes, one after the other: the bare-client floor, the minimal kopf operator, the
operator at N (convergence, requests, RSS, idle, leader kill), and the operator at N=1 then N=100 (Secret
change latency, then pods kept Pending). Request counts come from the API server's audit log.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import celigo_bench, report, scenarios
from .env import ROOT

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip() or os.environ.get("BENCH_COMMIT", "")
    import kopf

    from celigo_testkit.controlplane import K8S_VERSION

    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kopf": getattr(kopf, "__version__", ""),
        "kubernetes": K8S_VERSION,
        "commit": commit,
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="connectors created at once (convergence, idle, kill)")
    parser.add_argument("--latency-sizes", default="1,100", help="connectors for the Secret-change latency")
    parser.add_argument("--changes", type=int, default=20, help="Secret changes per latency size")
    parser.add_argument("--per-namespace", type=int, default=10, help="connectors per namespace (one Secret each)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per convergence wait, seconds")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after convergence for the RSS figure")
    parser.add_argument("--idle-window", type=float, default=180.0, help="idle window with all Ready, seconds")
    parser.add_argument("--pending-window", type=float, default=180.0, help="window with pods Pending, seconds")
    parser.add_argument("--takeover-timeout", type=float, default=180.0, help="leader kill: wait for the change")
    parser.add_argument("--only", choices=("floor", "kopf", "operator", "latency"), action="append",
                        help="run only these scenarios (repeatable; the table shows n/a for the rest)")
    parser.add_argument("--celigo-client", action="store_true",
                        help="also the embedded Celigo client figures (inventory, rate-limit burst; not in the table)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/latest.png go")
    args = parser.parse_args(argv)
    only = set(args.only or ("floor", "kopf", "operator", "latency"))
    sizes = [int(s) for s in args.latency_sizes.split(",") if s]
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="celigo-bench-"))
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "config": {"n": args.n, "per_namespace": args.per_namespace, "latency_sizes": sizes,
                   "changes": args.changes, "settle_s": args.settle, "idle_window_s": args.idle_window,
                   "pending_window_s": args.pending_window, "writer_threads": 8},
    }

    def step(what: str) -> None:
        results["machine"].setdefault("load_at_steps", []).append(
            {"step": what.split(":")[0], "at_s": round(time.monotonic() - started, 1),
             "load_1min": round(os.getloadavg()[0], 2)})
        print(f"[{time.monotonic() - started:6.1f}s] {what} (load {os.getloadavg()[0]:.2f})", file=sys.stderr,
              flush=True)

    try:
        if "floor" in only:
            step(f"floor: {args.n} connectors by a bare client, 8 threads")
            results["floor"] = scenarios.floor(workdir, args.n, per_namespace=args.per_namespace,
                                               timeout=args.timeout)
        if "kopf" in only:
            step(f"minimal kopf operator: {args.n} connectors")
            results["kopf"] = scenarios.kopf_minimal(workdir, args.n, per_namespace=args.per_namespace,
                                                     timeout=args.timeout)
        if "operator" in only:
            step(f"operator: {args.n} connectors, idle {args.idle_window:g} s, leader kill")
            results["operator"] = scenarios.operator(
                workdir, args.n, per_namespace=args.per_namespace, timeout=args.timeout, settle=args.settle,
                idle_window=args.idle_window, takeover_timeout=args.takeover_timeout)
        if "latency" in only:
            step(f"latency: the operator, Secret changes at N={sizes}, then pods Pending {args.pending_window:g} s")
            results["latency"] = scenarios.latency_and_pending(
                workdir, sizes, per_namespace=args.per_namespace, changes=args.changes, timeout=args.timeout,
                pending_window=args.pending_window)
        if args.celigo_client:
            step("celigo client: inventory of 50000 users, 1000 health checks on one account")
            results["celigo"] = {"inventory": celigo_bench.inventory(), "burst": celigo_bench.rate_limit_burst()}
    except BaseException:
        # Keep what was measured (e.g. after Ctrl-C): it is often what explains the failure.
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "partial.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"partial results in {args.out / 'partial.json'}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results["duration_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["table"] = report.rows(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    why_not = report.plot(results, args.out / "latest.png")
    print(report.markdown(results["table"]))
    print("\n" + report.machine_line(results))
    print(f"wrote {args.out / 'latest.json'}" + (f"; {why_not}" if why_not else f" and {args.out / 'latest.png'}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
