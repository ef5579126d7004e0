"""The rotation state machine's pure parts: steps, backoff, settings, the merged credential set, owned Secrets."""

from __future__ import annotations

import base64

import pytest

from celigo_operator import api, manifests
from celigo_operator.credentials import generate_client_credentials
from celigo_operator.manifests import Owner
from celigo_operator.rotation import (
    FLOW_STEPS,
    Flow,
    RotationSettings,
    Rotator,
    Step,
    backoff_delay,
    build_owned_secret,
    enabled_flows,
    merge_credentials,
)
from celigo_operator.sources import CredentialProblem

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


def test_every_step_has_a_handler() -> None:
    for flow, steps in FLOW_STEPS.items():
        for step in steps:
            assert callable(getattr(Rotator, f"_{flow.name.lower()}_{step.name.lower()}"))


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
    assert Rotator.operator_credentials(rot) == ["new"]  # the user's own initial credential is not ours
    assert Rotator.operator_credentials({}) == []
