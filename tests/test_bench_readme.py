"""The README's performance table is exactly the one the committed benchmark results render to."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import report

ROOT = Path(__file__).resolve().parents[1]


def test_readme_table_matches_the_committed_results() -> None:
    results = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    table = report.markdown(results["table"]).strip()
    assert table in (ROOT / "README.md").read_text(), (
        "README.md's performance table differs from benchmarks/results/latest.json: copy it from `make bench`"
    )
    # The table is recomputed from the raw figures, not hand-edited in the JSON either.
    assert report.rows(results) == results["table"]


def test_plot_is_committed_next_to_the_json() -> None:
    png = ROOT / "benchmarks" / "results" / "latest.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "benchmarks/results/latest.png" in (ROOT / "README.md").read_text()
