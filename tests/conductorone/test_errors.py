"""Every error type the client raises, its retry policy, and Retry-After handling, via the fake's faults."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from celigo_operator.conductorone import (
    AuthenticationFailed,
    ConductorOneClient,
    ConductorOneError,
    Forbidden,
    MalformedResponse,
    NotFound,
    RateLimited,
    RotateOutcomeUnknown,
    SyncStatus,
    Timeout,
    Unavailable,
)
from celigo_operator.credentials import parse_client_secret
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


def test_every_error_is_a_conductorone_error() -> None:
    for cls in (AuthenticationFailed, Forbidden, NotFound, RateLimited, Unavailable, Timeout,
                MalformedResponse, RotateOutcomeUnknown):
        assert issubclass(cls, ConductorOneError)


# ---------------------------------------------------------------- authentication


async def test_unknown_api_credentials(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    client = make_client(*generate_client_credentials(fake.tenant_host))
    with pytest.raises(AuthenticationFailed) as info:
        await client.verify()
    assert info.value.status == 401 and info.value.operation == "verify"
    with pytest.raises(AuthenticationFailed):
        await client.get_connector_status(APP, CONN)
    assert fake.count("POST", TOKEN) == 2  # refused credentials are never retried
    assert fake.count(path_prefix="/api/") == 0


async def test_credentials_for_another_tenant_are_refused(fake: FakeConductorOne,
                                                          make_client: ClientFactory) -> None:
    # Registered key, but the client id names another tenant: the assertion's aud is wrong.
    client_id, secret = generate_client_credentials("other.conductor.one")
    fake.register_public_key(client_id, parse_client_secret(secret).public_key)
    with pytest.raises(AuthenticationFailed):
        await make_client(client_id, secret).verify()


async def test_persistent_401_on_the_api_reauthenticates_once(fake: FakeConductorOne,
                                                             client: ConductorOneClient) -> None:
    fake.inject(Fault(status=401, path_prefix="/api/", times=None))
    with pytest.raises(AuthenticationFailed) as info:
        await client.get_connector_status(APP, CONN)
    assert info.value.status == 401
    assert fake.count("GET", CONNECTOR_PATH) == 2
    assert fake.count("POST", TOKEN) == 2


async def test_401_on_rotate_reauthenticates_and_rotates_exactly_once(
    fake: FakeConductorOne, client: ConductorOneClient
) -> None:
    fake.inject(Fault(status=401, path_prefix=ROTATE_PATH, method="POST"))
    await client.rotate_credential(APP, CONN)
    assert len(fake.credentials(APP, CONN)) == 2


async def test_token_endpoint_403_is_not_authentication_failure(fake: FakeConductorOne,
                                                                client: ConductorOneClient) -> None:
    fake.inject(Fault(status=403, path_prefix=TOKEN))
    with pytest.raises(Forbidden):
        await client.verify()


# ---------------------------------------------------------------- 403 / 404 / other 4xx


@pytest.mark.parametrize(
    ("status", "error"), [(403, Forbidden), (404, NotFound), (400, ConductorOneError), (409, ConductorOneError)]
)
async def test_client_errors_are_typed_and_not_retried(
    fake: FakeConductorOne, client: ConductorOneClient, status: int, error: type[ConductorOneError]
) -> None:
    fake.inject(Fault(status=status, path_prefix="/api/", times=None))
    with pytest.raises(error) as info:
        await client.get_connector_status(APP, CONN)
    assert type(info.value) is error
    assert info.value.status == status
    assert info.value.operation == "get_connector_status"
    assert fake.count("GET", CONNECTOR_PATH) == 1


# ---------------------------------------------------------------- 429 / 5xx / timeouts: retried


async def test_429_is_retried_honouring_retry_after(
    fake: FakeConductorOne, client: ConductorOneClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="celigo_operator.conductorone")
    fake.inject(Fault(status=429, retry_after=0.02, path_prefix=CONNECTOR_PATH, times=2))
    status = await client.get_connector_status(APP, CONN)
    assert status.status is SyncStatus.DONE
    assert fake.count("GET", CONNECTOR_PATH) == 3
    waits = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(waits) == 2 and all(m.endswith("in 0.02s") for m in waits)


async def test_429_exhausting_retries_raises_rate_limited(fake: FakeConductorOne,
                                                         make_client: ClientFactory) -> None:
    client = make_client(max_retries=2)
    fake.inject(Fault(status=429, retry_after=0.01, path_prefix=CONNECTOR_PATH, times=None))
    with pytest.raises(RateLimited) as info:
        await client.get_connector_status(APP, CONN)
    assert info.value.retry_after == pytest.approx(0.01)
    assert fake.count("GET", CONNECTOR_PATH) == 3


async def test_retry_after_longer_than_allowed_is_left_to_the_caller(
    fake: FakeConductorOne, make_client: ClientFactory
) -> None:
    client = make_client(max_retry_wait=5)
    fake.inject(Fault(status=429, retry_after=120, path_prefix=CONNECTOR_PATH))
    with pytest.raises(RateLimited) as info:
        await client.get_connector_status(APP, CONN)
    assert info.value.retry_after == 120
    assert fake.count("GET", CONNECTOR_PATH) == 1


async def test_429_without_retry_after_uses_backoff(
    fake: FakeConductorOne, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="celigo_operator.conductorone")
    client = make_client(backoff_base=0.004, max_backoff=0.01)
    fake.inject(Fault(status=429, path_prefix=CONNECTOR_PATH, times=3))
    await client.get_connector_status(APP, CONN)
    waits = [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records if "retry" in r.getMessage()]
    assert waits == ["0.00s", "0.01s", "0.01s"]  # 0.004, 0.008, then capped at 0.01


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_then_succeeds(fake: FakeConductorOne, client: ConductorOneClient,
                                            status: int) -> None:
    fake.inject(Fault(status=status, path_prefix=CONNECTOR_PATH, times=2))
    assert (await client.get_connector_status(APP, CONN)).status is SyncStatus.DONE
    assert fake.count("GET", CONNECTOR_PATH) == 3


async def test_503_retry_after_is_honoured(
    fake: FakeConductorOne, client: ConductorOneClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="celigo_operator.conductorone")
    fake.inject(Fault(status=503, retry_after=0.03, path_prefix=CONNECTOR_PATH))
    await client.get_connector_status(APP, CONN)
    waits = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(waits) == 1 and waits[0].endswith("in 0.03s")


async def test_persistent_5xx_raises_unavailable(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    client = make_client(max_retries=3)
    fake.inject(Fault(status=503, retry_after=0.001, path_prefix=CONNECTOR_PATH, times=None))
    with pytest.raises(Unavailable) as info:
        await client.get_connector_status(APP, CONN)
    assert info.value.status == 503 and info.value.retry_after == pytest.approx(0.001)
    assert fake.count("GET", CONNECTOR_PATH) == 4


async def test_no_retries_when_max_retries_is_zero(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    fake.inject(Fault(status=503, path_prefix=CONNECTOR_PATH))
    with pytest.raises(Unavailable):
        await make_client(max_retries=0).get_connector_status(APP, CONN)
    assert fake.count("GET", CONNECTOR_PATH) == 1


async def test_token_endpoint_faults_are_retried(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    fake.inject(Fault(status=503, path_prefix=TOKEN))
    fake.inject(Fault(status=429, retry_after=0.001, path_prefix=TOKEN))
    await client.verify()
    assert fake.count("POST", TOKEN) == 3


async def test_timeout_is_retried(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    fault = fake.inject(Fault(timeout=True, path_prefix=CONNECTOR_PATH))
    client = make_client(timeout=1.0)
    assert (await client.get_connector_status(APP, CONN)).status is SyncStatus.DONE
    assert fault.hits == 1


async def test_persistent_timeout_raises_timeout(fake: FakeConductorOne, make_client: ClientFactory) -> None:
    fault = fake.inject(Fault(timeout=True, path_prefix=CONNECTOR_PATH, times=None))
    client = make_client(timeout=1.0, max_retries=1)
    with pytest.raises(Timeout) as info:
        await client.get_connector_status(APP, CONN)
    assert "timed out" in str(info.value)
    assert fault.hits == 2


async def test_connection_refused_is_unavailable(make_client: ClientFactory) -> None:
    with FakeConductorOne() as gone:
        url = gone.url
    client = make_client(base_url=url, max_retries=1)
    with pytest.raises(Unavailable) as info:
        await client.verify()
    assert info.value.status is None


# ---------------------------------------------------------------- rotate is never retried


@pytest.mark.parametrize("status", [500, 503])
async def test_rotate_5xx_is_outcome_unknown_and_not_retried(
    fake: FakeConductorOne, client: ConductorOneClient, status: int
) -> None:
    fake.inject(Fault(status=status, path_prefix=ROTATE_PATH, method="POST", times=None))
    with pytest.raises(RotateOutcomeUnknown) as info:
        await client.rotate_credential(APP, CONN)
    assert isinstance(info.value.__cause__, Unavailable)
    assert info.value.status == status and info.value.sent
    assert fake.count("POST", ROTATE_PATH) == 1


async def test_rotate_timeout_is_outcome_unknown_and_not_retried(
    fake: FakeConductorOne, make_client: ClientFactory
) -> None:
    fault = fake.inject(Fault(timeout=True, path_prefix=ROTATE_PATH, method="POST", times=None))
    client = make_client(timeout=1.0)
    with pytest.raises(RotateOutcomeUnknown) as info:
        await client.rotate_credential(APP, CONN)
    assert isinstance(info.value.__cause__, Timeout)
    assert fault.hits == 1


async def test_rotate_without_a_token_is_a_plain_error(fake: FakeConductorOne,
                                                       make_client: ClientFactory) -> None:
    """The token endpoint failing means the rotate was never sent: no doubt about its outcome."""
    fake.inject(Fault(status=503, path_prefix=TOKEN, times=None))
    with pytest.raises(Unavailable) as info:
        await make_client(max_retries=1).rotate_credential(APP, CONN)
    assert not isinstance(info.value, RotateOutcomeUnknown)
    assert info.value.sent is False
    assert fake.count("POST", TOKEN) == 2  # the token request itself is retried
    assert fake.count("POST", ROTATE_PATH) == 0


async def test_rotate_to_an_unreachable_server_is_a_plain_error(make_client: ClientFactory) -> None:
    with FakeConductorOne() as gone:
        url = gone.url
    with pytest.raises(Unavailable) as info:
        await make_client(base_url=url).rotate_credential(APP, CONN)
    assert not isinstance(info.value, RotateOutcomeUnknown)
    assert info.value.sent is False


async def test_rotate_429_is_rate_limited_and_not_retried(fake: FakeConductorOne,
                                                         client: ConductorOneClient) -> None:
    fake.inject(Fault(status=429, retry_after=3, path_prefix=ROTATE_PATH, method="POST"))
    with pytest.raises(RateLimited) as info:
        await client.rotate_credential(APP, CONN)
    assert info.value.retry_after == 3
    assert fake.count("POST", ROTATE_PATH) == 1
    assert len(fake.credentials(APP, CONN)) == 1


async def test_revoke_is_retried(fake: FakeConductorOne, client: ConductorOneClient,
                                 connector: IssuedCredential) -> None:
    fake.inject(Fault(status=503, path_prefix=f"{CRED_PATH}/", method="POST"))
    await client.revoke_credential(APP, CONN, connector.credential_id)
    assert not fake.is_valid_client(connector.client_id)


# ---------------------------------------------------------------- malformed answers


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        "{}",
        '{"connectorView": {}}',
        '{"connector": {"status": {"status": "SYNC_STATUS_DONE"}}}',
        '{"connectorView": {"connector": []}}',
        '{"connectorView": {"connector": {"status": "DONE"}}}',
        '{"connectorView": {"connector": {"status": {"status": "SYNC_STATUS_DONE", "startedAt": "yesterday"}}}}',
        '{"connectorView": {"connector": {"status": {"status": "SYNC_STATUS_ERROR", "lastError": 7}}}}',
    ],
)
async def test_malformed_status_answers(fake: FakeConductorOne, client: ConductorOneClient, body: str) -> None:
    fake.inject(Fault(status=200, body=body, path_prefix=CONNECTOR_PATH))
    with pytest.raises(MalformedResponse) as info:
        await client.get_connector_status(APP, CONN)
    assert info.value.operation == "get_connector_status"
    assert fake.count("GET", CONNECTOR_PATH) == 1  # a malformed answer is not retried


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"connectorView": {"connector": {}}}', SyncStatus.UNSPECIFIED),
        ('{"connectorView": {"connector": {"status": {"status": "SYNC_STATUS_PAUSED"}}}}', SyncStatus.UNKNOWN),
        ('{"connectorView": {"connector": {"status": {"status": "SYNC_STATUS_RUNNING", '
         '"startedAt": "2026-01-01T00:00:00.123456789Z"}}}}', SyncStatus.RUNNING),
    ],
)
async def test_tolerated_status_answers(fake: FakeConductorOne, client: ConductorOneClient,
                                        body: str, expected: SyncStatus) -> None:
    fake.inject(Fault(status=200, body=body, path_prefix=CONNECTOR_PATH))
    assert (await client.get_connector_status(APP, CONN)).status is expected


@pytest.mark.parametrize(
    "body",
    [
        '{"token_type": "Bearer", "expires_in": 60}',
        '{"access_token": "", "expires_in": 60}',
        '{"access_token": "abc", "expires_in": "soon"}',
        "<html>",
    ],
)
async def test_malformed_token_answers(fake: FakeConductorOne, client: ConductorOneClient, body: str) -> None:
    fake.inject(Fault(status=200, body=body, path_prefix=TOKEN))
    with pytest.raises(MalformedResponse):
        await client.verify()


@pytest.mark.parametrize(
    "body",
    [
        '{"credential": {"id": "c1"}}',
        '{"clientSecret": "s"}',
        '{"credential": {"clientId": "x", "clientSecret": "s"}}',
        '{"credential": "c1", "clientSecret": "s"}',
        # The answer shapes of the path form that left the API: a secret outside the credential is not read.
        '{"credential": {"id": "c1", "clientId": "x"}, "clientSecret": "s"}',
        '{"connectorCredential": {"id": "c1", "clientId": "x", "clientSecret": "s"}}',
    ],
)
async def test_malformed_rotate_answers(fake: FakeConductorOne, client: ConductorOneClient, body: str) -> None:
    """A 200 we cannot read may still have created a credential (whose secret is now lost): unknown."""
    fake.inject(Fault(status=200, body=body, path_prefix=ROTATE_PATH, method="POST"))
    with pytest.raises(RotateOutcomeUnknown) as info:
        await client.rotate_credential(APP, CONN)
    assert isinstance(info.value.__cause__, MalformedResponse)
    assert '"s"' not in str(info.value) and '"s"' not in str(info.value.__cause__)
    assert fake.count("POST", ROTATE_PATH) == 1


async def test_malformed_credential_answer(fake: FakeConductorOne, client: ConductorOneClient) -> None:
    fake.inject(Fault(status=200, body='{"credential": {"id": "c", "createdAt": 5}}'))
    with pytest.raises(MalformedResponse):
        await client.get_credential(APP, CONN, "c")
