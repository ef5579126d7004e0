"""The order `make test` hands test files to the xdist workers (tests/support/schedule.py): longest recorded
first, unrecorded files before all, each file's tests together and in their own order; and the seconds per
file read from a JUnit report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.schedule import longest_first, per_file


@dataclass
class Item:
    nodeid: str


def order(nodeids: list[str], seconds: dict[str, float]) -> list[str]:
    items: list[Any] = [Item(n) for n in nodeids]
    longest_first(items, seconds)
    return [i.nodeid for i in items]


def test_files_go_longest_first_unrecorded_ones_before_all_and_tests_keep_their_order() -> None:
    nodeids = [
        "tests/unit/test_a.py::test_1",
        "tests/e2e/test_b.py::test_1",
        "tests/unit/test_a.py::test_2",
        "tests/e2e/test_b.py::test_2[x]",
        "tests/new/test_c.py::test_1",
        "tests/e2e/test_d.py::Test::test_1",
    ]
    seconds = {"tests/unit/test_a.py": 0.5, "tests/e2e/test_b.py": 60.0, "tests/e2e/test_d.py": 12.0}
    assert order(nodeids, seconds) == [
        "tests/new/test_c.py::test_1",
        "tests/e2e/test_b.py::test_1",
        "tests/e2e/test_b.py::test_2[x]",
        "tests/e2e/test_d.py::Test::test_1",
        "tests/unit/test_a.py::test_1",
        "tests/unit/test_a.py::test_2",
    ]


def test_without_a_record_the_order_is_the_collection_order_by_file() -> None:
    nodeids = ["tests/b.py::t1", "tests/a.py::t1", "tests/b.py::t2"]
    assert order(nodeids, {}) == ["tests/b.py::t1", "tests/b.py::t2", "tests/a.py::t1"]


def test_seconds_per_file_from_a_junit_report(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "tests" / "e2e").mkdir(parents=True)
    (root / "tests" / "e2e" / "test_b.py").write_text("")
    (root / "tests" / "test_a.py").write_text("")
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.e2e.test_b" name="test_1" time="10.25"/>'
        '<testcase classname="tests.e2e.test_b.TestGroup" name="test_2" time="5"/>'
        '<testcase classname="tests.test_a" name="test_1" time="0.3"/>'
        '<testcase classname="tests.gone" name="test_1" time="9"/>'
        "</testsuite></testsuites>"
    )
    assert per_file(report, root) == {"tests/e2e/test_b.py": 15.2, "tests/test_a.py": 0.3}
