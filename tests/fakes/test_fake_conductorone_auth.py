"""Contract of the fake ConductorOne token endpoint and bearer checks, from ConductorOne's API definition
(Terraform provider spec 2026-08, Go SDK v1.26.0).

Only httpx, pyjwt and cryptography talk to the fake here (never the project's client), and client
secrets are decoded by hand from the documented format, so the fake is checked against the doc.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from celigo_testkit.fake_conductorone import FakeConductorOne

TENANT = "example.conductor.one"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def key_from_secret(secret: str) -> Ed25519PrivateKey:
    """Decode `secret-token:conductorone.com:v1:<base64url JWK>` as the doc describes it."""
    parts = secret.split(":")
    assert parts[:3] == ["secret-token", "conductorone.com", "v1"] and len(parts) == 4
    jwk = json.loads(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    d = base64.urlsafe_b64decode(jwk["d"] + "=" * (-len(jwk["d"]) % 4))
    return Ed25519PrivateKey.from_private_bytes(d)


def sign(
    client_id: str,
    key: Ed25519PrivateKey,
    *,
    aud: Any = TENANT,
    iss: str | None = None,
    sub: str | None = None,
    now: float | None = None,
    lifetime: float = 120,
    drop: tuple[str, ...] = (),
) -> str:
    issued = time.time() if now is None else now
    claims = {
        "iss": client_id if iss is None else iss,
        "sub": client_id if sub is None else sub,
        "aud": aud,
        "iat": int(issued),
        "nbf": int(issued - 120),
        "exp": int(issued + lifetime),
        "jti": uuid.uuid4().hex,
    }
    for name in drop:
        del claims[name]
    return jwt.encode(claims, key, algorithm="EdDSA")


def token_request(http: httpx.Client, fake: FakeConductorOne, cid: str, assertion: str,
                  **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": cid,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **overrides,
    }
    return http.post(f"{fake.url}/auth/v1/token", data=form)


def get_token(http: httpx.Client, fake: FakeConductorOne, client_id: str, secret: str) -> str:
    response = token_request(http, fake, client_id, sign(client_id, key_from_secret(secret)))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
def c1() -> Iterator[FakeConductorOne]:
    with FakeConductorOne(token_ttl=600) as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def assert_refused(response: httpx.Response, status: int = 401, error: str = "invalid_client") -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_valid_assertion_gets_a_bearer_token(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assert client_id.split("@")[1].split("/")[0] == TENANT
    response = token_request(http, c1, client_id, sign(client_id, key_from_secret(secret)))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert isinstance(body["access_token"], str) and len(body["access_token"]) > 20
    assert c1.is_valid_client(client_id)


def test_each_token_request_gets_a_distinct_token(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assert get_token(http, c1, client_id, secret) != get_token(http, c1, client_id, secret)


def test_assertion_signed_with_another_key_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, _ = c1.register_client()
    assert_refused(token_request(http, c1, client_id, sign(client_id, Ed25519PrivateKey.generate())))


def test_assertion_signed_with_another_registered_clients_key_is_refused(
    c1: FakeConductorOne, http: httpx.Client
) -> None:
    client_a, _ = c1.register_client()
    _, secret_b = c1.register_client()
    assert_refused(token_request(http, c1, client_a, sign(client_a, key_from_secret(secret_b))))


def test_tampered_assertion_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    header, payload, signature = sign(client_id, key_from_secret(secret)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 10
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert_refused(token_request(http, c1, client_id, f"{header}.{forged}.{signature}"))


def test_expired_assertion_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    stale = sign(client_id, key_from_secret(secret), now=time.time() - 600)
    assert_refused(token_request(http, c1, client_id, stale))


def test_assertion_from_the_future_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    future = sign(client_id, key_from_secret(secret), now=time.time() + 3600)
    assert_refused(token_request(http, c1, client_id, future))


def test_long_lived_assertion_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret), lifetime=24 * 3600)
    assert_refused(token_request(http, c1, client_id, assertion))


@pytest.mark.parametrize("aud", ["other.conductor.one", f"{TENANT}:443", f"https://{TENANT}", ["nope"]])
def test_wrong_audience_is_refused(c1: FakeConductorOne, http: httpx.Client, aud: Any) -> None:
    client_id, secret = c1.register_client()
    assert_refused(token_request(http, c1, client_id, sign(client_id, key_from_secret(secret), aud=aud)))


def test_audience_is_the_tenant_host_without_its_port() -> None:
    with FakeConductorOne(tenant_host=f"{TENANT}:8443") as fake, httpx.Client() as http:
        client_id, secret = fake.register_client()
        assert f"@{TENANT}:8443/" in client_id
        key = key_from_secret(secret)
        assert token_request(http, fake, client_id, sign(client_id, key, aud=TENANT)).status_code == 200
        with_port = sign(client_id, key, aud=f"{TENANT}:8443")
        assert_refused(token_request(http, fake, client_id, with_port))


def test_audience_list_holding_the_tenant_host_is_accepted(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret), aud=[TENANT])
    assert token_request(http, c1, client_id, assertion).status_code == 200


def test_wrong_issuer_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    other, _ = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret), iss=other)
    assert_refused(token_request(http, c1, client_id, assertion))


def test_wrong_subject_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret), sub="someone-else@example.conductor.one/x")
    assert_refused(token_request(http, c1, client_id, assertion))


@pytest.mark.parametrize("claim", ["exp", "iss", "sub", "aud"])
def test_missing_required_claim_is_refused(c1: FakeConductorOne, http: httpx.Client, claim: str) -> None:
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret), drop=(claim,))
    assert_refused(token_request(http, c1, client_id, assertion))


def test_form_client_id_must_match_the_assertion(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_a, secret_a = c1.register_client()
    client_b, _ = c1.register_client()
    assert_refused(token_request(http, c1, client_b, sign(client_a, key_from_secret(secret_a))))


def test_unknown_client_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    key = Ed25519PrivateKey.generate()
    client_id = f"ghost@{TENANT}/abc"
    assert_refused(token_request(http, c1, client_id, sign(client_id, key)))
    assert not c1.is_valid_client(client_id)


def test_revoked_client_is_refused_and_its_tokens_stop_working(c1: FakeConductorOne, http: httpx.Client) -> None:
    c1.add_connector("app", "conn")
    client_id, secret = c1.register_client()
    token = get_token(http, c1, client_id, secret)
    url = f"{c1.url}/api/v1/apps/app/connectors/conn"
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    c1.revoke_client(client_id)
    assert not c1.is_valid_client(client_id)
    assert_refused(token_request(http, c1, client_id, sign(client_id, key_from_secret(secret))))
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_non_eddsa_assertion_is_refused(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, _ = c1.register_client()
    claims = {"iss": client_id, "sub": client_id, "aud": TENANT, "exp": int(time.time()) + 60}
    hs = jwt.encode(claims, "a-shared-secret-of-at-least-32-bytes!!", algorithm="HS256")
    assert_refused(token_request(http, c1, client_id, hs))
    assert_refused(token_request(http, c1, client_id, "not.a.jwt"))


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"client_assertion_type": "urn:other"}, "invalid_request"),
        ({"client_assertion": ""}, "invalid_request"),
        ({"client_id": ""}, "invalid_request"),
    ],
)
def test_bad_token_forms_get_400(
    c1: FakeConductorOne, http: httpx.Client, override: dict[str, str], error: str
) -> None:
    client_id, secret = c1.register_client()
    response = token_request(http, c1, client_id, sign(client_id, key_from_secret(secret)), **override)
    assert_refused(response, status=400, error=error)


def test_token_request_must_be_a_form(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, _ = c1.register_client()
    body = {"grant_type": "client_credentials", "client_id": client_id}
    assert_refused(http.post(f"{c1.url}/auth/v1/token", json=body), status=400, error="invalid_request")


def test_registered_public_key_client_can_authenticate(c1: FakeConductorOne, http: httpx.Client) -> None:
    key = Ed25519PrivateKey.generate()
    client_id = f"hand-made@{TENANT}/x"
    c1.register_public_key(client_id, key.public_key())
    assert token_request(http, c1, client_id, sign(client_id, key)).status_code == 200


# ---------------------------------------------------------------- bearer on /api/v1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}],
)
def test_api_routes_require_a_valid_bearer(c1: FakeConductorOne, http: httpx.Client,
                                           headers: dict[str, str]) -> None:
    issued = c1.add_connector("app", "conn")
    assert issued is not None
    base = f"{c1.url}/api/v1/apps/app/connectors/conn"
    for method, url in [
        ("GET", base),
        ("POST", f"{c1.url}/api/v1/apps/connectors/credentials"),
        ("GET", f"{base}/credentials/{issued.credential_id}"),
        ("POST", f"{base}/credentials/{issued.credential_id}"),
    ]:
        response = http.request(method, url, headers=headers, json={"appId": "app", "connectorId": "conn"})
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == 16
    assert len(c1.credentials("app", "conn")) == 1  # nothing was rotated or revoked
    assert not c1.credentials("app", "conn")[0]["revoked"]


def test_token_expires_with_the_fakes_clock(c1: FakeConductorOne, http: httpx.Client) -> None:
    c1.add_connector("app", "conn")
    client_id, secret = c1.register_client()
    token = get_token(http, c1, client_id, secret)
    url = f"{c1.url}/api/v1/apps/app/connectors/conn"
    c1.advance(599)
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    c1.advance(2)
    response = http.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["message"] == "token expired"


def test_advancing_the_clock_also_expires_assertions(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret))
    c1.advance(3600)
    assert_refused(token_request(http, c1, client_id, assertion))


def test_recorded_requests_hold_no_secrets(c1: FakeConductorOne, http: httpx.Client) -> None:
    c1.add_connector("app", "conn")
    client_id, secret = c1.register_client()
    assertion = sign(client_id, key_from_secret(secret))
    token = token_request(http, c1, client_id, assertion).json()["access_token"]
    http.get(f"{c1.url}/api/v1/apps/app/connectors/conn", headers={"Authorization": f"Bearer {token}"})
    recorded = repr(c1.requests)
    assert c1.count("POST", "/auth/v1/token") == 1
    assert c1.count("GET", path_prefix="/api/v1/apps/", status=200) == 1
    assert all(r.client_id == client_id for r in c1.requests)
    for value in (secret, secret.split(":")[3], assertion, token):
        assert value not in recorded
    assert secret not in repr(c1) and token not in repr(c1)
    c1.clear_requests()
    assert c1.count() == 0
