"""Secrets canary: a high-entropy token never shows up in any error, repr, traceback or log line."""

from __future__ import annotations

import logging
import secrets
import socket
import traceback
from collections.abc import Awaitable, Callable

import pytest

from celigo.conftest import list_shares
from celigo_operator.celigo import CeligoClient, CeligoError
from celigo_testkit.fake_celigo import FakeCeligo, Fault

CANARY = "cnry" + secrets.token_hex(24)


def exposed(exc: BaseException) -> str:
    """Everything an operator might print about an error."""
    chain = "".join(traceback.format_exception(exc))
    return "\n".join([str(exc), repr(exc), repr(exc.args), chain, repr(vars(exc))])


@pytest.fixture
def canary_fake(fake: FakeCeligo) -> FakeCeligo:
    fake.add_token("us", token=CANARY)
    return fake


FAULTS: list[tuple[str, Fault | None, Callable[[CeligoClient], Awaitable[object]]]] = [
    ("401", Fault(status=401), lambda c: c.token_info()),
    ("401-missing", Fault(status=401, body={"message": "Unauthorized"}), lambda c: list_shares(c)),
    ("403", Fault(status=403, body={"errors": [{"code": "forbidden", "message": "no"}]}), lambda c: list_shares(c)),
    ("404", None, lambda c: c.get_access_token("0" * 24)),
    ("422", None, lambda c: c.create_access_token("x", scopes={"_exportIds": []})),
    ("429", Fault(status=429, retry_after=0.01, times=None), lambda c: c.token_info()),
    ("500", Fault(status=500, times=None), lambda c: c.list_integrations()),
    ("timeout", Fault(timeout=True, times=None), lambda c: c.token_info()),
    ("bad-json", Fault(body=b"{"), lambda c: c.token_info()),
    ("html", Fault(body="<html/>", content_type="text/html"), lambda c: list_shares(c)),
    ("shape", Fault(body=[{"nope": CANARY}]), lambda c: list_shares(c)),
    ("echo", Fault(status=400, body={"errors": [{"code": "invalid_field", "message": f"bad {CANARY}"}]}),
     lambda c: c.token_info()),
    ("echo-401", Fault(status=401, body={"message": f"token {CANARY} unknown"}), lambda c: c.token_info()),
    ("post-5xx", Fault(status=503, method="POST"), lambda c: c.create_access_token("x")),
    ("display-masked", Fault(body={"token": "********"}), lambda c: c.display_access_token("x")),
]


@pytest.mark.parametrize(("name", "fault", "call"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_errors_never_carry_the_token(canary_fake: FakeCeligo, caplog: pytest.LogCaptureFixture, name: str,
                                            fault: Fault | None,
                                            call: Callable[[CeligoClient], Awaitable[object]]) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    if fault is not None:
        canary_fake.inject(fault)
    async with CeligoClient(CANARY, base_url=canary_fake.url_for("us"), timeout=0.2, max_retries=1,
                            backoff_base=0.01) as client:
        with pytest.raises(CeligoError) as info:
            await call(client)
        assert CANARY not in repr(client) and CANARY not in str(client)
    assert CANARY not in exposed(info.value), name
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert caplog.records  # the logs were captured at all
    assert CANARY not in caplog.text
    assert all(CANARY not in r.getMessage() for r in caplog.records)


async def test_connection_errors_never_carry_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with CeligoClient(CANARY, base_url=f"http://127.0.0.1:{port}", max_retries=1, backoff_base=0.01) as c:
        with pytest.raises(CeligoError) as info:
            await c.token_info()
    assert CANARY not in exposed(info.value) and CANARY not in caplog.text


async def test_successful_calls_log_no_token(canary_fake: FakeCeligo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with CeligoClient(CANARY, base_url=canary_fake.url_for("us"), page_limit=10) as c:
        await c.inventory()
        tokens = await c.list_access_tokens()
    assert caplog.records and CANARY not in caplog.text
    assert all(CANARY not in repr(t) for t in tokens)


def test_invalid_token_error_does_not_quote_it() -> None:
    bad = CANARY + "\n"
    with pytest.raises(ValueError) as info:
        CeligoClient(bad)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


async def test_displayed_value_stays_out_of_models_and_logs(canary_fake: FakeCeligo,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    record_id = canary_fake.token_record(CANARY)["_id"]
    async with CeligoClient(canary_fake.default_token(), base_url=canary_fake.url_for("us")) as c:
        assert await c.display_access_token(record_id) == CANARY
        record = await c.get_access_token(record_id)
    assert CANARY not in repr(record) and CANARY not in caplog.text
