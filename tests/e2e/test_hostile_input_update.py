"""Hostile and careless input, table-driven (issue 16), as updates of a Ready connector: every case is refused
at `kubectl apply` with the field named, or gets a specific condition (reason, message naming the field or
key, an Event) and its Deployment's generation does not move. Then a good connector of the same namespace
still rolls on a Secret change, and no credential value of the table is in the operator's log, Events or
status. The same rows as new connectors: test_hostile_input_new.py.

Always on the real control plane, with the real kubectl, and the operator started as shipped in deploy/,
authenticated as its own ServiceAccount under the shipped RBAC. Every good connector is created at once and
waited Ready, then every case spoils its own at once, then all are judged. Machinery:
tests/support/hostile.py; the table: tests/support/hostile_cases.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_testkit.harness import wait_for

from support.hostile import UPDATE, Bench, Case, bench, check, fresh, leaks
from support.hostile_cases import UPDATE_CASES

pytestmark = [pytest.mark.realkube, pytest.mark.slow]


@pytest.fixture(scope="module")
def update_phase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    """Every case's good connector created and Ready, then spoiled, then settled."""
    with bench(Path(tmp_path_factory.mktemp("hostile-update"))) as b:
        b.start_update(UPDATE_CASES)
        b.run_update()
        yield b


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.id)
def test_update_of_a_ready_connector(update_phase: Bench, case: Case) -> None:
    check(update_phase, UPDATE, case)


def test_a_good_connector_beside_the_table_still_rolls_on_a_secret_change(update_phase: Bench) -> None:
    b, w = update_phase, update_phase.w
    before = w.wait_ready(b.ns, "good", timeout=60)
    dep = fresh(b, "good").deployment
    assert dep is not None
    version = before["status"]["credentials"]["version"]
    w.put_secret(b.ns, w.credentials(), name="good-creds")

    def rolled() -> bool:
        view = fresh(b, "good")
        status = (view.obj or {}).get("status") or {}
        return bool(
            view.deployment is not None
            and view.deployment["metadata"]["generation"] > dep["metadata"]["generation"]
            and view.deployment["spec"]["template"] != dep["spec"]["template"]
            and (status.get("credentials") or {}).get("version") not in (None, version)
        )

    wait_for(rolled, 120, interval=0.5, what="the good connector's pods rolled to the new credentials")
    w.wait_ready(b.ns, "good", timeout=120)


def test_no_credential_value_of_the_table_in_log_events_or_status(update_phase: Bench) -> None:
    found, looked_for = leaks(update_phase)
    assert looked_for > 2 * len(UPDATE_CASES)
    assert not found, "credential values leaked:\n" + "\n".join(found)
