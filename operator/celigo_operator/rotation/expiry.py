"""Expiry warnings: when the health check is due, read the expiry of the credentials in use (ConductorOne's
expiresTime, Celigo's autoPurgeAt) into the journal, and say CredentialsExpiring when one is near."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from celigo_operator import api
from celigo_operator import conditions as cond
from celigo_operator.conditions import Cond, format_time, parse_time, utcnow
from celigo_operator.config import RotationSettings
from celigo_operator.outcome import Event
from celigo_operator.rotation.journal import FLOW_KEY, Context, Flow, Result, Wait
from celigo_operator.rotation.providers import Provider

log = logging.getLogger(__name__)


def warning_window(ctx: Context, settings: RotationSettings) -> float:
    raw = ctx.spec.rotation.expiry_warning
    return api.parse_duration(raw) if raw else settings.expiry_warning


def _credential_in_use(ctx: Context, rot: dict[str, Any], flow: Flow, provider: Provider) -> str | None:
    """The id of the credential the pods use: the operator's while its flow is on, else the source Secret's."""
    enabled = (
        ctx.spec.rotation.conductor_one.enabled if flow is Flow.CONDUCTORONE else ctx.spec.rotation.celigo.enabled
    )
    owned = ((rot.get(FLOW_KEY[flow]) or {}).get("current") or {}).get("id") if enabled else None
    return owned or provider.initial_id(ctx.spec)


async def read_expiries(ctx: Context, rot: dict[str, Any], providers: dict[Flow, Provider]) -> None:
    for flow, provider in providers.items():
        state = rot.get(FLOW_KEY[flow]) or {}
        credential_id = _credential_in_use(ctx, rot, flow, provider)
        if not credential_id:
            continue
        if flow is Flow.CONDUCTORONE and ctx.spec.conductor_one is None:
            continue
        if flow is Flow.CELIGO and state.get("unsupported"):
            continue
        try:
            expires = await provider.expires_at(ctx, rot, credential_id)
        except Wait as exc:
            log.info("could not read the %s's expiry: %s", provider.label, exc.message)
            continue
        rot[FLOW_KEY[flow]] = {
            **state,
            "expiresAt": format_time(expires) if expires else None,
            "expiryCheckedAt": utcnow(),
        }


async def expiry(
    ctx: Context, rot: dict[str, Any], result: Result, providers: dict[Flow, Provider], settings: RotationSettings
) -> None:
    """Read the credentials' expiry when the health check is due; CredentialsExpiring and an Event."""
    if ctx.due:
        await read_expiries(ctx, rot, providers)
    window = warning_window(ctx, settings)
    now = datetime.now(UTC)
    seen = False
    soon: list[str] = []
    for flow, label in ((Flow.CONDUCTORONE, "ConductorOne credential"), (Flow.CELIGO, "Celigo API token")):
        expires = parse_time((rot.get(FLOW_KEY[flow]) or {}).get("expiresAt"))
        if expires is None:
            continue
        seen = True
        if expires - now <= timedelta(seconds=window):
            soon.append(f"the {label} expires at {format_time(expires)}")
    if not seen:
        result.drop.append(cond.CREDENTIALS_EXPIRING)
        return
    if soon:
        joined = "; ".join(soon)
        message = f"{joined[0].upper()}{joined[1:]}: rotate it before then."
        last = cond.find(ctx.status.get("conditions"), cond.CREDENTIALS_EXPIRING)
        if last is None or last.get("status") != "True":
            result.notes.append(Event("Warning", "CredentialsExpiring", message))
        result.conditions.append(Cond.true(cond.CREDENTIALS_EXPIRING, "ExpiresSoon", message))
    else:
        result.conditions.append(
            Cond.false(cond.CREDENTIALS_EXPIRING, "NotExpiring", "No known credential expires soon.")
        )
