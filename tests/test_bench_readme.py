"""The README's Performance section is exactly what the committed benchmark results render to, and those
results come from the real control plane."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from benchmarks import report

ROOT = Path(__file__).resolve().parents[1]


def _results() -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())


def test_readme_table_matches_the_committed_results() -> None:
    results = _results()
    readme = (ROOT / "README.md").read_text()
    assert report.markdown(results["table"]).strip() in readme, (
        "README.md's performance table differs from benchmarks/results/latest.json: "
        "run `python -m benchmarks.report --readme`"
    )
    # The table is recomputed from the raw figures, not hand-edited in the JSON either.
    assert report.rows(results) == results["table"]
    # The whole section (what was measured where, the machine and its load) is generated from the JSON.
    assert report.readme_section(results) in readme


def test_results_are_from_the_real_control_plane_with_the_load_noted() -> None:
    results = _results()
    machine = results["machine"]
    assert machine["kubernetes"].startswith("v1."), "figures must come from the real kube-apiserver"
    assert len(machine["load_before"]) == 3 and len(machine["load_after"]) == 3
    assert "real control plane" in report.readme_section(results)
    for scenario in ("floor", "kopf", "operator", "latency"):
        assert scenario in results, f"the committed run lacks the {scenario} scenario"


def test_a_missed_goal_shows_as_not_met() -> None:
    results = copy.deepcopy(_results())
    results["operator"]["convergence"]["time_s"] = results["kopf"]["time_s"] * 2
    results["operator"]["rss_mib_empty"] = 500.0
    rows = {row[0]: row for row in report.rows(results)}
    convergence = next(r for m, r in rows.items() if m.endswith("minimal kopf operator"))
    assert convergence[2].endswith("= 2x") and convergence[3] == "**no**"
    assert rows["operator RSS before the first resource"][3] == "**no**"


def test_plot_is_committed_next_to_the_json() -> None:
    png = ROOT / "benchmarks" / "results" / "latest.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "benchmarks/results/latest.png" in (ROOT / "README.md").read_text()
