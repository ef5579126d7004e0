"""`make bench`: every figure of the benchmark issue in one bounded run; prints the table and writes
benchmarks/results/latest.json (and latest.png when matplotlib is installed).

Everything runs on loopback against the Kubernetes API emulator and the fake Celigo, with the real operator
process configured through its documented CELIGO_OPERATOR_* environment. Each scenario has its own
timeout, so the run always ends by itself.
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
from .env import EMULATOR_SETTINGS, ROOT

RESULTS = Path(__file__).resolve().parent / "results"
#: The CRD refuses healthCheck.interval below 30s at admission, so the idle figures use 30s, not 15s.
HEALTH_INTERVAL = "30s"


def machine() -> dict[str, Any]:
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    commit = commit or os.environ.get("BENCH_COMMIT", "")
    import kopf

    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kopf": kopf.__version__ if hasattr(kopf, "__version__") else "",
        "commit": commit,
        "load_before": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--sizes", default="100,200", help="scale-up sizes; the first also runs idle+rotation")
    parser.add_argument("--watched", type=int, default=1000, help="resources watched for the memory figure")
    parser.add_argument("--per-namespace", type=int, default=10, help="resources per namespace")
    parser.add_argument("--timeout", type=float, default=110.0, help="per scale-up/memory wait, seconds")
    parser.add_argument("--tick", type=float, default=30.0, help="CELIGO_OPERATOR_TICK_INTERVAL (default 30)")
    parser.add_argument("--idle-windows", type=int, default=2, help="health intervals the idle window spans")
    parser.add_argument("--users", type=int, default=50_000, help="users in the Celigo inventory figure")
    parser.add_argument("--celigo-latency", type=float, default=0.05, help="fake Celigo per-request latency")
    parser.add_argument("--profile", choices=("cpu", "mem"),
                        help="only: one scale-up of the first size with the operator under cProfile/tracemalloc")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/latest.png go")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    env = {"CELIGO_OPERATOR_TICK_INTERVAL": f"{args.tick:g}", "CELIGO_OPERATOR_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="celigo-bench-"))
    if args.profile:
        args.out.mkdir(parents=True, exist_ok=True)
        out = args.out / ("operator.prof" if args.profile == "cpu" else "operator-memory.txt")
        out.unlink(missing_ok=True)
        try:
            result = scenarios.scale_up(workdir, sizes[0], env, per_namespace=args.per_namespace,
                                        timeout=args.timeout, profile=[f"--{args.profile}", str(out)])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(json.dumps(result, indent=2))
        print(f"profile: {out if args.profile == 'mem' else out.with_suffix('.txt')}")
        return 0
    results: dict[str, Any] = {
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "config": {
            "tick_interval_s": args.tick,
            "health_interval": HEALTH_INTERVAL,
            "per_namespace": args.per_namespace,
            "emulator": {"rollout_delay_s": EMULATOR_SETTINGS.rollout_delay,
                         "gc_interval_s": EMULATOR_SETTINGS.gc_interval},
            "operator_env": env,
            "celigo_latency_s": args.celigo_latency,
        },
        "scale_up": [],
    }

    def step(what: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {what}", file=sys.stderr, flush=True)

    try:
        step(f"steady state: {sizes[0]} resources, idle over {args.idle_windows}x{HEALTH_INTERVAL}, rotation")
        steady = scenarios.steady_state(workdir, sizes[0], env, per_namespace=args.per_namespace,
                                        interval=HEALTH_INTERVAL, interval_s=30.0, tick_s=args.tick,
                                        windows=args.idle_windows)
        results["idle"], results["rotation"] = steady["idle"], steady["rotation"]
        results["memory"] = dict(steady["memory"])
        for i, n in enumerate(sizes):
            step(f"floor: {n} resources by a bare client loop")
            fl = scenarios.floor(workdir, n, per_namespace=args.per_namespace)
            if i == 0:
                op = steady["scale"]
            else:
                step(f"scale-up: {n} resources")
                op = scenarios.scale_up(workdir, n, env, per_namespace=args.per_namespace, timeout=args.timeout)
                results["memory"][f"rss_mib_{n}"] = op["rss_mib_ready"]
            ratio = round(op["time_to_all_ready_s"] / fl["time_to_all_ready_s"], 2)
            results["scale_up"].append({"n": n, "operator": op, "floor": fl, "ratio": ratio})
        if args.watched:
            step(f"memory: {args.watched} resources watched")
            watched = scenarios.watched_memory(workdir, args.watched, env, per_namespace=args.per_namespace,
                                               timeout=args.timeout)
            results["watched"] = watched
            results["memory"][f"rss_mib_{args.watched}"] = watched[f"rss_mib_{args.watched}"]
        step(f"celigo client: inventory of {args.users} users")
        results["celigo"] = {"inventory": celigo_bench.inventory(args.users, args.celigo_latency)}
        step("celigo client: 1000 health checks on one account")
        results["celigo"]["burst"] = celigo_bench.rate_limit_burst(1000)
    except BaseException:
        # Keep what was measured (e.g. after Ctrl-C): it is often what explains the failure.
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "partial.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"partial results in {args.out / 'partial.json'}", file=sys.stderr)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results["duration_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_after"] = os.getloadavg()[0]
    table = report.rows(results)
    results["table"] = table
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    why_not = report.plot(results, args.out / "latest.png")
    print(report.markdown(table))
    m = results["machine"]
    print(f"\n{m['nproc']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; {results['duration_s']} s; "
          f"wrote {args.out / 'latest.json'}" + (f"; {why_not}" if why_not else f" and {args.out / 'latest.png'}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
