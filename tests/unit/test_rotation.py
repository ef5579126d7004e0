"""The rotation state machine's pure parts: steps, backoff, settings, the merged credential set, owned Secrets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from celigo_operator import api, manifests
from celigo_operator.conditions import format_time
from celigo_operator.manifests import Owner
from celigo_operator.rotation import (
    FLOW_STEPS,
    STEPS,
    Context,
    Flow,
    RotationSettings,
    Rotator,
    Step,
    backoff_delay,
    build_owned_secret,
    enabled_flows,
    operator_credentials,
)
from celigo_operator.rotation.providers import Provider
from celigo_operator.sources import CredentialProblem, merge_credentials
from celigo_testkit.credentials import generate_client_credentials

OWNER = Owner(name="celigo", namespace="ns", uid="u-1")


def _secret(values: dict[str, str], labelled: bool = True) -> dict:
    labels = {api.CREDENTIALS_OPT_IN_LABEL: "true"} if labelled else {}
    return {
        "metadata": {"name": "src", "labels": labels},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


def _source() -> dict[str, str]:
    client_id, client_secret = generate_client_credentials("t.conductor.one")
    return {"BATON_CLIENT_ID": client_id, "BATON_CLIENT_SECRET": client_secret, "BATON_CELIGO_ACCESS_TOKEN": "tok1"}


def test_every_flow_walks_every_step_in_order() -> None:
    for steps in FLOW_STEPS.values():
        assert steps == (Step.REQUESTING, Step.STORED, Step.ROLLING_OUT, Step.REVOKING)
    assert set(FLOW_STEPS) == set(Flow)
    assert [s.value for s in Step] == ["Idle", "Requesting", "Stored", "RollingOut", "Revoking"]
    schema_enum = api.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"][
        "properties"]["rotation"]["properties"]["step"]["enum"]
    assert schema_enum == [s.value for s in Step], "the CRD's step enum is the state machine's"


def test_one_step_table_drives_both_flows() -> None:
    assert set(STEPS) == set(Step) - {Step.IDLE} and all(callable(h) for h in STEPS.values())
    assert all(steps == tuple(STEPS) for steps in FLOW_STEPS.values())


def test_both_providers_implement_every_call() -> None:
    rotator = _rotator()
    assert set(rotator.providers) == set(Flow)
    for provider in rotator.providers.values():
        for call in ("mint", "reveal", "verify", "is_live", "revoke", "expires_at", "schedule", "initial_id"):
            assert getattr(type(provider), call) is not getattr(Provider, call), (provider.flow, call)


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [(1, None, 60.0), (2, None, 120.0), (3, None, 240.0), (20, None, 8 * 3600.0), (1, 600.0, 600.0)],
)
def test_backoff_doubles_is_capped_and_honours_retry_after(attempts: int, retry_after: float | None,
                                                           expected: float) -> None:
    assert backoff_delay(attempts, RotationSettings(), retry_after) == expected


def test_settings_from_env() -> None:
    settings = RotationSettings.from_env({"CELIGO_OPERATOR_ROTATION_BACKOFF_BASE": "2",
                                          "CELIGO_OPERATOR_ROTATION_API_RETRIES": "0"})
    assert settings.backoff_base == 2.0 and settings.api_retries == 0
    assert settings.expiry_warning == 7 * 86400 and settings.revoke_timeout == 300


def test_merge_without_owned_values_is_the_source_secret() -> None:
    values = _source()
    creds = merge_credentials(_secret(values), api.CredentialsSecretRef(name="src"), "ns", {})
    assert creds.env() == values


def test_owned_conductorone_keys_win_and_the_source_needs_only_the_token() -> None:
    owned_id, owned_secret = generate_client_credentials("t.conductor.one", "rotated")
    source = _secret({"BATON_CELIGO_ACCESS_TOKEN": "tok1"})  # no ConductorOne keys at all: ignored anyway
    owned = {"BATON_CLIENT_ID": owned_id, "BATON_CLIENT_SECRET": owned_secret}
    creds = merge_credentials(source, api.CredentialsSecretRef(name="src"), "ns", owned)
    assert (creds.client_id, creds.client_secret, creds.access_token) == (owned_id, owned_secret, "tok1")


def test_owned_token_wins() -> None:
    values = _source()
    creds = merge_credentials(_secret(values), api.CredentialsSecretRef(name="src"), "ns",
                              {"BATON_CELIGO_ACCESS_TOKEN": "tok2"})
    assert creds.access_token == "tok2" and creds.client_id == values["BATON_CLIENT_ID"]


def test_merge_still_requires_the_opt_in_label() -> None:
    with pytest.raises(CredentialProblem) as info:
        merge_credentials(_secret({"BATON_CELIGO_ACCESS_TOKEN": "t"}, labelled=False),
                          api.CredentialsSecretRef(name="src"), "ns", {"BATON_CLIENT_ID": "x"})
    assert info.value.reason == "SecretNotOptedIn"


def test_owned_secret_is_immutable_owned_and_keeps_values_out_of_metadata() -> None:
    body = build_owned_secret(OWNER, Flow.CONDUCTORONE, "abcd1234", {"BATON_CLIENT_SECRET": "s3cr3t-value"}, "cred-9")
    meta = body["metadata"]
    assert body["immutable"] is True and meta["ownerReferences"][0]["uid"] == "u-1"
    assert meta["name"] == "celigo-baton-celigo-c1-abcd1234"
    assert meta["labels"][manifests.LABEL_ROLE] == "conductorone-credential"
    assert meta["labels"][manifests.LABEL_ROLE] != "connector-credentials"  # never swept by the rollout cleanup
    assert "s3cr3t-value" not in repr(meta)
    assert meta["annotations"]["celigo-operator.io/credential-id"] == "cred-9"


def test_enabled_flows_follow_the_spec() -> None:
    spec = api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "x"}})
    assert enabled_flows(spec) == []
    spec = api.CeligoConnectorSpec.model_validate(
        {"credentialsSecretRef": {"name": "x"}, "rotation": {"conductorOne": {"enabled": True},
                                                             "celigo": {"enabled": True}}}
    )
    assert enabled_flows(spec) == [Flow.CONDUCTORONE, Flow.CELIGO]


def test_schedule_must_be_a_duration_of_at_least_a_minute() -> None:
    with pytest.raises(ValueError):
        api.CeligoConnectorSpec.model_validate(
            {"credentialsSecretRef": {"name": "x"}, "rotation": {"conductorOne": {"schedule": "30s"}}}
        )
    spec = api.CeligoConnectorSpec.model_validate(
        {"credentialsSecretRef": {"name": "x"}, "rotation": {"conductorOne": {"schedule": "720h"}}}
    )
    assert spec.rotation.conductor_one.schedule == "720h"


def test_operator_credentials_are_only_those_it_stored() -> None:
    rot = {"conductorOne": {"current": {"id": "new", "secretName": "s-new"}, "previous": {"id": "initial"},
                            "pending": None}}
    assert operator_credentials(rot) == ["new"]  # the user's own initial credential is not ours
    assert operator_credentials({}) == []


def _rotator() -> Rotator:
    from celigo_operator.clients import Clients
    from celigo_operator.config import OperatorConfig

    config = OperatorConfig()
    return Rotator(None, config, None, RotationSettings(), Clients(config))  # type: ignore[arg-type]


def _ctx(spec: dict, annotations: dict[str, str] | None = None, status: dict | None = None) -> Context:
    body = {"metadata": {"name": "celigo", "namespace": "ns", "uid": "u-1", "annotations": annotations or {}}}
    return Context(
        owner=OWNER,
        spec=api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "x"}, **spec}),
        body=body,
        status=status or {},
        rolled=False,
        due=False,
    )


ROT_SPEC = {"rotation": {"conductorOne": {"enabled": True, "schedule": "1h"}, "celigo": {"enabled": True}}}


def test_each_rotate_now_value_requests_every_enabled_flow_once() -> None:
    rotator, now = _rotator(), datetime.now(UTC)
    ctx = _ctx(ROT_SPEC, {api.ROTATE_NOW_ANNOTATION: "v1"})
    rot: dict = {}
    assert rotator._triggers(ctx, rot, [Flow.CONDUCTORONE, Flow.CELIGO], now)
    assert rot["rotateNow"] == "v1"
    assert rot["conductorOne"]["requested"] and rot["celigo"]["requested"]
    rot["conductorOne"]["requested"] = rot["celigo"]["requested"] = None
    assert not rotator._triggers(ctx, rot, [Flow.CONDUCTORONE, Flow.CELIGO], now)  # same value: nothing
    assert not rot["conductorOne"]["requested"]


def test_schedule_counts_from_the_last_rotation() -> None:
    rotator, now = _rotator(), datetime.now(UTC)
    ctx = _ctx(ROT_SPEC)
    recent = {"conductorOne": {"enabledAt": "2020-01-01T00:00:00Z", "lastRotatedAt": format_time(now - timedelta(minutes=59))}}
    assert not rotator._triggers(ctx, recent, [Flow.CONDUCTORONE], now)
    due = {"conductorOne": {"enabledAt": "2020-01-01T00:00:00Z", "lastRotatedAt": format_time(now - timedelta(minutes=61))}}
    assert rotator._triggers(ctx, due, [Flow.CONDUCTORONE], now)
    assert due["conductorOne"]["requestedBy"] == "Schedule"


def test_unsupported_flow_is_not_requested() -> None:
    rotator, now = _rotator(), datetime.now(UTC)
    rot: dict = {"celigo": {"unsupported": True, "enabledAt": format_time(now)}}
    rotator._triggers(_ctx(ROT_SPEC, {api.ROTATE_NOW_ANNOTATION: "x"}), rot, [Flow.CELIGO], now)
    assert not rot["celigo"].get("requested")


@pytest.mark.parametrize(
    ("rot", "status", "reason"),
    [
        ({"step": "Idle"}, "True", "Idle"),
        ({"step": "Stored", "flow": "ConductorOne"}, "Unknown", "InProgress"),
        ({"step": "Requesting", "flow": "Celigo", "attempts": 2, "lastError": "x", "nextAttemptAt": "t"}, "False",
         "RotationBackoff"),
        ({"step": "Idle", "celigo": {"unsupported": True}}, "False", "RotationUnsupported"),
        ({"step": "Idle", "conductorOne": {"lastResult": "Failed", "lastMessage": "refused"}}, "False",
         "RotationFailed"),
    ],
)
def test_rotation_condition(rot: dict, status: str, reason: str) -> None:
    cond = _rotator()._condition(rot, [Flow.CONDUCTORONE, Flow.CELIGO])
    assert (cond.type, cond.status, cond.reason) == ("Rotation", status, reason)


def test_operator_owned_credential_is_said_in_the_condition() -> None:
    cond = _rotator()._condition({"step": "Idle", "credentialSource": "Operator"}, [Flow.CONDUCTORONE])
    assert "source Secret's ConductorOne keys are ignored" in cond.message


def test_conductorone_rotation_without_spec_conductorone_is_explained() -> None:
    cond = _rotator()._condition({"step": "Idle"}, [Flow.CONDUCTORONE], c1_configured=False)
    assert (cond.status, cond.reason) == ("False", "ConductorOneNotConfigured")
