"""The status writer's pure parts and the typed status: the merge patch it sends, the write-only-on-change
rule, the rotation count (once per finished flow or source change), and code/schema agreement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from celigo_operator import api
from celigo_operator.conditions import format_time
from celigo_operator.outcome import dump, merge_patch, read_status, rotation_model, status_model
from celigo_operator.status_writer import rotations_finished, status_to_write

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_merge_patch_sets_changes_and_nulls_removed_keys() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2], "gone": "x"}
    new = {"a": 1, "b": {"c": 2, "e": 4}, "l": [1]}
    assert merge_patch(old, new) == {"b": {"d": None, "e": 4}, "l": [1], "gone": None}
    assert merge_patch(new, new) == {}


def test_nothing_changed_writes_nothing() -> None:
    old = {"observedGeneration": 1, "credentials": {"version": "v"}}
    assert status_to_write(old, dict(old), 3600, NOW) is None
    assert status_to_write(old, {**old, "credentials": {"version": "v", "rejectedVersion": None}}, 3600, NOW) is None


def test_only_check_times_are_written_at_most_every_refresh() -> None:
    recent = format_time(NOW - timedelta(minutes=5))
    old = {"lastCheckTime": recent, "inventory": {"users": 3, "checkedAt": recent}}
    new = {"lastCheckTime": format_time(NOW), "inventory": {"users": 3, "checkedAt": format_time(NOW)}}
    assert status_to_write(old, new, 3600, NOW) is None
    stale = format_time(NOW - timedelta(hours=2))
    old = {"lastCheckTime": stale, "inventory": {"users": 3, "checkedAt": stale}}
    assert status_to_write(old, new, 3600, NOW) == {
        "lastCheckTime": format_time(NOW),
        "inventory": {"checkedAt": format_time(NOW)},
    }
    changed = {**new, "inventory": {"users": 4, "checkedAt": format_time(NOW)}}
    assert status_to_write({"lastCheckTime": recent, "inventory": {"users": 3}}, changed, 3600, NOW) is not None


def test_a_finished_flow_is_counted_once_with_its_result() -> None:
    running = {"rotation": {"step": "Revoking", "flow": "Celigo", "celigo": {}}}
    done = {"rotation": {"step": "Idle", "celigo": {"lastResult": "Succeeded", "lastRotatedAt": "t1"}}}
    assert rotations_finished(running, done) == [(True, "t1")]
    assert rotations_finished(done, done) == []  # the final write after the checkpoint counts nothing
    failed = {"rotation": {"step": "Idle", "conductorOne": {"lastResult": "Failed"}}}
    assert rotations_finished({"rotation": {"step": "Stored", "flow": "ConductorOne"}}, failed) == [(False, None)]


def test_a_source_secret_change_is_counted_but_not_a_flows_rollout() -> None:
    before = {"credentials": {"version": "a", "rotatedAt": "t0"}}
    after = {"credentials": {"version": "b", "rotatedAt": "t1"}}
    assert rotations_finished(before, after) == [(True, "t1")]
    assert rotations_finished({}, {"credentials": {"version": "a", "rotatedAt": "t0"}}) == []  # first deploy
    flow = {**after, "rotation": {"step": "RollingOut", "flow": "ConductorOne"}}
    assert rotations_finished(before, flow) == []


def test_status_round_trips_through_the_model_by_alias_without_none() -> None:
    raw = {
        "observedGeneration": 2,
        "credentials": {"version": "v", "secretName": "s", "lastRotationResult": "RollingOut", "rejectedVersion": None},
        "rotation": {"step": "Requesting", "flow": "Celigo", "id": "ab12", "trigger": "Annotation",
                     "celigo": {"created": {"id": "tok-1"}, "requested": True, "requestedBy": "Annotation"}},
    }
    status = status_model(raw)
    assert status.rotation is not None and status.rotation.celigo is not None
    assert status.rotation.celigo.created is not None and status.rotation.celigo.created.id == "tok-1"
    dumped = dump(status)
    assert "rejectedVersion" not in dumped["credentials"]
    assert dumped["rotation"]["celigo"]["created"] == {"id": "tok-1"}


def test_a_field_the_schema_lacks_cannot_be_written() -> None:
    with pytest.raises(ValidationError):
        rotation_model({"celigo": {"somethingNew": 1}})
    with pytest.raises(ValidationError):
        rotation_model({"trigger": "Expiry"})  # documented once, never set: not part of the schema
    assert read_status({"nonsense": True}) == api.CeligoConnectorStatus.model_validate({})


def test_every_journal_field_the_code_writes_is_in_the_crd() -> None:
    flow = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"][
        "rotation"]["properties"]["celigo"]["properties"]
    assert {"current", "previous", "pending", "created"} <= set(flow)


# ------------------------------------------------------------------ the checkpoint's stale-view guard

class FakeKube:
    """Stores one connector; a status write conditioned on a resourceVersion other than the stored one is
    refused with 409, as the API server does."""

    def __init__(self, status: dict) -> None:
        self.obj = {"metadata": {"name": "c", "namespace": "ns", "uid": "u", "resourceVersion": "1"},
                    "status": status}
        self.writes: list[dict] = []

    def bump(self, status: dict | None = None) -> None:
        meta = self.obj["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        if status is not None:
            self.obj["status"] = status

    async def get_connector(self, namespace: str, name: str) -> dict:
        import copy

        return copy.deepcopy(self.obj)

    async def patch_connector_status(self, namespace: str, name: str, status: dict, *,
                                     resource_version: str | None = None) -> dict:
        from celigo_operator.kube import KubeError

        if resource_version and resource_version != self.obj["metadata"]["resourceVersion"]:
            raise KubeError(409, "Conflict", "stale", kind="CeligoConnector", name=name)
        self.writes.append(status)
        merged = {**self.obj["status"], **status}
        self.bump({k: v for k, v in merged.items() if v is not None})
        return await self.get_connector(namespace, name)


def _writer(kube: FakeKube):  # type: ignore[no-untyped-def]
    from celigo_operator.config import OperatorConfig
    from celigo_operator.status_writer import StatusWriter

    return StatusWriter(kube, OperatorConfig())  # type: ignore[arg-type]


async def test_a_checkpoint_survives_a_metadata_change_but_not_a_journal_it_did_not_read() -> None:
    from celigo_operator.kube import KubeError

    kube = FakeKube({"rotation": {"step": "Idle"}})
    p = _writer(kube).begin(await kube.get_connector("ns", "c"))
    kube.bump()  # kopf annotated the resource meanwhile: the journal is the one the pass read
    await p.checkpoint({"step": "Requesting", "flow": "Celigo", "id": "a1"})
    assert kube.obj["status"]["rotation"]["step"] == "Requesting" and len(kube.writes) == 1

    kube.bump({"rotation": {"step": "Stored", "flow": "Celigo", "id": "zz"}})  # someone else moved the journal
    with pytest.raises(KubeError) as info:
        await p.checkpoint({"step": "Stored", "flow": "Celigo", "id": "a1"})
    assert info.value.reason == "StaleJournal"
    assert kube.obj["status"]["rotation"]["id"] == "zz" and len(kube.writes) == 1


async def test_an_unchanged_journal_is_not_written_again() -> None:
    kube = FakeKube({"rotation": {"step": "Idle"}})
    p = _writer(kube).begin(await kube.get_connector("ns", "c"))
    await p.checkpoint({"step": "Idle", "attempts": None})
    assert kube.writes == []


def test_a_stored_value_the_model_refuses_drops_that_field_only() -> None:
    stored = read_status({"credentials": {"version": "v", "lastRotationResult": "Mystery"},
                          "rotation": {"step": "Idle", "trigger": "Expiry", "celigo": {"enabledAt": "t"}}})
    assert stored.credentials is not None and stored.credentials.version == "v"
    assert stored.credentials.last_rotation_result is None
    assert stored.rotation is not None and stored.rotation.trigger is None
    assert stored.rotation.celigo is not None and stored.rotation.celigo.enabled_at == "t"


def test_a_broken_condition_is_dropped_not_the_status() -> None:
    good = {"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": "t"}
    stored = read_status({"observedGeneration": 3, "conditions": [{"type": "X", "reason": "r"}, good]})
    assert stored.observed_generation == 3
    assert [c.type for c in stored.conditions or []] == ["Ready"]


def _c(type_: str, status: str, reason: str) -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": "m", "lastTransitionTime": "t"}


def test_events_of_condition_transitions_come_from_old_and_new_status() -> None:
    from celigo_operator.status_writer import transition_events

    old = [_c("Ready", "False", "NotDeployed"), _c("ConnectorAvailable", "False", "NotDeployed")]
    new = [_c("Ready", "True", "Ready"), _c("ConnectorAvailable", "True", "Available"),
           _c("Rotation", "Unknown", "InProgress"), _c("CredentialsExpiring", "True", "ExpiresSoon"),
           _c("CeligoReachable", "True", "Reachable")]
    events = transition_events(old, new)
    # One Event for what moved together, named after Ready.
    assert [(e.type, e.reason) for e in events] == [("Normal", "Ready")]
    assert events[0].message == "Ready=True: m; ConnectorAvailable=True: m"
    assert transition_events(new, new) == []
    failing = transition_events(None, [_c("CredentialsValid", "False", "TokenRejected")])
    assert [(e.type, e.reason) for e in failing] == [("Warning", "TokenRejected")]
    # Ready's reason names the Event; a Warning if anything went wrong.
    broken = transition_events(new, [_c("Ready", "False", "TokenRejected"), _c("CeligoReachable", "True", "Reachable"),
                                     _c("CredentialsValid", "False", "TokenRejected"), _c("Synced", "False", "Down")])
    assert [(e.type, e.reason) for e in broken] == [("Warning", "TokenRejected")]
    assert "CredentialsValid=False" in broken[0].message and "Synced=False" in broken[0].message


def test_a_rollout_in_progress_is_not_news() -> None:
    from celigo_operator.status_writer import transition_events

    ready = [_c("Ready", "True", "Ready"), _c("ConnectorAvailable", "True", "Available")]
    rolling = [_c("Ready", "False", "Progressing"), _c("ConnectorAvailable", "False", "Progressing")]
    assert transition_events(None, rolling) == []
    assert transition_events(ready, rolling) == []
    assert [(e.type, e.reason) for e in transition_events(rolling, ready)] == [("Normal", "Ready")]
