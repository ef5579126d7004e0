"""Contract of the fake ConductorOne API (status, rotate, get, revoke) and its fault injection.

Written from ConductorOne's API definition (Terraform provider spec 2026-08, Go SDK v1.26.0) with httpx, pyjwt and cryptography only: the project's client is
never used here, and secrets are decoded by hand from the documented format.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from celigo_testkit.fake_conductorone import FakeConductorOne, Fault

TENANT = "example.conductor.one"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
APP, CONN = "app-1", "conn-1"
CONNECTOR_PATH = f"/api/v1/apps/{APP}/connectors/{CONN}"
CRED_PATH = f"{CONNECTOR_PATH}/credentials"  # + /{id}: read (GET) and revoke (POST {})
ROTATE_PATH = "/api/v1/apps/connectors/credentials"  # rotate: POST {"appId", "connectorId"}
OLD_ROTATE_PATH = CRED_PATH  # the path form that left the API in 2025-09
#: ConductorOneCredential's fields (clientSecret only in a rotate's answer).
CREDENTIAL_FIELDS = {"id", "clientId", "appId", "connectorId", "displayName", "createdAt", "expiresTime",
                     "lastUsedAt", "deletedAt", "updatedAt"}


def key_from_secret(secret: str) -> Ed25519PrivateKey:
    """Decode `secret-token:conductorone.com:v1:<base64url JWK>` as the doc describes it."""
    parts = secret.split(":")
    assert parts[:3] == ["secret-token", "conductorone.com", "v1"] and len(parts) == 4
    jwk = json.loads(base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4)))
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    d = base64.urlsafe_b64decode(jwk["d"] + "=" * (-len(jwk["d"]) % 4))
    return Ed25519PrivateKey.from_private_bytes(d)


def token_response(http: httpx.Client, fake: FakeConductorOne, client_id: str, secret: str) -> httpx.Response:
    now = int(fake.now())  # the client's clock agrees with the server's, even when a test advances it
    claims = {"iss": client_id, "sub": client_id, "aud": TENANT, "iat": now, "exp": now + 120,
              "jti": uuid.uuid4().hex}
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": jwt.encode(claims, key_from_secret(secret), algorithm="EdDSA"),
    }
    return http.post(f"{fake.url}/auth/v1/token", data=form)


def can_authenticate(http: httpx.Client, fake: FakeConductorOne, client_id: str, secret: str) -> bool:
    response = token_response(http, fake, client_id, secret)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


class Api:
    """A raw, authenticated HTTP session against the fake (stands in for any API consumer)."""

    def __init__(self, fake: FakeConductorOne, http: httpx.Client) -> None:
        self.fake, self.http = fake, http
        client_id, secret = fake.register_client()
        response = token_response(http, fake, client_id, secret)
        assert response.status_code == 200
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.fake.url + path, headers=self.headers, **kwargs)

    def status(self) -> dict[str, Any]:
        response = self.call("GET", CONNECTOR_PATH)
        assert response.status_code == 200
        return dict(response.json()["connectorView"]["connector"]["status"])

    def rotate(self) -> dict[str, Any]:
        response = self.call("POST", ROTATE_PATH, json={"appId": APP, "connectorId": CONN})
        assert response.status_code == 200, response.text
        body = dict(response.json())
        assert set(body) == {"credential"}, body.keys()
        assert set(body["credential"]) <= CREDENTIAL_FIELDS | {"clientSecret"}
        return body


@pytest.fixture
def c1() -> Iterator[FakeConductorOne]:
    with FakeConductorOne() as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture
def api(c1: FakeConductorOne, http: httpx.Client) -> Api:
    c1.add_connector(APP, CONN)
    return Api(c1, http)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------- connector status


def test_connector_view_shape(api: Api) -> None:
    response = api.call("GET", CONNECTOR_PATH)
    connector = response.json()["connectorView"]["connector"]
    assert connector["id"] == CONN and connector["appId"] == APP
    assert connector["status"]["status"] == "SYNC_STATUS_DONE"
    for field in ("startedAt", "completedAt", "updatedAt"):
        assert parse_ts(connector["status"][field]).tzinfo is not None
    assert "lastError" not in connector["status"]


def test_status_moves_running_done_error(api: Api, c1: FakeConductorOne) -> None:
    before = api.status()
    c1.set_sync_status(APP, CONN, "SYNC_STATUS_RUNNING")
    running = api.status()
    assert running["status"] == "SYNC_STATUS_RUNNING"
    assert parse_ts(running["startedAt"]) >= parse_ts(before["startedAt"])
    assert running["completedAt"] == before["completedAt"]  # the last completed sync, unchanged

    c1.set_sync_status(APP, CONN, "SYNC_STATUS_DONE")
    done = api.status()
    assert done["status"] == "SYNC_STATUS_DONE"
    assert parse_ts(done["completedAt"]) >= parse_ts(done["startedAt"])
    assert "lastError" not in done

    c1.set_sync_status(APP, CONN, "ERROR", last_error="celigo: 401 Unauthorized")
    error = api.status()
    assert error["status"] == "SYNC_STATUS_ERROR"
    assert error["lastError"] == "celigo: 401 Unauthorized"
    assert parse_ts(error["updatedAt"]) >= parse_ts(done["updatedAt"])

    c1.set_sync_status(APP, CONN, "DONE")
    assert "lastError" not in api.status()


@pytest.mark.parametrize("status", ["SYNC_STATUS_DISABLED", "SYNC_STATUS_UNSPECIFIED"])
def test_status_can_be_disabled_or_unspecified(api: Api, c1: FakeConductorOne, status: str) -> None:
    c1.set_sync_status(APP, CONN, status)
    assert api.status()["status"] == status


def test_status_with_explicit_timestamps(api: Api, c1: FakeConductorOne) -> None:
    started = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    completed = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    c1.set_sync_status(APP, CONN, "SYNC_STATUS_ERROR", last_error="boom", started_at=started,
                       completed_at=completed.timestamp())
    status = api.status()
    assert parse_ts(status["startedAt"]) == started
    assert parse_ts(status["completedAt"]) == completed


def test_connector_created_running_has_no_completion(c1: FakeConductorOne, http: httpx.Client) -> None:
    c1.add_connector(APP, CONN, status="SYNC_STATUS_RUNNING", with_credential=False)
    status = Api(c1, http).status()
    assert status["status"] == "SYNC_STATUS_RUNNING"
    assert "completedAt" not in status
    assert c1.credentials(APP, CONN) == []


def test_unknown_connector_is_404(api: Api) -> None:
    response = api.call("GET", "/api/v1/apps/app-1/connectors/nope")
    assert response.status_code == 404
    assert response.json()["code"] == 5


def test_set_sync_status_refuses_unknown_values(api: Api, c1: FakeConductorOne) -> None:
    with pytest.raises(ValueError):
        c1.set_sync_status(APP, CONN, "SYNC_STATUS_PAUSED")
    with pytest.raises(KeyError):
        c1.set_sync_status(APP, "nope", "DONE")


# ---------------------------------------------------------------- rotate / get / revoke


def test_rotate_returns_a_working_credential_and_its_secret_once(
    api: Api, c1: FakeConductorOne, http: httpx.Client
) -> None:
    rotated = api.rotate()
    credential = rotated["credential"]
    secret = credential["clientSecret"]
    assert credential["appId"] == APP and credential["connectorId"] == CONN
    for field in ("id", "clientId", "displayName", "createdAt", "expiresTime"):
        assert credential[field]
    assert credential["clientId"].split("@")[1].split("/")[0] == TENANT
    assert parse_ts(credential["expiresTime"]) > parse_ts(credential["createdAt"])
    assert can_authenticate(http, c1, credential["clientId"], secret)

    got = api.call("GET", f"{CRED_PATH}/{credential['id']}")
    assert got.status_code == 200
    assert set(got.json()) == {"credential"} and set(got.json()["credential"]) <= CREDENTIAL_FIELDS
    assert got.json()["credential"]["clientId"] == credential["clientId"]
    assert "lastUsedAt" in got.json()["credential"]  # the token request above used it
    assert c1.requests[0].body["client_assertion"] == "<redacted>"
    assert [(r.method, r.path, r.body) for r in c1.requests if r.path == ROTATE_PATH] == [
        ("POST", ROTATE_PATH, {"appId": APP, "connectorId": CONN})
    ]
    for text in (got.text, repr(c1.requests), repr(c1.credentials(APP, CONN))):
        assert secret not in text
        assert secret.split(":")[3] not in text
        assert "clientSecret" not in text


def test_each_rotate_makes_a_new_key_and_all_coexist(api: Api, c1: FakeConductorOne, http: httpx.Client) -> None:
    first = api.rotate()
    second = api.rotate()
    assert first["credential"]["id"] != second["credential"]["id"]
    assert first["credential"]["clientSecret"] != second["credential"]["clientSecret"]
    records = c1.credentials(APP, CONN)
    assert len(records) == 3  # the connector's initial credential plus two rotations
    assert not any(r["revoked"] for r in records)
    for rotated in (first, second):
        assert can_authenticate(http, c1, rotated["credential"]["clientId"], rotated["credential"]["clientSecret"])
    # One credential's secret does not open another's client id.
    assert not can_authenticate(http, c1, first["credential"]["clientId"], second["credential"]["clientSecret"])


def test_initial_connector_credential_works(c1: FakeConductorOne, http: httpx.Client) -> None:
    issued = c1.add_connector(APP, CONN)
    assert issued is not None
    client_id, secret = issued
    assert secret not in repr(issued)
    assert can_authenticate(http, c1, client_id, secret)
    assert [r["id"] for r in c1.credentials(APP, CONN)] == [issued.credential_id]


def test_revoke_really_revokes(api: Api, c1: FakeConductorOne, http: httpx.Client) -> None:
    method = "POST"
    old, new = api.rotate(), api.rotate()
    old_id, old_client = old["credential"]["id"], old["credential"]["clientId"]
    # A token the old credential already holds must stop working too.
    old_token = token_response(http, c1, old_client, old["credential"]["clientSecret"]).json()["access_token"]
    response = api.call(method, f"{CRED_PATH}/{old_id}", json={})
    assert response.status_code == 200
    assert response.json() == {}
    assert not can_authenticate(http, c1, old_client, old["credential"]["clientSecret"])
    assert not c1.is_valid_client(old_client)
    stale = http.get(c1.url + CONNECTOR_PATH, headers={"Authorization": f"Bearer {old_token}"})
    assert stale.status_code == 401
    assert can_authenticate(http, c1, new["credential"]["clientId"], new["credential"]["clientSecret"])
    records = {r["id"]: r for r in c1.credentials(APP, CONN)}
    assert records[old_id]["revoked"] and not records[new["credential"]["id"]]["revoked"]
    got = api.call("GET", f"{CRED_PATH}/{old_id}").json()["credential"]
    assert parse_ts(got["deletedAt"]) >= parse_ts(got["createdAt"])
    # Revoking again is a no-op, not an error.
    assert api.call(method, f"{CRED_PATH}/{old_id}", json={}).status_code == 200


def test_revoking_the_callers_own_api_client_locks_it_out(api: Api, c1: FakeConductorOne) -> None:
    caller = c1.requests[-1].client_id
    assert caller is not None
    c1.revoke_client(caller)
    assert api.call("GET", CONNECTOR_PATH).status_code == 401


def test_rotate_revokes_previous_knob(http: httpx.Client) -> None:
    with FakeConductorOne(rotate_revokes_previous=True) as fake:
        issued = fake.add_connector(APP, CONN)
        assert issued is not None
        api = Api(fake, http)
        first = api.rotate()
        assert not can_authenticate(http, fake, issued.client_id, issued.client_secret)
        assert can_authenticate(http, fake, first["credential"]["clientId"], first["credential"]["clientSecret"])
        second = api.rotate()
        assert not can_authenticate(http, fake, first["credential"]["clientId"], first["credential"]["clientSecret"])
        assert can_authenticate(http, fake, second["credential"]["clientId"], second["credential"]["clientSecret"])
        assert [r["revoked"] for r in fake.credentials(APP, CONN)] == [True, True, False]


def test_the_old_rotate_path_and_other_verbs_are_unknown(api: Api, c1: FakeConductorOne) -> None:
    """The path form left the API in 2025-09, DELETE was never the revoke verb: 404 like any unknown path,
    and nothing is created or revoked."""
    before = c1.credentials(APP, CONN)
    for method, path in (("POST", OLD_ROTATE_PATH), ("DELETE", f"{CRED_PATH}/{before[0]['id']}"),
                         ("PUT", ROTATE_PATH)):
        response = api.call(method, path, json={})
        assert response.status_code == 404 and response.json()["code"] == 5, (method, path)
    assert c1.credentials(APP, CONN) == before


def test_credential_expiry(http: httpx.Client) -> None:
    with FakeConductorOne(credential_ttl=1000, token_ttl=10_000) as fake:
        issued = fake.add_connector(APP, CONN)
        assert issued is not None
        record = fake.credentials(APP, CONN)[0]
        assert parse_ts(record["expiresTime"]) > parse_ts(record["createdAt"])
        fake.advance(999)
        assert can_authenticate(http, fake, issued.client_id, issued.client_secret)
        fake.advance(2)
        assert not fake.is_valid_client(issued.client_id)
        assert not can_authenticate(http, fake, issued.client_id, issued.client_secret)


def test_credentials_without_expiry(c1: FakeConductorOne, http: httpx.Client) -> None:
    with FakeConductorOne(credential_ttl=None) as fake:
        fake.add_connector(APP, CONN)
        assert fake.credentials(APP, CONN)[0]["expiresTime"] is None
        rotated = Api(fake, http).rotate()
        assert "expiresTime" not in rotated["credential"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/apps/app-1/connectors/nope/credentials", {}, 404),
        ("POST", ROTATE_PATH, {"appId": APP, "connectorId": "nope"}, 404),
        ("POST", ROTATE_PATH, {"appId": APP}, 400),
        ("POST", ROTATE_PATH, None, 400),
        ("GET", f"{CRED_PATH}/does-not-exist", None, 404),
        ("POST", f"{CRED_PATH}/does-not-exist", {}, 404),
        ("GET", "/api/v1/nowhere", None, 404),
    ],
)
def test_api_refusals(api: Api, c1: FakeConductorOne, method: str, path: str, body: Any, status: int) -> None:
    response = api.call(method, path, json=body) if body is not None else api.call(method, path)
    assert response.status_code == status
    assert response.json()["code"] == {400: 3, 404: 5}[status]
    assert len(c1.credentials(APP, CONN)) == 1


def test_credential_of_another_connector_is_not_reachable(api: Api, c1: FakeConductorOne) -> None:
    other = c1.add_connector(APP, "conn-2")
    assert other is not None
    assert api.call("GET", f"{CRED_PATH}/{other.credential_id}").status_code == 404
    assert api.call("POST", f"{CRED_PATH}/{other.credential_id}", json={}).status_code == 404
    assert c1.is_valid_client(other.client_id)


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("status", [401, 403, 500, 502, 503])
def test_status_faults_hit_once_then_clear(api: Api, c1: FakeConductorOne, status: int) -> None:
    fault = c1.inject(Fault(status=status, path_prefix="/api/v1/apps"))
    response = api.call("GET", CONNECTOR_PATH)
    assert response.status_code == status
    assert response.json()["message"] == "injected fault"
    assert fault.hits == 1 and fault.arrived.is_set()
    assert api.call("GET", CONNECTOR_PATH).status_code == 200
    assert [r.faulted for r in c1.requests[-2:]] == [True, False]


def test_429_carries_retry_after(api: Api, c1: FakeConductorOne) -> None:
    c1.inject(Fault(status=429, retry_after=2))
    c1.inject(Fault(status=429, retry_after=0.25))
    first, second = api.call("GET", CONNECTOR_PATH), api.call("GET", CONNECTOR_PATH)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert (second.status_code, second.headers["Retry-After"]) == (429, "0.25")
    assert api.call("GET", CONNECTOR_PATH).status_code == 200


def test_faults_on_the_token_endpoint_use_oauth_errors(c1: FakeConductorOne, http: httpx.Client) -> None:
    client_id, secret = c1.register_client()
    c1.inject(Fault(status=401, path_prefix="/auth/v1/token"))
    c1.inject(Fault(status=503, path_prefix="/auth/v1/token"))
    refused = token_response(http, c1, client_id, secret)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    down = token_response(http, c1, client_id, secret)
    assert (down.status_code, down.json()["error"]) == (503, "server_error")
    assert token_response(http, c1, client_id, secret).status_code == 200


def test_fault_times_method_and_path_filters(api: Api, c1: FakeConductorOne) -> None:
    fault = c1.inject(Fault(status=500, path_prefix=ROTATE_PATH, method="POST", times=2))
    assert api.call("GET", CONNECTOR_PATH).status_code == 200  # other path
    assert api.call("GET", f"{ROTATE_PATH}/x").status_code == 404  # matching prefix, other method
    rotate = {"appId": APP, "connectorId": CONN}
    assert api.call("POST", ROTATE_PATH, json=rotate).status_code == 500
    assert api.call("POST", ROTATE_PATH, json=rotate).status_code == 500
    assert api.call("POST", ROTATE_PATH, json=rotate).status_code == 200
    assert fault.hits == 2
    assert len(c1.credentials(APP, CONN)) == 2  # faulted rotates never reached the handler


def test_persistent_fault_until_cleared(api: Api, c1: FakeConductorOne) -> None:
    c1.inject(Fault(status=503, times=None))
    assert [api.call("GET", CONNECTOR_PATH).status_code for _ in range(3)] == [503, 503, 503]
    c1.clear_faults()
    assert api.call("GET", CONNECTOR_PATH).status_code == 200


def test_raw_body_fault(api: Api, c1: FakeConductorOne) -> None:
    c1.inject(Fault(status=200, body="not json"))
    response = api.call("GET", CONNECTOR_PATH)
    assert (response.status_code, response.text) == (200, "not json")


def test_delay_then_pass_through(api: Api, c1: FakeConductorOne) -> None:
    fault = c1.inject(Fault(delay=0.05))
    assert api.call("GET", CONNECTOR_PATH).status_code == 200
    assert fault.hits == 1
    assert c1.requests[-1].faulted


def test_timeout_fault_never_answers(api: Api, c1: FakeConductorOne) -> None:
    fault = c1.inject(Fault(timeout=True))
    with pytest.raises(httpx.ReadTimeout):
        api.http.get(c1.url + CONNECTOR_PATH, headers=api.headers, timeout=0.3)
    assert fault.arrived.is_set()
    assert api.call("GET", CONNECTOR_PATH).status_code == 200


def test_hold_keeps_a_request_in_flight_until_released(api: Api, c1: FakeConductorOne) -> None:
    hold = threading.Event()
    fault = c1.inject(Fault(hold=hold, path_prefix=ROTATE_PATH, method="POST"))
    result: list[httpx.Response] = []
    rotate = {"appId": APP, "connectorId": CONN}
    worker = threading.Thread(target=lambda: result.append(api.call("POST", ROTATE_PATH, json=rotate)))
    worker.start()
    assert fault.arrived.wait(10)
    assert result == []
    assert len(c1.credentials(APP, CONN)) == 1  # the rotate has not happened yet
    hold.set()
    worker.join(10)
    assert result and result[0].status_code == 200  # released with no status: the real handler ran
    assert len(c1.credentials(APP, CONN)) == 2


def test_hold_with_status(api: Api, c1: FakeConductorOne) -> None:
    hold = threading.Event()
    fault = c1.inject(Fault(status=503, hold=hold))
    result: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: result.append(api.call("GET", CONNECTOR_PATH)))
    worker.start()
    assert fault.arrived.wait(10)
    hold.set()
    worker.join(10)
    assert result[0].status_code == 503


def test_stop_releases_held_requests(http: httpx.Client) -> None:
    fake = FakeConductorOne().start()
    fake.add_connector(APP, CONN)
    api = Api(fake, http)
    fault = fake.inject(Fault(hold=threading.Event()))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            api.call("GET", CONNECTOR_PATH)
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    assert fault.arrived.wait(10)
    fake.stop()
    worker.join(10)
    assert not worker.is_alive()
    fake.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{fake.port}/auth/v1/token", timeout=2)


def test_two_fakes_are_independent() -> None:
    with FakeConductorOne() as a, FakeConductorOne() as b:
        assert a.url != b.url
        client_id, _ = a.register_client()
        assert a.is_valid_client(client_id) and not b.is_valid_client(client_id)


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeConductorOne().url
