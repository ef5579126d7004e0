"""Contract of the fake ConductorOne knobs the rotation tests rely on: faults scoped to a client kind
(the operator's API client vs a connector credential), rotation state, held requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from celigo_testkit.fake_conductorone import FakeConductorOne, Fault
from fakes.test_fake_conductorone_api import (
    APP,
    CONN,
    CRED_PATH,
    ROTATE_PATH,
    Api,
    can_authenticate,
    token_response,
)

ROTATE = {"appId": APP, "connectorId": CONN}


@pytest.fixture
def c1() -> Iterator[FakeConductorOne]:
    with FakeConductorOne() as fake:
        yield fake


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def test_fault_scoped_to_connector_clients_spares_api_clients(c1: FakeConductorOne, http: httpx.Client) -> None:
    issued = c1.add_connector(APP, CONN)
    assert issued is not None
    api_id, api_secret = c1.register_client()
    fault = c1.inject(Fault(path_prefix="/auth/v1/token", client_kind="connector", status=503, times=None))
    assert can_authenticate(http, c1, api_id, api_secret)
    assert fault.hits == 0
    assert token_response(http, c1, issued.client_id, issued.client_secret).status_code == 503
    assert fault.hits == 1 and fault.arrived.is_set()


def test_fault_scoped_to_api_clients_by_bearer(c1: FakeConductorOne, http: httpx.Client) -> None:
    c1.add_connector(APP, CONN)
    api = Api(c1, http)
    c1.inject(Fault(path_prefix=ROTATE_PATH, client_kind="connector", status=500))
    assert api.call("POST", ROTATE_PATH, json=ROTATE).status_code == 200  # an API client: not matched
    c1.inject(Fault(path_prefix=ROTATE_PATH, client_kind="api", status=500))
    assert api.call("POST", ROTATE_PATH, json=ROTATE).status_code == 500


def test_held_rotate_completes_after_release_even_if_the_caller_left(c1: FakeConductorOne) -> None:
    c1.add_connector(APP, CONN)
    gate = threading.Event()
    with httpx.Client(timeout=10.0) as http:
        api = Api(c1, http)
        fault = c1.inject(Fault(path_prefix=ROTATE_PATH, method="POST", hold=gate))
        before = len(c1.credentials(APP, CONN))
        with httpx.Client(timeout=0.5) as impatient:
            with pytest.raises(httpx.ReadTimeout):
                impatient.post(c1.url + ROTATE_PATH, json=ROTATE, headers=api.headers)
        assert fault.arrived.is_set()
        gate.set()

        def minted() -> bool:
            return len(c1.credentials(APP, CONN)) == before + 1

        for _ in range(200):
            if minted():
                break
            threading.Event().wait(0.01)
        assert minted(), "a rotate whose answer was lost still created a credential (an orphan)"


def test_revoked_credential_cannot_authenticate_and_others_can(c1: FakeConductorOne, http: httpx.Client) -> None:
    first = c1.add_connector(APP, CONN)
    assert first is not None
    api = Api(c1, http)
    second = api.rotate()
    assert can_authenticate(http, c1, first.client_id, first.client_secret)
    assert can_authenticate(http, c1, second["credential"]["clientId"], second["credential"]["clientSecret"])  # they coexist
    assert api.call("POST", f"{CRED_PATH}/{first.credential_id}", json={}).status_code == 200
    assert not can_authenticate(http, c1, first.client_id, first.client_secret)
    assert can_authenticate(http, c1, second["credential"]["clientId"], second["credential"]["clientSecret"])
    assert [c["revoked"] for c in c1.credentials(APP, CONN)] == [True, False]
