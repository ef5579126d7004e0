"""The pass's stages that decide without I/O of their own: verify-before-roll (with a stub health check), the
rollout state apply and observe share, and the step table the rotation machine runs."""

from __future__ import annotations

from typing import Any

from celigo_operator import api, manifests
from celigo_operator.conditions import Cond
from celigo_operator.health import CeligoHealth
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.reading import Snapshot
from celigo_operator.verify import verify
from celigo_testkit.credentials import generate_client_credentials

KEY = b"k" * 32
OWNER = Owner(name="c", namespace="ns", uid="u")
SPEC = api.CeligoConnectorSpec.model_validate({"credentialsSecretRef": {"name": "src"}})


def _creds(token: str) -> ConnectorCredentials:
    client_id, client_secret = generate_client_credentials("t.conductor.one")
    return ConnectorCredentials(client_id=client_id, client_secret=client_secret, access_token=token)


class StubHealth:
    def __init__(self, health: CeligoHealth) -> None:
        self.health, self.calls = health, 0

    async def check_celigo(self, region: str, token: str, **_: Any) -> CeligoHealth:
        self.calls += 1
        return self.health


ACCEPTED = CeligoHealth(Cond.true("CredentialsValid", "Valid"), Cond.true("CeligoReachable", "Reachable"))
REJECTED = CeligoHealth(Cond.false("CredentialsValid", "TokenRejected", "no."), Cond.true("CeligoReachable", "R"))
OUTAGE = CeligoHealth(None, Cond.false("CeligoReachable", "CeligoUnavailable", "down"))


def _snap(creds: ConnectorCredentials, credentials: dict[str, Any]) -> Snapshot:
    stored = api.CeligoConnectorStatus.model_validate({"credentials": credentials})
    return Snapshot(owner=OWNER, body={}, generation=1, stored=stored, spec=SPEC, credentials=creds)


async def test_a_changed_set_is_verified_before_use_and_a_refusal_remembered() -> None:
    creds = _creds("new")
    version = manifests.credentials_version(KEY, creds)
    health = StubHealth(REJECTED)
    out = await verify(_snap(creds, {"version": "running"}), health, KEY, due=False)  # type: ignore[arg-type]
    assert out.credentials is None and out.condition is not None
    assert out.condition.reason == "NewCredentialsRejected" and out.status.rejected_version == version
    again = await verify(_snap(creds, {"version": "running", "rejectedVersion": version}), health, KEY, due=False)  # type: ignore[arg-type]
    assert again.credentials is None and again.condition is None and health.calls == 1  # not asked again


async def test_an_outage_rolls_nothing_and_says_verification_pending() -> None:
    out = await verify(_snap(_creds("new"), {"version": "running"}), StubHealth(OUTAGE), KEY, due=True)  # type: ignore[arg-type]
    assert out.credentials is None and out.condition is not None and out.condition.reason == "VerificationPending"


async def test_the_running_set_is_not_asked_about_again() -> None:
    creds = _creds("same")
    health = StubHealth(ACCEPTED)
    status = {"version": manifests.credentials_version(KEY, creds)}
    out = await verify(_snap(creds, status), health, KEY, due=True)  # type: ignore[arg-type]
    assert out.credentials == creds and health.calls == 0


def test_rollout_state_of_a_deployment() -> None:
    dep = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "i", "envFrom": [{"secretRef": {"name": "s"}}]}]}}},
        "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2, "replicas": 3},
    }
    assert not manifests.rollout(dep).done  # an old pod is still there
    dep["status"]["replicas"] = 2
    r = manifests.rollout(dep)
    assert r.done and (r.secret, r.image, r.replicas) == ("s", "i", 2)
