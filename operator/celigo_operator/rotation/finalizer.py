"""Revoke on delete: the finalizer `celigo-operator.io/revoke-credential` exists only while the resource holds
a ConductorOne credential the operator created; deleting the resource revokes it (bounded by
spec.rotation.revokeOnDeleteTimeout, then a RevokeGaveUp Warning lets the resource go, so deletion never
hangs)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from celigo_operator import api
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import parse_time
from celigo_operator.config import RotationSettings
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import Owner
from celigo_operator.outcome import Event
from celigo_operator.rotation.journal import Context, Wait, journal
from celigo_operator.rotation.providers import ConductorOne

FINALIZER = f"{api.GROUP}/revoke-credential"


def operator_credentials(rot: Mapping[str, Any]) -> list[str]:
    """ConductorOne credential ids the operator created and has not revoked."""
    state = rot.get("conductorOne") or {}
    ids = []
    for key in ("current", "pending"):
        entry = state.get(key) or {}
        if entry.get("id") and entry.get("secretName"):
            ids.append(str(entry["id"]))
    created = state.get("created") or {}  # made, its secret not stored: revoke it too
    if created.get("id"):
        ids.append(str(created["id"]))
    previous = state.get("previous") or {}
    if previous.get("id") and previous.get("secretName"):
        ids.append(str(previous["id"]))
    return ids


async def set_finalizer(kube: Kube, owner: Owner, present: bool) -> None:
    """Add or remove the finalizer (metadata, conditioned on resourceVersion, retried on conflict)."""
    for _ in range(5):
        latest = await kube.get_connector(owner.namespace, owner.name)
        if latest is None:
            return
        meta = latest["metadata"]
        current = list(meta.get("finalizers") or [])
        wanted = [f for f in current if f != FINALIZER] + ([FINALIZER] if present else [])
        if wanted == current:
            return
        try:
            await kube.patch_connector_metadata(
                owner.namespace, owner.name, {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]}
            )
            return
        except KubeError as exc:
            if not exc.conflict:
                raise


async def hold(kube: Kube, ctx: Context, rot: Mapping[str, Any]) -> None:
    """Hold the resource's deletion once it owns a ConductorOne credential the operator created."""
    meta = ctx.body.get("metadata") or {}
    if operator_credentials(rot) and FINALIZER not in (meta.get("finalizers") or []):
        await set_finalizer(kube, ctx.owner, True)


async def finalize(
    kube: Kube, conductorone: ConductorOne, settings: RotationSettings, body: Mapping[str, Any]
) -> Event | None:
    """On deletion: revoke the ConductorOne credentials the operator created, then let go. Raises Wait to be
    retried; after the timeout it gives up with a Warning and lets go anyway."""
    meta = body.get("metadata") or {}
    if FINALIZER not in (meta.get("finalizers") or []):
        return None
    owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    rot = journal(body.get("status") or {})
    ids = operator_credentials(rot)
    note: Event | None = None
    try:
        spec = CeligoConnectorSpec.model_validate(body.get("spec") or {})
        ctx = Context(
            owner=owner, spec=spec, body=body, status=dict(body.get("status") or {}), rolled=False, due=False
        )
        if ids:
            if spec.conductor_one is None:
                raise Wait("spec.conductorOne is gone: the operator cannot reach ConductorOne")
            for credential_id in ids:
                await conductorone.revoke(ctx, rot, credential_id, "the operator's credential")
            note = Event(
                "Normal", "CredentialRevoked", f"Revoked {len(ids)} ConductorOne credential(s) the operator created."
            )
    except (Wait, ValueError) as exc:
        deleted = parse_time(meta.get("deletionTimestamp")) or datetime.now(UTC)
        raw = None
        try:
            raw = CeligoConnectorSpec.model_validate(body.get("spec") or {}).rotation.revoke_on_delete_timeout
        except ValueError:
            pass
        timeout = api.parse_duration(raw) if raw else settings.revoke_timeout
        if datetime.now(UTC) - deleted < timedelta(seconds=timeout):
            raise Wait(f"revoking the operator's ConductorOne credential failed: {exc}") from None
        note = Event(
            "Warning",
            "RevokeGaveUp",
            f"Could not revoke the ConductorOne credential(s) {', '.join(ids)} within {timeout:g}s ({exc}); "
            "letting the resource go. Revoke them in ConductorOne.",
        )
    await set_finalizer(kube, owner, False)
    return note
