"""Hostile and careless input, table-driven (issue 16), as new connectors: every case is refused at
`kubectl apply` with the field named, or gets a specific condition (reason, message naming the field or key, an
Event) and no Deployment appears; no credential value of the table is in the operator's log, Events or status.
The same rows as updates of a Ready connector: test_hostile_input_update.py (a module of its own, so the two
halves can run on two xdist workers at once, each with its own operator).

Always on the real control plane (kube-apiserver's own validation decides what `kubectl apply` refuses),
with the real kubectl, and the operator started as shipped in deploy/ (args, env), authenticated as its own
ServiceAccount under the shipped RBAC. Every case is sent at once, then judged. Machinery:
tests/support/hostile.py; the table: tests/support/hostile_cases.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.hostile import NEW, UPDATE, Bench, Case, bench, check, leaks
from support.hostile_cases import CASES, NEW_CASES

pytestmark = [pytest.mark.realkube, pytest.mark.slow]


def test_the_table_has_80_cases_tried_both_ways() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 80
    assert sum(1 for c in CASES if c.modes == (NEW, UPDATE)) >= 80


@pytest.fixture(scope="module")
def new_phase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """Every new connector sent and settled."""
    with bench(Path(tmp_path_factory.mktemp("hostile-new"))) as b:
        b.run_new(NEW_CASES)
        yield b


@pytest.mark.parametrize("case", NEW_CASES, ids=lambda c: c.id)
def test_new_connector(new_phase: Bench, case: Case) -> None:
    check(new_phase, NEW, case)


def test_no_credential_value_of_the_table_in_log_events_or_status(new_phase: Bench) -> None:
    found, looked_for = leaks(new_phase)
    assert looked_for > 2 * len(NEW_CASES)
    assert not found, "credential values leaked:\n" + "\n".join(found)
