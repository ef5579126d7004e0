"""Stage 2 of a pass, verify: a credential set that differs from the running one is checked with Celigo
before anything uses it (verify-before-roll). A refused set is remembered by its HMAC
(`credentials.rejectedVersion`), so it is not rolled out, and is checked again when the Secret changes again
or the health check is next due.

A region change is a change of endpoint: while the running Deployment's region (its BATON_REGION) differs
from spec.region, the token is checked in the new region first, and the Deployment is held as it is
(`Verified.held`) until Celigo there accepts it; a refusal is checked again when the spec changes or the
health check is next due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.conditions import Cond
from celigo_operator.health import CeligoHealth, HealthChecker
from celigo_operator.manifests import ConnectorCredentials
from celigo_operator.reading import Snapshot

#: CredentialsValid reasons that come from reading the Secret (not from Celigo's verdict on the token).
SECRET_REASONS = frozenset(
    {
        "SecretNotFound",
        "SecretNotOptedIn",
        "KeyMissing",
        "MalformedClientId",
        "MalformedClientSecret",
        "MalformedToken",
        "SecretUnreadable",
        "NewCredentialsRejected",
        "VerificationPending",
        "OwnedCredentialMissing",
    }
)


@dataclass
class Verified:
    """The credentials fit to run with (None: keep the pods on the last verified set) and what was learnt."""

    condition: Cond | None  # CredentialsValid; None keeps the last one
    credentials: ConnectorCredentials | None
    status: api.CredentialsStatus  # rejectedVersion set or cleared
    celigo: CeligoHealth | None = None  # the Celigo check made on the way; the health stage reuses it
    held: list[Cond] = field(default_factory=list)  # not empty: leave the Deployment as it is, and why


def running_region(deployment: Mapping[str, Any] | None) -> str | None:
    """The Celigo region the Deployment's pods run with (its BATON_REGION), None when there is none."""
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or [{}]
    env = containers[0].get("env") or []
    return next((e.get("value") for e in env if e.get("name") == "BATON_REGION"), None)


async def verify(snap: Snapshot, health: HealthChecker, hmac_key: bytes, due: bool) -> Verified:
    verified = await _credentials(snap, health, hmac_key, due)
    assert snap.spec is not None
    region = snap.spec.region
    running = running_region(snap.deployment) if manifests.owned_by(snap.deployment or {}, snap.owner) else None
    if running is None or running == region or (verified.celigo is not None and verified.credentials is not None):
        return verified  # no region change, or the new credentials were just accepted in the new region
    moved = f"spec.region changed from {running} to {region}; the Deployment keeps running in {running}"
    if verified.credentials is None:
        message = f"{moved} until credentials are verified in {region}."
        verified.held = [Cond.false(cond.RECONCILED, "RegionNotVerified", message)]
        return verified
    stored = [c.model_dump(by_alias=True) for c in snap.stored.conditions or []]
    refused = [
        c
        for c in (cond.find(stored, cond.CELIGO_REACHABLE), cond.find(stored, cond.CREDENTIALS_VALID))
        if c is not None and c.get("status") == "False" and c.get("observedGeneration") == snap.generation
    ]
    if refused and not due:  # already refused for this spec: checked again on the health schedule
        reason = str(refused[0].get("reason"))
        message = f"{moved}: Celigo {region} did not accept the token ({reason})."
        verified.held = [Cond.false(cond.RECONCILED, reason, message)]
        return verified
    checked = await health.check_celigo(region, verified.credentials.access_token, uid=snap.owner.uid)
    if checked.token_accepted:
        return Verified(checked.credentials, verified.credentials, verified.status, checked)
    refusal = _refusal_condition(checked)  # its reason names the cause (Ready's reason and the Event's)
    held = Cond.false(
        cond.RECONCILED, refusal.reason, f"{moved} until Celigo {region} accepts the token: {refusal.message}"
    )
    return Verified(checked.credentials, verified.credentials, verified.status, checked, [held])


async def _credentials(snap: Snapshot, health: HealthChecker, hmac_key: bytes, due: bool) -> Verified:
    assert snap.spec is not None
    spec, owner, status = snap.spec, snap.owner, snap.credentials_status
    if snap.credentials is None:
        return Verified(snap.unreadable, None, status)
    creds = snap.credentials
    ref = spec.credentials_secret_ref
    where = f"Secret {owner.namespace}/{ref.name}"
    version = manifests.credentials_version(hmac_key, creds)
    current = status.version
    if version == current:
        status = status.model_copy(update={"rejected_version": None})
        last = cond.find(
            [c.model_dump(by_alias=True) for c in snap.stored.conditions or []], cond.CREDENTIALS_VALID
        )
        if last is not None and last.get("reason") not in SECRET_REASONS:
            return Verified(None, creds, status)  # Celigo's last verdict on the running token stands
        return Verified(
            Cond.true(cond.CREDENTIALS_VALID, "Valid", f"{where} holds the running credentials."), creds, status
        )
    if version == status.rejected_version and not due:
        return Verified(None, None, status)
    checked = await health.check_celigo(spec.region, creds.access_token, uid=owner.uid)
    if checked.token_accepted:
        return Verified(checked.credentials, creds, status.model_copy(update={"rejected_version": None}), checked)
    if checked.transient:
        pending = Cond.unknown(
            cond.CREDENTIALS_VALID,
            "VerificationPending",
            f"New credentials in {where} are not rolled out until Celigo confirms the token: "
            f"{checked.reachable.message}",
        )
        return Verified(pending, None, status, checked)
    refusal = _refusal_condition(checked)
    status = status.model_copy(update={"rejected_version": version})
    if current:
        rejected = Cond.false(
            cond.CREDENTIALS_VALID,
            "NewCredentialsRejected",
            f"New credentials in {where} (key {ref.keys.celigo_access_token}) were not rolled out: "
            f"{refusal.message} The connector keeps running with the previous set.",
        )
        return Verified(rejected, None, status, checked)
    return Verified(Cond.false(cond.CREDENTIALS_VALID, refusal.reason, f"{where}: {refusal.message}"), None, status, checked)


def _refusal_condition(checked: CeligoHealth) -> Cond:
    """The condition that says why Celigo did not accept a token."""
    return checked.credentials if checked.credentials and checked.credentials.status != "True" else checked.reachable
