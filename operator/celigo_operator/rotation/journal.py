"""The rotation journal's vocabulary: steps, flows, the per-pass context, and the operator-owned Secrets that
keep the credentials the operator created (their values never reach status, Events or logs)."""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celigo_operator import api, manifests
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond
from celigo_operator.config import RotationSettings
from celigo_operator.kube import Kube
from celigo_operator.manifests import Owner
from celigo_operator.outcome import Checkpoint, Event
from celigo_operator.sources import CredentialProblem

ANNOTATION_CREDENTIAL_ID = f"{api.GROUP}/credential-id"
ANNOTATION_ROTATION_ID = f"{api.GROUP}/rotation-id"
ROLE_C1 = "conductorone-credential"
ROLE_CELIGO = "celigo-token"
#: A new credential refused this many times in a row is given up (revoked); fewer is treated as lag.
VERIFY_ATTEMPTS = 3


class Step(enum.StrEnum):
    """status.rotation.step: where the running rotation is. The same steps serve both flows."""

    IDLE = "Idle"
    REQUESTING = "Requesting"
    STORED = "Stored"
    ROLLING_OUT = "RollingOut"
    REVOKING = "Revoking"


class Flow(enum.StrEnum):
    CONDUCTORONE = "ConductorOne"
    CELIGO = "Celigo"


#: status.rotation.<key>: each flow's own part of the journal.
FLOW_KEY = {Flow.CONDUCTORONE: "conductorOne", Flow.CELIGO: "celigo"}
#: The connector environment variables each flow's credential provides.
FLOW_ENV: dict[Flow, tuple[str, ...]] = {
    Flow.CONDUCTORONE: (manifests.ENV_CLIENT_ID, manifests.ENV_CLIENT_SECRET),
    Flow.CELIGO: (manifests.ENV_ACCESS_TOKEN,),
}


@dataclass
class Result:
    """What one pass of the state machine decided: conditions to set or drop, Events to post."""

    conditions: list[Cond] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)
    notes: list[Event] = field(default_factory=list)


class Wait(Exception):
    """The current step cannot go on now; `backoff` says whether this was a failure to back off from."""

    def __init__(self, message: str = "", *, backoff: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.backoff = backoff
        self.retry_after = retry_after


@dataclass
class Context:
    """One resource as this reconcile sees it."""

    owner: Owner
    spec: CeligoConnectorSpec
    body: Mapping[str, Any]
    status: dict[str, Any]  # the status being built; status["rotation"] is kept equal to what was persisted
    rolled: bool  # every pod runs the set built from the journal's current credentials
    due: bool  # the periodic health check is due: a good moment to read expiries
    persist: Checkpoint | None = None  # the status writer's "store this journal before continuing"


def backoff_delay(attempts: int, settings: RotationSettings, retry_after: float | None = None) -> float:
    """base * 2**(attempts-1), capped; never sooner than the server's Retry-After."""
    delay = min(settings.backoff_base * (2 ** max(attempts - 1, 0)), settings.backoff_max)
    return max(delay, retry_after or 0.0)


def enabled_flows(spec: CeligoConnectorSpec) -> list[Flow]:
    flows = []
    if spec.rotation.conductor_one.enabled:
        flows.append(Flow.CONDUCTORONE)
    if spec.rotation.celigo.enabled:
        flows.append(Flow.CELIGO)
    return flows


def journal(status: Mapping[str, Any]) -> dict[str, Any]:
    """A deep-enough copy of status.rotation to edit."""
    rot = dict(status.get("rotation") or {})
    for key in FLOW_KEY.values():
        if isinstance(rot.get(key), Mapping):
            rot[key] = dict(rot[key])
    return rot


def owned_secret_name(owner: Owner, flow: Flow, rotation_id: str) -> str:
    short = "c1" if flow is Flow.CONDUCTORONE else "tok"
    return f"{manifests.child_name(owner.name)}-{short}-{rotation_id}"


def build_owned_secret(
    owner: Owner, flow: Flow, rotation_id: str, values: Mapping[str, str], credential_id: str
) -> dict[str, Any]:
    """The operator-owned, immutable Secret that keeps a credential the operator created."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": owned_secret_name(owner, flow, rotation_id),
            "namespace": owner.namespace,
            "labels": {
                **manifests.common_labels(owner),
                manifests.LABEL_ROLE: ROLE_C1 if flow is Flow.CONDUCTORONE else ROLE_CELIGO,
            },
            "annotations": {ANNOTATION_CREDENTIAL_ID: credential_id, ANNOTATION_ROTATION_ID: rotation_id},
            "ownerReferences": [owner.reference()],
        },
        "type": "Opaque",
        "immutable": True,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())},
    }


def decode(secret: Mapping[str, Any] | None, key: str) -> str | None:
    raw = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else None


async def owned_values(
    kube: Kube, owner: Owner, spec: CeligoConnectorSpec, status: Mapping[str, Any]
) -> dict[str, str]:
    """Values the operator owns for the connector's set (empty when no enabled flow has rotated yet)."""
    rot = journal(status)
    values: dict[str, str] = {}
    for flow in enabled_flows(spec):
        current = (rot.get(FLOW_KEY[flow]) or {}).get("current") or {}
        name = current.get("secretName")
        if not name:
            continue
        secret = await kube.get_secret(owner.namespace, name)
        if secret is None:
            raise CredentialProblem(
                "OwnedCredentialMissing",
                f"The operator-owned Secret {owner.namespace}/{name} with the rotated {flow.value} credential "
                "is gone; the connector keeps its last verified set. Trigger a rotation to make a new one.",
            )
        for env in FLOW_ENV[flow]:
            value = decode(secret, env)
            if value:
                values[env] = value
    return values
