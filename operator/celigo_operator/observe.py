"""Stage 5 of a pass, observe: ConnectorAvailable and status.connector from the Deployment (as read, or as
the apply stage left it) and, only while it is not fully available, its pods (from the operator's pod cache
when it runs with one: no request). Reads only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.conditions import Cond
from celigo_operator.kube import Kube
from celigo_operator.manifests import Owner


@dataclass
class Observed:
    available: Cond  # ConnectorAvailable
    connector: api.ConnectorStatus



async def observe(kube: Kube, owner: Owner, deployment: Mapping[str, Any] | None) -> Observed:
    name = manifests.child_name(owner.name)
    if deployment is None or not manifests.owned_by(deployment, owner):
        return Observed(
            Cond.false(cond.CONNECTOR_AVAILABLE, "NotDeployed", f"Deployment {name} does not exist."),
            api.ConnectorStatus.model_validate({}),
        )
    r = manifests.rollout(deployment)
    connector = api.ConnectorStatus(
        deployment=name,
        secret=r.secret,
        image=r.image,
        replicas=r.replicas,
        updated_replicas=r.updated,
        available_replicas=r.available,
    )
    if r.replicas == 0:
        return Observed(
            Cond.false(cond.CONNECTOR_AVAILABLE, "ScaledToZero", "spec.replicas is 0: no connector runs."), connector
        )
    if r.done:
        return Observed(
            Cond.true(cond.CONNECTOR_AVAILABLE, "Available", f"{r.available}/{r.replicas} connector pods available."),
            connector,
        )
    pods = await kube.list_pods(
        owner.namespace, ",".join(f"{k}={v}" for k, v in manifests.selector_labels(owner).items())
    )
    problem = pod_problem(pods)
    if problem is not None:
        return Observed(problem, connector)
    return Observed(
        Cond.false(
            cond.CONNECTOR_AVAILABLE,
            "Progressing",
            f"Rolling out: {r.updated}/{r.replicas} pods updated, {r.available} available.",
        ),
        connector,
    )


_WAITING_REASONS = {
    "CrashLoopBackOff": (
        "CrashLoopBackOff",
        "a crash loop right after a credential change almost always means ConductorOne rejected the client id "
        "or secret (or the region/token flags are invalid); check the pod logs",
    ),
    "ImagePullBackOff": ("ImagePullBackOff", "the image cannot be pulled; check spec.image and pull secrets"),
    "ErrImagePull": ("ImagePullBackOff", "the image cannot be pulled; check spec.image and pull secrets"),
    "CreateContainerConfigError": (
        "CreateContainerConfigError",
        "the container cannot be configured (a referenced Secret or key is missing)",
    ),
}


def pod_problem(pods: Sequence[Mapping[str, Any]]) -> Cond | None:
    """The worst thing the connector pods show, as a ConnectorAvailable condition (pure)."""
    for pod in pods:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            known = _WAITING_REASONS.get(waiting.get("reason", ""))
            if known:
                reason, advice = known
                name = (pod.get("metadata") or {}).get("name", "?")
                return Cond.false(
                    cond.CONNECTOR_AVAILABLE,
                    reason,
                    f"Pod {name} is in {waiting.get('reason')} (restarts: {cs.get('restartCount', 0)}): {advice}.",
                )
    return None
