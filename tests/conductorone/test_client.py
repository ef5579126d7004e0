"""ConductorOneClient against the fake over real HTTP: status, rotate, get, revoke, token caching."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from celigo_operator.conductorone import (
    AuthenticationFailed,
    ConductorOneClient,
    NotFound,
    RotatedCredential,
    RotateOutcomeUnknown,
    SyncStatus,
)
from celigo_operator.credentials import CredentialFormatError
from celigo_testkit.credentials import generate_client_credentials
from celigo_testkit.fake_conductorone import FakeConductorOne, Fault, IssuedCredential

APP = "app-1"  # the connector the `connector` fixture creates
CONN = "conn-1"
ClientFactory = Callable[..., ConductorOneClient]
TOKEN = "/auth/v1/token"
CONNECTOR_PATH = f"/api/v1/apps/{APP}/connectors/{CONN}"
ROTATE_PATH = "/api/v1/apps/connectors/credentials"
CRED_PATH = f"{CONNECTOR_PATH}/credentials"

pytestmark = pytest.mark.usefixtures("connector")


# ---------------------------------------------------------------- construction


def test_default_base_url_is_the_tenant_host(api_credentials: tuple[str, str]) -> None:
    client = ConductorOneClient(*api_credentials)
    assert client.base_url == "https://example.conductor.one"
    assert client.tenant_host == "example.conductor.one"
    assert client.client_id == api_credentials[0]


def test_malformed_credentials_are_refused_before_any_request(fake: FakeConductorOne) -> None:
    client_id, secret = generate_client_credentials("example.conductor.one")
    with pytest.raises(CredentialFormatError, match="invalid client id"):
        ConductorOneClient("no-at-sign", secret, base_url=fake.url)
    with pytest.raises(CredentialFormatError, match="invalid client secret") as info:
        ConductorOneClient(client_id, secret.replace(":v1:", ":v2:"), base_url=fake.url)
    assert secret.split(":")[3] not in str(info.value)
    assert fake.count() == 0


async def test_context_manager_closes_its_own_http_client(fake: FakeConductorOne,
                                                          api_credentials: tuple[str, str]) -> None:
    async with ConductorOneClient(*api_credentials, base_url=fake.url, clock=fake.now) as client:
        await client.verify()
    assert client._http.is_closed


# ---------------------------------------------------------------- connector status


@pytest.mark.parametrize(
    ("state", "error", "expected"),
    [
        ("SYNC_STATUS_RUNNING", None, SyncStatus.RUNNING),
        ("SYNC_STATUS_DONE", None, SyncStatus.DONE),
        ("SYNC_STATUS_ERROR", "celigo: 401 invalid token", SyncStatus.ERROR),
        ("SYNC_STATUS_DISABLED", None, SyncStatus.DISABLED),
        ("SYNC_STATUS_UNSPECIFIED", None, SyncStatus.UNSPECIFIED),
    ],
)
async def test_status_for_each_state(
    fake: FakeConductorOne, client: ConductorOneClient, state: str, error: str | None, expected: SyncStatus
) -> None:
    started = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    completed = datetime(2026, 3, 1, 12, 4, 0, tzinfo=UTC)
    fake.set_sync_status(APP, CONN, state, last_error=error, started_at=started,
                         completed_at=completed)
    status = await client.get_connector_status(APP, CONN)
    assert status.status is expected
    assert status.raw_status == state
    assert status.last_error == error
    assert status.started_at == started
    assert status.completed_at == completed
    assert status.updated_at is not None and status.updated_at.tzinfo is not None


async def test_status_follows_running_done_error(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    seen = []
    for state, error in [("RUNNING", None), ("DONE", None), ("RUNNING", None), ("ERROR", "boom")]:
        fake.set_sync_status(APP, CONN, state, last_error=error)
        seen.append(await client.get_connector_status(APP, CONN))
    assert [s.status for s in seen] == [SyncStatus.RUNNING, SyncStatus.DONE, SyncStatus.RUNNING, SyncStatus.ERROR]
    assert [s.last_error for s in seen] == [None, None, None, "boom"]
    assert seen[1].completed_at is not None and seen[1].started_at is not None
    assert seen[1].completed_at >= seen[1].started_at


async def test_unknown_connector_is_not_found_and_not_retried(fake: FakeConductorOne,
                                                              client: ConductorOneClient) -> None:
    with pytest.raises(NotFound) as info:
        await client.get_connector_status(APP, "missing")
    assert info.value.status == 404
    assert fake.count("GET", f"/api/v1/apps/{APP}/connectors/missing") == 1


async def test_ids_are_quoted_and_must_not_be_empty(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    with pytest.raises(ValueError):
        await client.get_connector_status("", CONN)
    with pytest.raises(NotFound):
        # Without quoting this would address the connector's credentials route.
        await client.get_connector_status(APP, f"{CONN}/credentials")
    assert fake.count(path_prefix="/api/") == 1


# ---------------------------------------------------------------- rotate / get / revoke


async def test_rotate_gives_credentials_that_authenticate(
    fake: FakeConductorOne, client: ConductorOneClient, make_client: ClientFactory
) -> None:
    rotated = await client.rotate_credential(APP, CONN)
    assert isinstance(rotated, RotatedCredential)
    cred = rotated.credential
    assert cred.app_id == APP and cred.connector_id == CONN
    assert cred.client_id is not None and rotated.client_id == cred.client_id
    assert cred.created_at is not None and cred.expires_at is not None and cred.expires_at > cred.created_at
    assert cred.deleted_at is None
    assert rotated.client_secret not in repr(rotated)
    assert fake.is_valid_client(cred.client_id)
    await make_client(cred.client_id, rotated.client_secret).verify()  # new credentials get a token
    assert len(fake.credentials(APP, CONN)) == 2


async def test_rotated_credentials_coexist_until_revoked(
    fake: FakeConductorOne, client: ConductorOneClient, make_client: ClientFactory, connector: IssuedCredential
) -> None:
    first = await client.rotate_credential(APP, CONN)
    second = await client.rotate_credential(APP, CONN)
    for client_id, secret in [(connector.client_id, connector.client_secret),
                              (first.client_id, first.client_secret),
                              (second.client_id, second.client_secret)]:
        assert client_id is not None
        await make_client(client_id, secret).verify()

    await client.revoke_credential(APP, CONN, connector.credential_id)
    with pytest.raises(AuthenticationFailed):
        await make_client(connector.client_id, connector.client_secret).verify()
    assert first.client_id is not None
    await make_client(first.client_id, first.client_secret).verify()
    revoked = await client.get_credential(APP, CONN, connector.credential_id)
    assert revoked.deleted_at is not None


async def test_get_credential(fake: FakeConductorOne, client: ConductorOneClient,
                              connector: IssuedCredential) -> None:
    cred = await client.get_credential(APP, CONN, connector.credential_id)
    assert cred.id == connector.credential_id
    assert cred.client_id == connector.client_id
    assert cred.expires_at is not None
    with pytest.raises(NotFound):
        await client.get_credential(APP, CONN, "nope")


async def test_revoke_twice_and_unknown(client: ConductorOneClient, connector: IssuedCredential) -> None:
    await client.revoke_credential(APP, CONN, connector.credential_id)
    await client.revoke_credential(APP, CONN, connector.credential_id)
    with pytest.raises(NotFound):
        await client.revoke_credential(APP, CONN, "nope")


async def test_rotate_that_revokes_the_previous_one(make_client: ClientFactory) -> None:
    with FakeConductorOne(rotate_revokes_previous=True) as fake:
        issued = fake.add_connector(APP, CONN)
        assert issued is not None
        client = make_client(*fake.register_client(), base_url=fake.url, clock=fake.now)
        rotated = await client.rotate_credential(APP, CONN)
        assert not fake.is_valid_client(issued.client_id)
        assert rotated.client_id is not None and fake.is_valid_client(rotated.client_id)
        with pytest.raises(AuthenticationFailed):
            await make_client(issued.client_id, issued.client_secret, base_url=fake.url, clock=fake.now).verify()


async def test_every_call_is_the_documented_request(fake: FakeConductorOne, client: ConductorOneClient,
                                                   connector: IssuedCredential) -> None:
    """Method, path and body of each call as ConductorOne's API defines them (the fake logs bodies with
    secrets redacted); an answer in the old shape is not what this client reads."""
    await client.get_connector_status(APP, CONN)
    rotated = await client.rotate_credential(APP, CONN)
    await client.get_credential(APP, CONN, rotated.credential.id)
    await client.revoke_credential(APP, CONN, connector.credential_id)
    seen = [(r.method, r.path, r.body) for r in fake.requests if r.client_id and "@" in r.client_id]
    assert seen[0][:2] == ("POST", "/auth/v1/token")
    assert seen[0][2] == {"grant_type": "client_credentials", "client_id": client.client_id,
                          "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                          "client_assertion": "<redacted>"}
    assert seen[1:] == [
        ("GET", CONNECTOR_PATH, None),
        ("POST", ROTATE_PATH, {"appId": APP, "connectorId": CONN}),
        ("GET", f"{CRED_PATH}/{rotated.credential.id}", None),
        ("POST", f"{CRED_PATH}/{connector.credential_id}", {}),
    ]
    assert rotated.client_secret not in repr(fake.requests)


# ---------------------------------------------------------------- token caching


async def test_one_token_for_many_calls(fake: FakeConductorOne, client: ConductorOneClient,
                                        connector: IssuedCredential) -> None:
    await client.get_connector_status(APP, CONN)
    await client.get_credential(APP, CONN, connector.credential_id)
    await client.rotate_credential(APP, CONN)
    for _ in range(5):
        await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 1
    assert fake.count(path_prefix="/api/") == 8


async def test_concurrent_calls_share_one_token_request(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    results = await asyncio.gather(*(client.get_connector_status(APP, CONN) for _ in range(10)))
    assert all(r.status is SyncStatus.DONE for r in results)
    assert fake.count("POST", TOKEN) == 1


async def test_token_refused_early_is_replaced_once(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    await client.get_connector_status(APP, CONN)
    fake.inject(Fault(status=401, path_prefix=CONNECTOR_PATH))  # e.g. the server dropped its token early
    status = await client.get_connector_status(APP, CONN)
    assert status.status is SyncStatus.DONE
    assert fake.count("POST", TOKEN) == 2
    assert fake.count("GET", CONNECTOR_PATH, status=401) == 1


async def test_token_is_renewed_before_it_expires(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    client = make_client(refresh_margin=60)
    await client.get_connector_status(APP, CONN)
    fake.advance(3530)  # 70 s left: still reused
    await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 1
    fake.advance(20)  # 50 s left, inside the margin: renewed before the server would refuse it
    await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 2
    assert fake.count("GET", CONNECTOR_PATH, status=401) == 0


async def test_refresh_margin_is_capped_for_short_lived_tokens(fake: FakeConductorOne,
                                                               make_client: ClientFactory) -> None:
    fake.token_ttl = 30  # shorter than the margin: reuse for half its life instead of never
    client = make_client(refresh_margin=60)
    await client.get_connector_status(APP, CONN)
    fake.advance(14)
    await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 1
    fake.advance(2)
    await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 2


async def test_verify_always_asks_for_a_fresh_token(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    await client.verify()
    await client.verify()
    assert fake.count("POST", TOKEN, status=200) == 2


async def test_revoked_api_credentials_fail_verify(fake: FakeConductorOne, client: ConductorOneClient,
                                                   api_credentials: tuple[str, str]) -> None:
    await client.verify()
    fake.revoke_client(api_credentials[0])
    with pytest.raises(AuthenticationFailed):
        await client.verify()
    with pytest.raises(AuthenticationFailed):
        await client.get_connector_status(APP, CONN)


async def test_rotate_in_flight_when_interrupted_really_happened(
    fake: FakeConductorOne, make_client: ClientFactory
) -> None:
    """A held rotate: the caller gives up, yet ConductorOne creates the credential afterwards."""
    hold = threading.Event()
    fault = fake.inject(Fault(hold=hold, path_prefix=ROTATE_PATH, method="POST"))
    client = make_client(timeout=1.0)
    await client.verify()
    with pytest.raises(RotateOutcomeUnknown):
        await client.rotate_credential(APP, CONN)
    assert fault.hits == 1 and fake.count("POST", ROTATE_PATH) == 0
    hold.set()
    for _ in range(500):
        if len(fake.credentials(APP, CONN)) == 2:
            break
        await asyncio.sleep(0.01)
    assert len(fake.credentials(APP, CONN)) == 2  # the outcome the caller could not see
    assert fault.hits == 1  # never retried
