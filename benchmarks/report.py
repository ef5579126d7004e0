"""Results -> the goal table (measure, goal, measured, met) printed by `make bench` and embedded in the README,
the README's Performance section, and the plot.

The table rows are computed here once and stored in latest.json as `table`, so the README can be checked
against the JSON row by row (tests/test_bench_readme.py).

    python -m benchmarks.report --readme    # rewrite README "## Performance" from results/latest.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

HEADER = ("Measure", "Goal", "Measured", "Met")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
README = ROOT / "README.md"
NA = "n/a"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return NA
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _verbs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per figure of the goal table: [measure, goal, measured, met]."""
    cfg = results["config"]
    n = cfg["n"]
    fl, kf, op = results.get("floor"), results.get("kopf"), results.get("operator")
    lat = results.get("latency")
    out: list[list[str]] = []

    op_s = op["convergence"]["time_s"] if op else None
    kf_s, fl_s = (kf or {}).get("time_s"), (fl or {}).get("time_s")
    vs_kopf, vs_floor = _ratio(op_s, kf_s), _ratio(op_s, fl_s)
    out.append([f"{n} connectors created at once (8 threads) → all Reconciled + CredentialsValid: operator / "
                "minimal kopf operator", "≤ 1.2x",
                f"{_fmt(op_s, ' s')} / {_fmt(kf_s, ' s')} = {_fmt(vs_kopf, 'x')}",
                _met(None if vs_kopf is None else vs_kopf <= 1.2)])
    out.append(["same: operator / bare-client floor (CR, Secret, Deployment, status patch)", "report",
                f"{_fmt(op_s, ' s')} / {_fmt(fl_s, ' s')} = {_fmt(vs_floor, 'x')}", "—"])
    if op:
        conv = op["convergence"]["requests"]["per_resource"]
        ready = op["requests_until_ready"]["per_resource"]
        extra = f"; minimal kopf {_fmt(kf['requests']['per_resource'])}" if kf else ""
        extra += f"; floor {_fmt(fl['requests']['per_resource'])}" if fl else ""
        out.append(["API requests per resource to converge (audit log, all verbs; until all Ready and quiet)",
                    "≤ 8", f"{_fmt(conv)} ({_fmt(ready)} until all Ready){extra}", _met(ready <= 8)])
        idle = op["idle"]
        out.append([f"API requests per resource per second, idle ({idle['resources']} Ready, "
                    f"{_fmt(idle['window_s'], ' s')} window); fixed traffic apart", "≤ 0.002",
                    f"{_fmt(idle['per_resource_per_s'])} ({_verbs(idle['requests'])}); fixed "
                    f"{_fmt(idle['fixed_per_s'], '/s')} ({_verbs(idle['fixed'])})",
                    _met(idle["per_resource_per_s"] <= 0.002)])
    else:
        out.append(["API requests per resource to converge", "≤ 8", NA, "—"])
        out.append(["API requests per resource per second, idle", "≤ 0.002", NA, "—"])
    if lat:
        pend = lat["pending"]
        out.append([f"same, connector pods kept Pending ({pend['resources']} connectors, "
                    f"{pend['not_ready']} not Ready, {_fmt(pend['window_s'], ' s')} window)",
                    "same as idle + watch events", f"{_fmt(pend['per_resource_per_s'])} "
                    f"({_verbs(pend['requests'])}); fixed {_fmt(pend['fixed_per_s'], '/s')} "
                    f"({_verbs(pend['fixed'])})", _met(pend["per_resource_per_s"] <= 0.002)])
        for one in lat["latency"]:
            ok = one["done"] == one["changes"] and one["p50_s"] is not None
            out.append([f"source Secret change → Deployment pod template updated, N={one['n']} "
                        f"({one['done']}/{one['changes']} changes, {one['deployments_per_change']} "
                        "Deployment(s) each): p50 / p95", "≤ 2 s / ≤ 5 s",
                        f"{_fmt(one['p50_s'], ' s')} / {_fmt(one['p95_s'], ' s')}",
                        _met(ok and one["p50_s"] <= 2.0 and one["p95_s"] <= 5.0)])
    else:
        out.append(["same, connector pods kept Pending", "same as idle + watch events", NA, "—"])
        out.append(["source Secret change → Deployment pod template updated", "≤ 2 s / ≤ 5 s", NA, "—"])
    if op:
        kopf_rss = f" (minimal kopf: {_fmt(kf['rss_mib_empty'], ' MiB')})" if kf else ""
        out.append(["operator RSS before the first resource", "≤ 100 MiB",
                    _fmt(op["rss_mib_empty"], " MiB") + kopf_rss, _met(op["rss_mib_empty"] <= 100.0)])
        kopf_rss = f" (minimal kopf at {n}: {_fmt(kf['rss_mib_converged'], ' MiB')})" if kf else ""
        out.append([f"operator RSS 60 s after {n} converged", "≤ 150 MiB",
                    _fmt(op["rss_mib_converged_60s"], " MiB") + kopf_rss,
                    _met(op["rss_mib_converged_60s"] <= 150.0)])
        out.append(["finalizers on a connector holding no ConductorOne credential", "0",
                    f"{op['finalizers']} of {n} connectors carry one", _met(op["finalizers"] == 0)])
        tk = op["takeover"]
        limit = tk["lease_duration_s"] + 10.0
        out.append([f"leader killed with {n} connectors (2 replicas): the standby applies a Secret change made "
                    "in the gap", f"≤ {_fmt(limit, ' s')} (Lease {_fmt(tk['lease_duration_s'], ' s')} + 10 s)",
                    f"{_fmt(tk['applied_s'], ' s')} (Lease taken after {_fmt(tk['lease_taken_s'], ' s')})",
                    _met(tk["applied"] and tk["applied_s"] is not None and tk["applied_s"] <= limit)])
    return out


