"""The Synced condition from ConductorOne's connector status, through the operator's health checker and the
fake over real HTTP: every documented SYNC_STATUS_* value maps to a condition with a reason."""

from __future__ import annotations

import base64

import pytest

from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_testkit.fake_conductorone import FakeConductorOne

APP, CONN = "app-1", "conn-1"


@pytest.mark.parametrize(
    ("state", "status", "reason", "words"),
    [
        ("SYNC_STATUS_DONE", "True", "SyncDone", "completed"),
        ("SYNC_STATUS_ERROR", "False", "SyncError", "failed"),
        ("SYNC_STATUS_DISABLED", "False", "ConnectorDisabled", "enable it in ConductorOne, on the connector's page"),
        ("SYNC_STATUS_UNSPECIFIED", "Unknown", "SyncStatusUnspecified", "SYNC_STATUS_UNSPECIFIED"),
    ],
)
async def test_each_sync_status_has_a_condition_with_a_reason(
    fake: FakeConductorOne, state: str, status: str, reason: str, words: str
) -> None:
    fake.add_connector(APP, CONN)
    fake.set_sync_status(APP, CONN, state, last_error="boom" if state.endswith("ERROR") else None)
    client_id, client_secret = fake.register_client()
    spec = CeligoConnectorSpec.model_validate({
        "credentialsSecretRef": {"name": "celigo-credentials"},
        "conductorOne": {"appId": APP, "connectorId": CONN, "credentialsSecretRef": {"name": "c1-api"}},
    })
    api_secret = {"metadata": {"name": "c1-api", "labels": {"celigo-operator.io/credentials": "true"}},
                  "data": {k: base64.b64encode(v.encode()).decode() for k, v in {
        "CONDUCTORONE_CLIENT_ID": client_id, "CONDUCTORONE_CLIENT_SECRET": client_secret}.items()}}
    checker = HealthChecker(OperatorConfig.from_env({}, conductorone_base_url=fake.url))
    try:
        cond = await checker.check_conductorone(spec, "ns", api_secret)
    finally:
        await checker.aclose()
    assert (cond.status, cond.reason) == (status, reason)
    assert words in cond.message and client_secret not in cond.message
