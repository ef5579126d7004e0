"""The order in which pytest-xdist hands out test files (`make test`: `--dist loadfile`, each file whole on one
worker): the longest first, so that the last files handed out are short ones and no worker is still running a
long e2e file while the others are idle. xdist's own order (`--loadscope-reorder`) counts tests per file, and
this suite's long files are the e2e ones with a test or two.

The seconds per file are a recorded run's (tests/durations.json, written by `python tests/support/schedule.py
REPORT.xml` from a `pytest --junitxml=REPORT.xml` run); a file not recorded there goes first, as if long. Only
the order changes: every file still runs whole, on one worker, with its module fixtures.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest

DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"


def recorded(path: Path = DURATIONS) -> dict[str, float]:
    return {str(k): float(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> None:
    """Reorder `items` in place: files by recorded seconds, most first (unrecorded ones before all); the tests of
    a file keep their order and stay together."""
    files: dict[str, int] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], len(files))

    def key(item: pytest.Item) -> tuple[float, int]:
        name = item.nodeid.split("::", 1)[0]
        return (-seconds.get(name, float("inf")), files[name])

    items.sort(key=key)


def per_file(report: Path, root: Path) -> dict[str, float]:
    """Seconds per test file from a JUnit XML report (setup, call and teardown of every test, as pytest writes
    them); a testcase's classname is its module's dotted path, maybe followed by a class name."""
    seconds: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = (case.get("classname") or "").split(".")
        while parts and not (root / Path(*parts).with_suffix(".py")).is_file():
            parts.pop()
        if parts:
            name = Path(*parts).with_suffix(".py").as_posix()
            seconds[name] = seconds.get(name, 0.0) + float(case.get("time") or 0)
    return {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}


def main(argv: Sequence[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python tests/support/schedule.py REPORT.xml   (writes tests/durations.json)")
    DURATIONS.write_text(json.dumps(per_file(Path(argv[0]), DURATIONS.parents[1]), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
