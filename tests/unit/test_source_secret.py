"""Reading the user's credentials Secret: every refusal has its own reason and never shows a value."""

from __future__ import annotations

import base64

import pytest

from celigo_operator import api
from celigo_operator.config import OperatorConfig
from celigo_operator.policy import check_spec
from celigo_operator.sources import CredentialProblem, credentials_from_secret
from celigo_testkit.credentials import generate_client_credentials

CLIENT_ID, CLIENT_SECRET = generate_client_credentials("tenant.conductor.one")
TOKEN = "celigo-canary-4f9a8b7c6d5e"
REF = api.CredentialsSecretRef(name="creds")


def secret(values: dict[str, str], labelled: bool = True) -> dict:
    labels = {api.CREDENTIALS_OPT_IN_LABEL: "true"} if labelled else {}
    return {
        "metadata": {"name": "creds", "labels": labels},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


GOOD = {
    "BATON_CLIENT_ID": CLIENT_ID,
    "BATON_CLIENT_SECRET": CLIENT_SECRET,
    "BATON_CELIGO_ACCESS_TOKEN": TOKEN,
}


def problem(s: dict | None, ref: api.CredentialsSecretRef = REF) -> CredentialProblem:
    with pytest.raises(CredentialProblem) as info:
        credentials_from_secret(s, ref, "ns")
    for value in GOOD.values():
        assert value not in info.value.message
    return info.value


def test_good_secret_reads() -> None:
    creds = credentials_from_secret(secret(GOOD), REF, "ns")
    assert creds.env() == GOOD


def test_renamed_keys() -> None:
    ref = api.CredentialsSecretRef.model_validate({"name": "creds", "keys": {"celigoAccessToken": "TOKEN"}})
    values = {**GOOD, "TOKEN": TOKEN}
    del values["BATON_CELIGO_ACCESS_TOKEN"]
    assert credentials_from_secret(secret(values), ref, "ns").access_token == TOKEN


def test_missing_secret() -> None:
    p = problem(None)
    assert p.reason == "SecretNotFound" and "ns/creds" in p.message


def test_not_opted_in() -> None:
    p = problem(secret(GOOD, labelled=False))
    assert p.reason == "SecretNotOptedIn" and api.CREDENTIALS_OPT_IN_LABEL in p.message


@pytest.mark.parametrize("key", list(GOOD))
def test_missing_or_empty_key_is_named(key: str) -> None:
    values = dict(GOOD)
    del values[key]
    p = problem(secret(values))
    assert p.reason == "KeyMissing" and key in p.message
    p = problem(secret({**GOOD, key: "  "}))
    assert p.reason == "KeyMissing" and key in p.message


def test_malformed_client_id() -> None:
    p = problem(secret({**GOOD, "BATON_CLIENT_ID": "no-at-sign"}))
    assert p.reason == "MalformedClientId" and "BATON_CLIENT_ID" in p.message


def test_malformed_client_secret() -> None:
    p = problem(secret({**GOOD, "BATON_CLIENT_SECRET": "secret-token:conductorone.com:v2:abc"}))
    assert p.reason == "MalformedClientSecret" and "BATON_CLIENT_SECRET" in p.message


def test_string_data_is_read_too() -> None:
    s = {"metadata": {"labels": {api.CREDENTIALS_OPT_IN_LABEL: "true"}}, "stringData": GOOD}
    assert credentials_from_secret(s, REF, "ns").client_id == CLIENT_ID


def test_policy_checks() -> None:
    cfg = OperatorConfig()
    base = {"credentialsSecretRef": {"name": "c"}}
    assert check_spec(api.CeligoConnectorSpec.model_validate(base), cfg) is None
    bad_image = api.CeligoConnectorSpec.model_validate({**base, "image": "docker.io/evil/baton-celigo:1"})
    assert check_spec(bad_image, cfg).reason == "ImageNotAllowed"
    clash = api.CeligoConnectorSpec.model_validate(
        {**base, "extraEnv": [{"name": "BATON_CLIENT_ID", "value": "x"}]}
    )
    result = check_spec(clash, cfg)
    assert result.reason == "InvalidSpec" and "BATON_CLIENT_ID" in result.message
