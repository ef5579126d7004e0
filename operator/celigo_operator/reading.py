"""Stage 1 of a pass, read: the resource, its source Secret, the operator-owned rotated credentials and the
Deployment, as one `Snapshot`. Nothing is written here; what a read says about the credentials becomes
the CredentialsValid condition when the set cannot be made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.outcome import dump, read_status
from celigo_operator.rotation.journal import owned_values
from celigo_operator.sources import CredentialProblem, merge_credentials


@dataclass
class Snapshot:
    """One resource as this pass found it."""

    owner: Owner
    body: Mapping[str, Any]
    generation: int | None
    stored: api.CeligoConnectorStatus  # the status as stored when the pass began
    spec: CeligoConnectorSpec | None = None
    invalid: str | None = None  # why the spec does not validate (then nothing else is read)
    credentials: ConnectorCredentials | None = None  # the set the source Secret and the journal make
    unreadable: Cond | None = None  # CredentialsValid, when that set cannot be made
    deployment: dict[str, Any] | None = None

    @property
    def credentials_status(self) -> api.CredentialsStatus:
        return self.stored.credentials or api.CredentialsStatus.model_validate({})


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"spec.{loc}: {err['msg']}")
    return "; ".join(parts)


async def read(kube: Kube, body: Mapping[str, Any]) -> Snapshot:
    meta = body.get("metadata") or {}
    snap = Snapshot(
        owner=Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"]),
        body=body,
        generation=meta.get("generation"),
        stored=read_status(body.get("status")),
    )
    try:
        snap.spec = CeligoConnectorSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        snap.invalid = _validation_message(exc)
        return snap
    snap.credentials, snap.unreadable = await _credentials(kube, snap, snap.spec)
    snap.deployment = await kube.get_deployment(snap.owner.namespace, manifests.child_name(snap.owner.name))
    return snap


async def _credentials(
    kube: Kube, snap: Snapshot, spec: CeligoConnectorSpec
) -> tuple[ConnectorCredentials | None, Cond | None]:
    """The connector's credential set (operator-owned values win), or why it cannot be made."""
    owner, ref = snap.owner, spec.credentials_secret_ref
    where = f"Secret {owner.namespace}/{ref.name}"
    try:
        source = await kube.get_secret(owner.namespace, ref.name)
        owned = await owned_values(kube, owner, spec, dump(snap.stored))
        return merge_credentials(source, ref, owner.namespace, owned), None
    except CredentialProblem as exc:
        message = exc.message
        version = snap.credentials_status.version
        if version:
            message += (
                f" Nothing is rolled out: the connector keeps running with the last verified credentials "
                f"(version {version[:12]})."
            )
        return None, Cond.false(cond.CREDENTIALS_VALID, exc.reason, message)
    except KubeError as exc:
        return None, Cond.unknown(cond.CREDENTIALS_VALID, "SecretUnreadable", f"Reading {where} failed: {exc}")
