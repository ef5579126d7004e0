"""Issue 16, credential values checked before use: a value that cannot be a credential (too long, not UTF-8,
not printable ASCII, whitespace inside) gets a reason by role and a message naming Secret and key, never the
value; surrounding whitespace is still trimmed; empty or absent stays KeyMissing."""

from __future__ import annotations

import base64

import pytest

from celigo_operator import api
from celigo_operator.sources import (
    MAX_VALUE_BYTES,
    CredentialProblem,
    credentials_from_secret,
    merge_credentials,
    read_keys,
    value_problem,
)
from celigo_testkit.credentials import generate_client_credentials

CLIENT_ID, CLIENT_SECRET = generate_client_credentials("tenant.conductor.one")
TOKEN = "0123456789abcdef0123456789abcdef"
REF = api.CredentialsSecretRef(name="src")
KEYS = {"client_id": "BATON_CLIENT_ID", "client_secret": "BATON_CLIENT_SECRET", "token": "BATON_CELIGO_ACCESS_TOKEN"}


def secret(values: dict[str, bytes | str]) -> dict:
    data = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode() for k, v in values.items()}
    return {"metadata": {"labels": {api.CREDENTIALS_OPT_IN_LABEL: "true"}}, "data": data}


def good(**changes: bytes | str) -> dict[str, bytes | str]:
    values: dict[str, bytes | str] = {
        KEYS["client_id"]: CLIENT_ID, KEYS["client_secret"]: CLIENT_SECRET, KEYS["token"]: TOKEN
    }
    values.update({KEYS[k]: v for k, v in changes.items()})
    return values


BAD_VALUES: dict[str, tuple[bytes | str, str]] = {
    "internal space": (TOKEN[:10] + " " + TOKEN[10:], "whitespace inside"),
    "newline inside": (TOKEN[:10] + "\n" + TOKEN[10:], "whitespace inside"),
    "tab inside": (TOKEN[:10] + "\t" + TOKEN[10:], "whitespace inside"),
    "Bearer prefix": ("Bearer " + TOKEN, "Bearer"),
    "non-ASCII": (TOKEN[:10] + "é" + TOKEN[10:], "not printable ASCII"),
    "control character": (TOKEN[:10] + "\x07" + TOKEN[10:], "not printable ASCII"),
    "not UTF-8": (b"\xff\xfe" + TOKEN.encode(), "not valid UTF-8"),
    "700 KB": ("t" * 700_000, "more than the 4096"),
    "4097 bytes": ("t" * (MAX_VALUE_BYTES + 1), "more than the 4096"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
@pytest.mark.parametrize(
    ("role", "reason"),
    [("token", "MalformedToken"), ("client_id", "MalformedClientId"), ("client_secret", "MalformedClientSecret")],
)
def test_a_malformed_value_is_named_by_role_secret_and_key_never_by_value(case: str, role: str, reason: str) -> None:
    value, words = BAD_VALUES[case]
    with pytest.raises(CredentialProblem) as info:
        credentials_from_secret(secret(good(**{role: value})), REF, "ns")
    assert info.value.reason == reason
    message = info.value.message
    assert "Secret ns/src" in message and KEYS[role] in message and words in message
    shown = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    assert TOKEN not in message and shown.strip() not in message and len(message) < 400


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_the_merged_set_with_operator_owned_values_checks_the_source_keys_too(case: str) -> None:
    value, _ = BAD_VALUES[case]
    owned = {"BATON_CLIENT_ID": CLIENT_ID, "BATON_CLIENT_SECRET": CLIENT_SECRET}
    with pytest.raises(CredentialProblem) as info:
        merge_credentials(secret(good(token=value)), REF, "ns", owned)
    assert info.value.reason == "MalformedToken"


def test_surrounding_whitespace_is_trimmed_and_fine() -> None:
    creds = credentials_from_secret(secret(good(token=f"  {TOKEN}\r\n", client_id=f"\t{CLIENT_ID}\n")), REF, "ns")
    assert creds.access_token == TOKEN and creds.client_id == CLIENT_ID
    assert value_problem(b"x" * MAX_VALUE_BYTES + b"\n") is None


@pytest.mark.parametrize("value", ["", "   \n"])
def test_empty_stays_key_missing(value: str) -> None:
    with pytest.raises(CredentialProblem) as info:
        credentials_from_secret(secret(good(token=value)), REF, "ns")
    assert info.value.reason == "KeyMissing"


def test_missing_keys_are_reported_before_malformed_ones() -> None:
    values = good(client_id="a b")
    del values[KEYS["token"]]
    with pytest.raises(CredentialProblem) as info:
        credentials_from_secret(secret(values), REF, "ns")
    assert info.value.reason == "KeyMissing" and KEYS["token"] in info.value.message


def test_read_keys_for_other_secrets_reports_a_malformed_value_with_the_reason_asked_for() -> None:
    s = secret({"ID": "x y", "SECRET": "ok"})
    with pytest.raises(CredentialProblem) as info:
        read_keys(s, "ns", "api", ["ID", "SECRET"], ["MalformedClientId", "MalformedClientSecret"])
    assert info.value.reason == "MalformedClientId" and "x y" not in info.value.message
    with pytest.raises(CredentialProblem) as info:
        read_keys(s, "ns", "api", ["ID"])
    assert info.value.reason == "MalformedValue"


def test_string_data_is_checked_the_same_way() -> None:
    s = {"metadata": {"labels": {api.CREDENTIALS_OPT_IN_LABEL: "true"}},
         "stringData": {k: str(v) for k, v in good(token="Bearer " + TOKEN).items()}}
    with pytest.raises(CredentialProblem) as info:
        credentials_from_secret(s, REF, "ns")
    assert info.value.reason == "MalformedToken"
