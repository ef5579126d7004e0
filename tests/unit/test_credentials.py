"""The operator must refuse exactly the credentials the connector refuses (plus ones that can never work)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from celigo_operator.credentials import (
    ClientSecret,
    CredentialFormatError,
    parse_client_id,
    parse_client_secret,
    strip_port,
)
from celigo_testkit.credentials import encode_client_secret, generate_client_credentials


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_keys(key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    d = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return d, x


def secret_from_jwk(jwk: object, prefix: str = "secret-token:conductorone.com:v1") -> str:
    return f"{prefix}:{b64(json.dumps(jwk).encode())}"


def good_jwk(key: Ed25519PrivateKey | None = None) -> dict[str, str]:
    d, x = raw_keys(key or Ed25519PrivateKey.generate())
    return {"kty": "OKP", "crv": "Ed25519", "d": b64(d), "x": b64(x)}


# ---------------------------------------------------------------- client id


def test_client_id_parts() -> None:
    cid = parse_client_id("dusty-bear-123@acme.conductor.one/pcc")
    assert (cid.name, cid.tenant_host, cid.rest) == ("dusty-bear-123", "acme.conductor.one", "pcc")
    assert cid.raw == "dusty-bear-123@acme.conductor.one/pcc"
    assert cid.audience == "acme.conductor.one"


def test_client_id_tenant_host_ends_at_first_slash_and_rest_may_hold_more() -> None:
    cid = parse_client_id("n@acme.conductor.one:8443/a/b@c")
    assert cid.tenant_host == "acme.conductor.one:8443"
    assert cid.rest == "a/b@c"
    assert cid.audience == "acme.conductor.one"


def test_client_id_split_on_first_at_like_the_connector() -> None:
    cid = parse_client_id("n@x@acme/rest")
    assert cid.name == "n"
    assert cid.tenant_host == "x@acme"


def test_client_id_empty_rest_is_accepted_like_the_connector() -> None:
    assert parse_client_id("n@acme.conductor.one/").rest == ""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("no-at-sign.conductor.one/pcc", "missing '@'"),
        ("name@acme.conductor.one", "missing '/'"),
        ("", "missing '@'"),
        ("@acme.conductor.one/pcc", "empty name"),
        ("name@/pcc", "empty tenant host"),
        ("name@ac me/pcc", "whitespace"),
    ],
)
def test_malformed_client_ids_are_refused_with_the_connector_wording(value: str, reason: str) -> None:
    with pytest.raises(CredentialFormatError) as info:
        parse_client_id(value)
    assert str(info.value).startswith("invalid client id: ")
    assert reason in str(info.value)
    assert info.value.field == "client id"
    assert isinstance(info.value, ValueError)


def test_client_id_error_does_not_echo_the_value() -> None:
    value = "very-distinctive-name-without-separator"
    with pytest.raises(CredentialFormatError) as info:
        parse_client_id(value)
    assert value not in str(info.value)
    assert value not in repr(info.value)


def test_non_string_client_id_is_refused() -> None:
    with pytest.raises(CredentialFormatError):
        parse_client_id(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- client secret


def test_generated_secret_round_trips() -> None:
    key = Ed25519PrivateKey.generate()
    secret = encode_client_secret(key, key_id="k1")
    assert secret.startswith("secret-token:conductorone.com:v1:")
    parsed = parse_client_secret(secret)
    assert parsed.key_id == "k1"
    assert parsed.public_key_bytes() == raw_keys(key)[1]


def test_secret_with_only_required_jwk_members_parses() -> None:
    key = Ed25519PrivateKey.generate()
    parsed = parse_client_secret(secret_from_jwk(good_jwk(key)))
    assert parsed.key_id is None
    assert parsed.public_key_bytes() == raw_keys(key)[1]


def test_first_two_parts_are_not_checked_like_the_connector() -> None:
    parsed = parse_client_secret(secret_from_jwk(good_jwk(), prefix="anything:else:v1"))
    assert isinstance(parsed, ClientSecret)


def test_go_decoder_quirks_trailing_newline_and_padded_jwk_members_are_accepted() -> None:
    jwk = good_jwk()
    jwk["x"] += "="  # go-jose tolerates padding inside the JWK
    assert parse_client_secret(secret_from_jwk(jwk) + "\n")


def test_signatures_from_the_parsed_key_verify_with_the_jwk_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    parsed = parse_client_secret(secret_from_jwk(good_jwk(key)))
    signature = parsed.private_key.sign(b"message")
    key.public_key().verify(signature, b"message")  # raises if the keys differ


def _bad_secrets() -> list[tuple[str, str]]:
    jwk = good_jwk()
    other = good_jwk()
    d_only = dict(jwk)
    del d_only["x"]
    public_only = dict(jwk)
    del public_only["d"]
    return [
        ("secret-token:conductorone.com:" + b64(json.dumps(jwk).encode()), "four"),
        ("not-a-secret", "four"),
        (secret_from_jwk(jwk, prefix="secret-token:conductorone.com:v2"), "third part must be v1"),
        (secret_from_jwk(jwk, prefix="secret-token:conductorone.com:V1"), "third part must be v1"),
        ("secret-token:conductorone.com:v1:" + base64.urlsafe_b64encode(json.dumps(jwk).encode()).decode()
         + "==", "base64url"),
        ("secret-token:conductorone.com:v1:" + b64(json.dumps(jwk).encode()).replace("-", "+") + "+/",
         "base64url"),
        ("secret-token:conductorone.com:v1:abcde", "base64url"),
        ("secret-token:conductorone.com:v1:" + b64(b"not json"), "JSON Web Key"),
        ("secret-token:conductorone.com:v1:" + b64(b"[1, 2]"), "JSON Web Key"),
        ("secret-token:conductorone.com:v1:" + b64(b"\xff\xfe"), "JSON Web Key"),
        (secret_from_jwk({**jwk, "kty": "EC"}), "kty must be OKP"),
        (secret_from_jwk({**jwk, "kty": "okp"}), "kty must be OKP"),
        (secret_from_jwk({**jwk, "crv": "X25519"}), "crv must be Ed25519"),
        (secret_from_jwk(public_only), "public key"),
        (secret_from_jwk(d_only), "no 'x'"),
        (secret_from_jwk({**jwk, "d": b64(b"short")}), "32 bytes"),
        (secret_from_jwk({**jwk, "x": 5}), "not a string"),
        (secret_from_jwk({**jwk, "kid": 5}), "'kid' is not a string"),
        (secret_from_jwk({**jwk, "alg": ["EdDSA"]}), "'alg' is not a string"),
        (secret_from_jwk({**jwk, "x": other["x"]}), "'x' is not the public key of 'd'"),
        (secret_from_jwk({"kty": "oct", "k": b64(b"0" * 32)}), "kty must be OKP"),
    ]


@pytest.mark.parametrize(("value", "reason"), _bad_secrets())
def test_malformed_secrets_are_refused_with_the_connector_wording(value: str, reason: str) -> None:
    with pytest.raises(CredentialFormatError) as info:
        parse_client_secret(value)
    message = str(info.value)
    assert message.startswith("invalid client secret: ")
    assert reason in message
    assert info.value.field == "client secret"
    # The message names the problem, never the value or any piece of it.
    payload = value.split(":")[-1].strip()
    assert payload not in message
    assert payload not in repr(info.value)
    # No chained exception either: a decoder's message could quote part of the input.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_client_secret_repr_hides_the_key() -> None:
    secret = encode_client_secret(Ed25519PrivateKey.generate())
    parsed = parse_client_secret(secret)
    d = json.loads(base64.urlsafe_b64decode(secret.split(":")[3] + "=="))["d"]
    for text in (repr(parsed), str(parsed), f"{parsed}"):
        assert "redacted" in text
        assert d not in text


# ---------------------------------------------------------------- generation


def test_generate_client_credentials_gives_a_valid_distinct_pair() -> None:
    cid1, secret1 = generate_client_credentials("acme.conductor.one")
    cid2, secret2 = generate_client_credentials("acme.conductor.one", name="other")
    assert cid1 != cid2 and secret1 != secret2
    parsed = parse_client_id(cid1)
    assert parsed.name == "celigo-operator"
    assert parsed.tenant_host == "acme.conductor.one"
    assert parse_client_id(cid2).name == "other"
    assert parse_client_secret(secret1).public_key_bytes() != parse_client_secret(secret2).public_key_bytes()


@pytest.mark.parametrize("host", ["", "a/b", "a@b", "a b"])
def test_generate_refuses_a_bad_tenant_host(host: str) -> None:
    with pytest.raises(ValueError):
        generate_client_credentials(host)


def test_generate_refuses_a_bad_name() -> None:
    with pytest.raises(ValueError):
        generate_client_credentials("acme.conductor.one", name="a@b")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("acme.conductor.one", "acme.conductor.one"),
        ("acme.conductor.one:443", "acme.conductor.one"),
        ("[::1]:8443", "::1"),
        ("[::1]", "[::1]"),
        ("::1", "::1"),
    ],
)
def test_strip_port_follows_go_split_host_port(host: str, expected: str) -> None:
    assert strip_port(host) == expected
