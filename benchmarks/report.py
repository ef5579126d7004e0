"""Results -> the table (goal, measured, met) printed by `make bench` and embedded in the docs, and the plot.

The table rows are computed here once and stored in latest.json as `table`, so the README can be checked
against the JSON row by row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = ("Measure", "Goal", "Measured", "Met")


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def rows(results: dict[str, Any]) -> list[list[str]]:
    """One row per figure: [measure, goal, measured, met]."""
    out: list[list[str]] = []
    cfg = results["config"]
    for scale in results["scale_up"]:
        n, op, fl = scale["n"], scale["operator"], scale["floor"]
        ratio = scale.get("ratio")
        out.append([f"Scale-up N={n}: all Ready (operator / floor)", "report ratio",
                    f"{_fmt(op['time_to_all_ready_s'], ' s')} / {_fmt(fl['time_to_all_ready_s'], ' s')}"
                    f" = {_fmt(ratio, 'x')}", _met(None if op["all_ready"] else False)])
        out.append([f"Scale-up N={n}: apply-to-Ready p50 / p95", "report",
                    f"{_fmt(op['latency_p50_s'], ' s')} / {_fmt(op['latency_p95_s'], ' s')}", "—"])
        out.append([f"Scale-up N={n}: API requests per resource (floor)", "report",
                    f"{_fmt(op['api_requests']['per_resource'])} ({_fmt(fl['writes']['per_resource'])})", "—"])
    idle = results["idle"]
    per = f"per {_fmt(idle['health_interval_s'], ' s')} interval"
    out += [
        [f"Idle ({idle['resources']} Ready): writes to children", "0", _fmt(idle["child_writes"]),
         _met(idle["child_writes"] == 0)],
        ["Idle: status writes per resource per hour", "≤ 1", _fmt(idle["status_writes_per_resource_hour"]),
         _met(idle["status_writes_per_resource_hour"] <= 1.0)],
        [f"Idle: API reads per resource {per}", "report", _fmt(idle["reads_per_resource_interval"]), "—"],
        ["Idle: Celigo calls per health check", "≤ 3 + pages", _fmt(idle["celigo_calls_per_check"]),
         _met(None if idle["celigo_calls_per_check"] is None else idle["celigo_calls_per_check"] <= 3.0)],
    ]
    mem = results["memory"]
    for key in sorted((k for k in mem if k.startswith("rss_mib_")), key=lambda k: int(k.rsplit("_", 1)[1])):
        n = int(key.rsplit("_", 1)[1])
        goal = "≤ 150 MiB" if n >= 1000 else "report"
        out.append([f"Operator RSS, {n} resources watched", goal, _fmt(mem[key], " MiB"),
                    _met(mem[key] <= 150.0) if n >= 1000 else "—"])
    inv = results["celigo"]["inventory"]
    out += [
        [f"Celigo inventory {inv['users']} users, pages of {inv['page_size']}: client.inventory() / raw httpx",
         "≤ 1.2x", f"{_fmt(inv['client_inventory_s'], ' s')} / {_fmt(inv['raw_httpx_s'], ' s')} = "
         f"{_fmt(inv['client_inventory_ratio'], 'x')}", _met(inv["client_inventory_ratio"] <= 1.2)],
        ["Celigo inventory: operator health check (tokenInfo + users + integrations) / raw", "≤ 1.2x",
         f"{_fmt(inv['health_check_s'], ' s')} = {_fmt(inv['health_check_ratio'], 'x')}",
         _met(inv["health_check_ratio"] <= 1.2)],
    ]
    burst = results["celigo"]["burst"]
    complete = burst["checks_ok"] == burst["connectors"]
    out.append([f"{burst['connectors']} health checks at once, one account (bucket 1000, 300/s)",
                "all done, 0 429s", f"{burst['checks_ok']}/{burst['connectors']} done in "
                f"{_fmt(burst['duration_s'], ' s')}, {burst['celigo_429']} 429s, {burst['celigo_calls']} calls "
                f"(bucket floor {_fmt(burst['bucket_floor_s'], ' s')})",
                _met(complete and burst["celigo_429"] == 0)])
    watched = results.get("watched")
    if watched:
        out.append([f"Operator creating {watched['n']} resources on one account", "all handled, 0 429s",
                    f"{watched['observed']}/{watched['n']} handled in "
                    f"{_fmt(watched['time_to_all_observed_s'], ' s')}, {watched['celigo_429']} 429s",
                    _met(watched["all_observed"] and watched["celigo_429"] == 0)])
    rot = results["rotation"]
    for key in ("one", "many"):
        r = rot[key]
        out.append([f"Rotation, {r['resources']} resource(s) changed together: Secret change → new pods available",
                    f"≤ 60 s (tick {_fmt(cfg['tick_interval_s'], ' s')})", _fmt(r["all_s"], " s"),
                    _met(r["all_s"] is not None and r["all_s"] <= 60.0)])
    return out


def rerender(path: Path) -> list[list[str]]:
    """Recompute the `table` of a results file from its measurements (after a change of wording here)."""
    results = json.loads(path.read_text())
    results["table"] = rows(results)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return list(results["table"])


def markdown(table: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> str | None:
    """Scale-up (operator vs floor) and memory as a PNG, if matplotlib is installed; else why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (it comes with the dev extras: make venv): no PNG written"
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    scale = results["scale_up"]
    ns = [s["n"] for s in scale]
    left.plot(ns, [s["operator"]["time_to_all_ready_s"] for s in scale], "o-", label="operator")
    left.plot(ns, [s["floor"]["time_to_all_ready_s"] for s in scale], "s--", label="floor (bare client loop)")
    left.set(title="Scale-up: time until all Ready", xlabel="resources created at once", ylabel="seconds")
    left.legend()
    mem = results["memory"]
    points = sorted((int(k.rsplit("_", 1)[1]), v) for k, v in mem.items() if k.startswith("rss_mib_"))
    right.plot([p[0] for p in points], [p[1] for p in points], "o-", label="operator RSS")
    right.axhline(150, color="red", linestyle=":", label="goal at 1000")
    right.set(title="Memory", xlabel="resources watched", ylabel="MiB")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None
