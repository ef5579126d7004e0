"""Stage 2 of a pass, verify: a credential set that differs from the running one is checked with Celigo
before anything uses it (verify-before-roll). A refused set is remembered by its HMAC
(`credentials.rejectedVersion`), so it is not rolled out, and is checked again when the Secret changes again
or the health check is next due."""

from __future__ import annotations

from dataclasses import dataclass

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


async def verify(snap: Snapshot, health: HealthChecker, hmac_key: bytes, due: bool) -> Verified:
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
    refusal = (
        checked.credentials if checked.credentials and checked.credentials.status != "True" else checked.reachable
    )
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
