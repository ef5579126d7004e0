"""Secrets canary: no client secret, assertion or access token in logs, reprs or exception text."""

from __future__ import annotations

import base64
import json
import logging
import threading
import traceback
from urllib.parse import parse_qs

import httpx
import pytest

from celigo_operator.conductorone import ConductorOneClient, ConductorOneError
from celigo_operator.credentials import CredentialFormatError
from celigo_testkit.fake_conductorone import FakeConductorOne, Fault, IssuedCredential

APP = "app-1"  # the connector the `connector` fixture creates
CONN = "conn-1"
CONNECTOR_PATH = f"/api/v1/apps/{APP}/connectors/{CONN}"
ROTATE_PATH = "/api/v1/apps/connectors/credentials"
CRED_PATH = f"{CONNECTOR_PATH}/credentials"


def secret_pieces(secret: str) -> list[str]:
    """The secret itself, its JWK payload and the private scalar 'd'."""
    payload = secret.split(":")[3]
    jwk = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return [secret, payload, jwk["d"]]


def exception_texts(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return texts


async def test_secrets_never_leak(
    fake: FakeConductorOne,
    api_credentials: tuple[str, str],
    connector: IssuedCredential,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assertions: list[str] = []
    bearers: list[str] = []

    async def capture(request: httpx.Request) -> None:
        """Collect what went over the wire, to check none of it reappears anywhere else."""
        if request.url.path == "/auth/v1/token":
            assertions.extend(parse_qs(request.content.decode())["client_assertion"])
        auth = request.headers.get("Authorization")
        if auth:
            bearers.append(auth.split(" ", 1)[1])

    texts: list[str] = []
    tokens: set[str] = set()
    http = httpx.AsyncClient(event_hooks={"request": [capture]})
    client = ConductorOneClient(*api_credentials, base_url=fake.url, http=http, timeout=1.0,
                                max_retries=1, backoff_base=0.001, clock=fake.now)

    async def expect_error(coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except ConductorOneError as exc:
            texts.extend(exception_texts(exc))
        else:
            raise AssertionError("expected a ConductorOneError")

    try:
        await client.verify()
        tokens.update(fake.issued_tokens())
        status = await client.get_connector_status(APP, CONN)
        rotated = await client.rotate_credential(APP, CONN)
        cred = await client.get_credential(APP, CONN, rotated.credential.id)
        texts += [repr(client), str(client), repr(status), repr(rotated), str(rotated), repr(cred),
                  repr(client._tokens), repr(client._tokens._token), repr(client._secret)]
        await client.revoke_credential(APP, CONN, connector.credential_id)
        tokens.update(fake.issued_tokens())

        for fault in [
            Fault(status=401, path_prefix="/api/", times=2),
            Fault(status=403, path_prefix="/api/"),
            Fault(status=429, retry_after=0.001, path_prefix="/api/", times=2),
            Fault(status=503, path_prefix="/api/", times=2),
            Fault(timeout=True, path_prefix="/api/", times=2),
            Fault(status=200, body="not json", path_prefix="/api/"),
        ]:
            fake.inject(fault)
            await expect_error(client.get_connector_status(APP, CONN))
            tokens.update(fake.issued_tokens())
        for fault in [Fault(status=503, path_prefix=ROTATE_PATH), Fault(timeout=True, path_prefix=ROTATE_PATH),
                      Fault(status=200, body='{"clientSecret": "x"}', path_prefix=ROTATE_PATH)]:
            fake.inject(fault)
            await expect_error(client.rotate_credential(APP, CONN))
        fake.inject(Fault(status=401, path_prefix="/auth/v1/token"))
        await expect_error(client.verify())

        # A held request while the caller gives up, then the revoked API client itself.
        hold = threading.Event()
        fake.inject(Fault(hold=hold, path_prefix="/api/", times=2))
        await expect_error(client.get_connector_status(APP, CONN))
        hold.set()
        fake.revoke_client(api_credentials[0])
        await expect_error(client.verify())
        await expect_error(client.get_connector_status(APP, CONN))
    finally:
        await client.aclose()
        await http.aclose()

    try:
        ConductorOneClient(api_credentials[0], api_credentials[1].replace(":v1:", ":v9:"))
    except CredentialFormatError as exc:
        texts.extend(exception_texts(exc))

    canaries = [*secret_pieces(api_credentials[1]), *secret_pieces(rotated.client_secret),
                *assertions, *tokens, *bearers]
    assert assertions and bearers and tokens  # the canaries really were collected
    haystack = "\n".join([caplog.text, *(r.getMessage() for r in caplog.records), *texts])
    assert "get_connector_status" in haystack and "rotate_credential" in haystack  # logs/errors were captured
    for canary in canaries:
        assert canary not in haystack
    # The fake's own request log carries no secrets either.
    recorded = repr(fake.requests)
    for canary in canaries:
        assert canary not in recorded