def markdown(table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def machine_line(results: dict[str, Any]) -> str:
    """Where and under what load the figures were taken (the README states it under the table)."""
    m = results["machine"]
    before, after = m.get("load_before") or [], m.get("load_after") or []

    def load(values: list[float]) -> str:
        return " / ".join(_fmt(float(v)) for v in values) or NA

    steps = ", ".join(f"{s['step']} {_fmt(float(s['load_1min']))}" for s in m.get("load_at_steps") or [])
    return (f"Machine: {m['nproc']} CPUs, {m['memory_gib']} GiB, Python {m['python']}, kopf {m['kopf']}, "
            f"kube-apiserver {m.get('kubernetes', NA)} (commit {m['commit'] or NA}, {results['generated_at']}). "
            f"Load average (1/5/15 min) {load(before)} before the run and {load(after)} after it"
            + (f"; 1-min load as each scenario started: {steps}" if steps else "")
            + f"; the run took {_fmt(results['duration_s'], ' s')}.")


def readme_section(results: dict[str, Any]) -> str:
    """The README's whole "## Performance" section, from the results."""
    cfg = results["config"]
    n, per_ns, k8s_version = cfg["n"], cfg["per_namespace"], results["machine"].get("kubernetes", "")
    return f"""## Performance

Measured by `make bench` (`python -m benchmarks.run`) **on the real control plane**, not the emulator: etcd,
kube-apiserver and kube-controller-manager {k8s_version} started by the testkit (`celigo_testkit.controlplane`),
with the simulated node (`celigo_testkit.podsim`) binding pods and making them Ready, or keeping them
Pending where a figure asks for it. Every Deployment is real (not suspended). {n} connectors, {per_ns} per
namespace with one opted-in source Secret per namespace, are created by {cfg['writer_threads']} threads. API
request counts come from the API server's audit log, by the caller's ServiceAccount, so they do not depend
on the machine; times and memory do. The run prints this table and writes `benchmarks/results/latest.json`
(`table` holds these rows; `tests/test_bench_readme.py` checks this section against it;
`python -m benchmarks.report --readme` regenerates it) and the plot `benchmarks/results/latest.png`.

![Convergence and memory](benchmarks/results/latest.png)

{markdown(results['table'])}

{machine_line(results)} The machine is shared with other test runs: wall times vary with its load, request
counts do not.

### How each figure is measured
Each scenario gets a fresh control plane, so none inherits another's objects or backlog.
- **Convergence.** From the first create until the bench's own watch (admin user, never counted) has seen
  every connector with `Reconciled=True` and `CredentialsValid=True`. The *floor* is a bare client, 8
  threads, each doing per connector: create the CR, its credentials Secret and Deployment (built by the
  operator's own manifests code), one status patch. The *minimal kopf operator*
  (`benchmarks/kopf_minimal.py`, `kopf run --standalone -A`) does the same writes from an `on.create`
  handler with kopf's defaults (its annotation patch per object) and 8 handler threads; `--quiet` keeps
  kopf from posting its handler-log Events, which the floor does not write either. The *operator* is
  `celigo-operator run -A` configured by its `CELIGO_OPERATOR_*` environment (deploy/'s defaults:
  `MIN_READY_SECONDS` 10, tick 30 s, leader election as in `deploy/ha`), authenticated with its own
  ServiceAccount token under the RBAC of `deploy/ha`, health-checking each Secret's token against the fake
  Celigo. The floor and kopf figures are taken in the same run.
- **Requests per resource.** Every request of the operator's ServiceAccount in the audit log, from the
  first create to convergence, and to the point where every connector is also `Ready` (pods available)
  and the operator sent nothing but fixed traffic for 5 s; divided by N. Fixed traffic — Lease
  reads/renewals and watch requests (streams opened or reopened) — does not grow with N and is counted
  apart. The floor's count includes its CR creates (the others' creates are the bench's).
- **Idle.** With all {n} Ready and the second replica (a standby) running, a window of
  {_fmt(cfg['idle_window_s'], ' s')}: the operator's requests per connector per second, fixed traffic
  apart (both replicas share the ServiceAccount). The goal asks for a 3-minute window, the default
  (`--idle-window`); the whole run still fits in 15 minutes on 2 cores.
- **Pods Pending.** On the latency control plane (below): the simulated node is cordoned
  (`spec.unschedulable`, which podsim's scheduler honours) and the connectors' pods are deleted; their
  replacements stay Pending (`Unschedulable`). Once the operator sent nothing but fixed traffic for 10 s,
  a window of {_fmt(cfg['pending_window_s'], ' s')} (`--pending-window`).
- **Secret change latency.** The operator alone (one replica, deploy/'s defaults). The source Secret gets a
  new Celigo token and ConductorOne client (verified with the fake Celigo before it rolls); the time is
  until every Deployment using that Secret carries the new credentials version in its pod template, seen
  by a watch on Deployments. {cfg['changes']} changes one at a time, 1 s apart, at each N of
  {cfg['latency_sizes']} in turn (each N adds that many connectors, {per_ns} per namespace); a change
  replaces one namespace's Secret, so it touches every connector of that namespace.
- **Memory.** VmRSS of the leader process from `/proc/<pid>/status`: after startup, before the first
  connector; and {_fmt(cfg['settle_s'], ' s')} after the last connector converged.
- **Leader killed.** Two replicas with leader election (Lease 15 s); the leader gets SIGKILL, and at once
  the source Secret of one namespace is replaced. The time is from the kill until all its Deployments
  carry the new credentials version (the standby must notice the expired Lease, take it, sync its caches
  and roll the change); the time the Lease changed hands is polled every 0.5 s.
- **Finalizers.** Connectors carrying any finalizer after convergence (none holds a ConductorOne
  credential in the bench).

### Reproduce
```
make bench                  # the full run (N={n}); the one above took {_fmt(results['duration_s'] / 60.0, ' min')}
make bench BENCH_ARGS="--n 50 --latency-sizes 1,20 --changes 5 --idle-window 20 --pending-window 20"
.venv/bin/python -m benchmarks.run --only operator --n 200 --out /tmp/bench   # one scenario
.venv/bin/python -m benchmarks.run --celigo-client     # also the embedded Celigo client figures (JSON only)
```
`benchmarks/profile_operator.py` runs `celigo-operator run` unchanged under cProfile (stats on SIGUSR1) or
tracemalloc, to explain a figure.

### Limits of the measurement
- The machine is shared: the load average before and after the run is in the JSON and above; compare wall
  times between runs with that in mind.
- kube-controller-manager runs with its client rate raised to 100 requests/s (burst 200) per controller
  from the default 20/s, as large clusters do: at the default, creating ReplicaSets and Pods for {n}
  Deployments alone takes minutes, which the bench would spend waiting for the cluster. Convergence does not
  wait for pods; "all Ready" (before the idle window) does.
- The simulated node, the fake Celigo and the bench's stopwatch watches run in the bench process on the
  same 2 cores as the control plane and the process under test, in every scenario alike.
- The fake Celigo answers from the bench process; the fake's latency is 0.
"""


def rewrite_readme(results: dict[str, Any], readme: Path = README) -> None:
    text = readme.read_text()
    section = readme_section(results)
    new, count = re.subn(r"^## Performance\n.*?(?=^## )", lambda _: section + "\n", text, flags=re.S | re.M)
    if count != 1:
        raise ValueError(f"{readme} has no single '## Performance' section followed by another section")
    readme.write_text(new)


def plot(results: dict[str, Any], path: Path) -> str | None:
    """Convergence times and memory as a PNG, if matplotlib is installed; else why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (it comes with the dev extras: make venv): no PNG written"
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    n = results["config"]["n"]
    names = [("floor", "bare client"), ("kopf", "minimal kopf"), ("operator", "operator")]
    times = [((results.get(k) or {}).get("convergence") or results.get(k) or {}).get("time_s") or 0.0
             for k, _ in names]
    left.bar([label for _, label in names], times, color=["grey", "tab:blue", "tab:orange"])
    left.set(title=f"{n} connectors → Reconciled + CredentialsValid", ylabel="seconds")
    op, kf = results.get("operator") or {}, results.get("kopf") or {}
    labels = ["kopf\nempty", f"kopf\n{n}", "operator\nempty", f"operator\n{n}, +60 s"]
    values = [kf.get("rss_mib_empty") or 0.0, kf.get("rss_mib_converged") or 0.0,
              op.get("rss_mib_empty") or 0.0, op.get("rss_mib_converged_60s") or 0.0]
    right.bar(labels, values, color=["tab:blue", "tab:blue", "tab:orange", "tab:orange"])
    right.axhline(150, color="red", linestyle=":", label=f"goal at {n}")
    right.axhline(100, color="purple", linestyle=":", label="goal empty")
    right.set(title="Resident memory", ylabel="MiB")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--readme", action="store_true", help="rewrite README's Performance section")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    results["table"] = rows(results)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results["table"]))
    if args.readme:
        rewrite_readme(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
