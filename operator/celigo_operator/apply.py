"""Stages 3 and 4 of a pass, desired and apply: the connector's Secret and Deployment as they should be
(built by `manifests`, pure), made so in the cluster, and the older credential Secrets pruned once every pod
runs the current set. A difference that only a new operator build explains waits for an upgrade wave slot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celigo_operator import api, manifests, waves
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond, utcnow
from celigo_operator.config import OperatorConfig
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.outcome import Event
from celigo_operator.waves import WaveGate


class ChildConflict(Exception):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(
            f"A {kind} named {name} already exists and is not owned by this CeligoConnector; "
            "the operator will not overwrite it. Rename or delete it."
        )


def desired_deployment(
    owner: Owner, spec: CeligoConnectorSpec, config: OperatorConfig, secret_name: str, version: str
) -> dict[str, Any]:
    """The Deployment as it should be, with the digests the upgrade waves compare (pure)."""
    desired = manifests.build_deployment(owner, spec, config, secret_name, version)
    desired["metadata"]["annotations"] = {
        waves.ANNOTATION_INPUTS: waves.digest([spec.model_dump(mode="json", by_alias=True), version]),
        waves.ANNOTATION_TEMPLATE: waves.digest(desired["spec"]["template"]),
    }
    return desired


@dataclass
class Applied:
    """What the apply stage did."""

    condition: Cond  # Reconciled
    credentials: api.CredentialsStatus
    deployment: dict[str, Any] | None  # as the API server returned it (or as read, when left alone)
    events: list[Event] = field(default_factory=list)
    upgrade: Cond | None = None  # OperatorUpgrade, while a new operator release waits to roll here


class Applier:
    def __init__(self, kube: Kube, config: OperatorConfig, hmac_key: bytes, gate: WaveGate) -> None:
        self.kube = kube
        self.config = config
        self.hmac_key = hmac_key
        self.waves = gate
        # namespace/name of a connector credentials Secret -> its owner's uid: made or seen by this process,
        # so a pass does not read it again.
        self.known: dict[str, str] = {}

    async def apply(
        self,
        owner: Owner,
        spec: CeligoConnectorSpec,
        creds: ConnectorCredentials | None,
        status: api.CredentialsStatus,
        actual: dict[str, Any] | None,
    ) -> Applied:
        """Make the Secret and Deployment match; ChildConflict and KubeError become Reconciled=False."""
        done = Applied(Cond.true(cond.RECONCILED, "Reconciled", ""), status, actual)
        try:
            done.condition = await self._apply(owner, spec, creds, done)
        except ChildConflict as exc:
            done.condition = Cond.false(cond.RECONCILED, "ChildConflict", str(exc))
        except KubeError as exc:
            done.condition = Cond.false(cond.RECONCILED, "ApplyFailed", f"Kubernetes API: {exc}")
        return done

    async def _apply(
        self, owner: Owner, spec: CeligoConnectorSpec, creds: ConnectorCredentials | None, done: Applied
    ) -> Cond:
        status = done.credentials
        if creds is not None:
            version = manifests.credentials_version(self.hmac_key, creds)
            secret_name = manifests.secret_name(owner.name, version)
            await self._ensure_secret(owner, manifests.build_secret(owner, creds, version))
        else:
            # No usable new credentials: keep the pods on the last verified set, if it still exists.
            version, secret_name = status.version or "", status.secret_name or ""
            if not version or not secret_name:
                return Cond.false(
                    cond.RECONCILED,
                    "WaitingForCredentials",
                    "No verified credentials yet: the connector is not deployed until the Secret is fixed.",
                )
            existing = await self.kube.get_secret(owner.namespace, secret_name)
            if existing is None or not manifests.owned_by(existing, owner):
                return Cond.false(
                    cond.RECONCILED,
                    "CredentialsUnavailable",
                    f"The last verified credentials (Secret {secret_name}) are gone and the source Secret is "
                    "not usable; fix the source Secret to redeploy.",
                )

        desired = desired_deployment(owner, spec, self.config, secret_name, version)
        action, done.deployment = await self._ensure_deployment(owner, spec, desired, done)
        if action:
            done.events.append(Event("Normal", action, f"{action} Deployment {desired['metadata']['name']}."))

        if status.version != version:
            previous = status.version
            done.credentials = status.model_copy(
                update={
                    "version": version,
                    "secret_name": secret_name,
                    "rotated_at": utcnow(),
                    "last_rotation_result": "RollingOut" if previous else "Deployed",
                }
            )
            if previous:
                done.events.append(
                    Event("Normal", "CredentialsChanged", f"Rolling the connector to credentials version {version[:12]}.")
                )
        return Cond.true(cond.RECONCILED, "Reconciled", "The Secret and Deployment match the spec.")

    async def _ensure_secret(self, owner: Owner, desired: dict[str, Any]) -> None:
        """Create the content-named Secret unless this process already made or saw it (no read per pass):
        created first, read only when the name is taken. A pod of the connector that cannot find its
        Secret (CreateContainerConfigError, from the pod cache) makes the Secret be checked again."""
        name = desired["metadata"]["name"]
        key = f"{owner.namespace}/{name}"
        if self.known.get(key) == owner.uid and not await self._config_error(owner):
            return
        try:
            await self.kube.create_secret(desired)
            self.known[key] = owner.uid
            return
        except KubeError as exc:
            if not exc.conflict:
                raise
        existing = await self.kube.get_secret(owner.namespace, name)
        if existing is None:
            self.known.pop(key, None)
            raise KubeError(409, "Conflict", "the Secret was deleted while being created", kind="Secret", name=name)
        if not manifests.owned_by(existing, owner):
            raise ChildConflict("Secret", name)
        self.known[key] = owner.uid

    async def _config_error(self, owner: Owner) -> bool:
        if not self.kube.cached:
            return True  # no pod cache: listing pods costs what reading the Secret does
        selector = ",".join(f"{k}={v}" for k, v in manifests.selector_labels(owner).items())
        return any(
            ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CreateContainerConfigError"
            for pod in await self.kube.list_pods(owner.namespace, selector)
            for cs in (pod.get("status") or {}).get("containerStatuses") or []
        )

    def forget(self, uid: str) -> None:
        """The connector is gone: drop what this process knows of its Secrets."""
        for key in [k for k, v in self.known.items() if v == uid]:
            del self.known[key]

    async def _ensure_deployment(
        self, owner: Owner, spec: CeligoConnectorSpec, desired: dict[str, Any], done: Applied
    ) -> tuple[str | None, dict[str, Any]]:
        """Create, repair or leave the Deployment (as read at the start of the pass); returns what was done and
        the object as stored. A change only a new operator build explains waits for a wave slot."""
        name = desired["metadata"]["name"]
        actual = done.deployment
        if actual is None:
            try:
                return "Created", await self.kube.create_deployment(desired)
            except KubeError as exc:
                if not exc.conflict:
                    raise
            # Not in the cache of our own Deployments: someone else's of that name (or one not seen yet).
            actual = await self.kube.read_deployment(owner.namespace, name)
            if actual is None:
                raise KubeError(409, "Conflict", "the Deployment was deleted while being created",
                                kind="Deployment", name=name)
        if not manifests.owned_by(actual, owner):
            raise ChildConflict("Deployment", name)
        done.deployment = actual  # as read: what observe sees if the replace below fails
        annotations = desired["metadata"]["annotations"]
        # The API server omits zero-valued optional integers (Go's omitempty): minReadySeconds 0 reads back
        # as absent, which is not drift.
        stored = {"minReadySeconds": 0, **(actual.get("spec") or {})}
        matches = manifests.is_subset(desired["spec"], stored) and manifests.is_subset(
            desired["metadata"].get("labels"), actual["metadata"].get("labels")
        )
        change = waves.classify(
            actual["metadata"].get("annotations"),
            annotations[waves.ANNOTATION_INPUTS],
            annotations[waves.ANNOTATION_TEMPLATE],
            matches,
        )
        if change == "none":
            return None, actual
        if change == "operator" and not self._upgrade_may_roll(owner, spec, done):
            return None, actual
        try:
            return "Updated", await self.kube.replace_deployment(_replacement(desired, actual))
        except KubeError as exc:
            if not exc.conflict:
                raise
        # The deployment controller writes the Deployment right after a change (status, revision annotation),
        # so our read can be a version behind: once, re-read and replace on the current version.
        current = await self.kube.read_deployment(owner.namespace, name)
        if current is None:
            return "Created", await self.kube.create_deployment(desired)
        if not manifests.owned_by(current, owner):
            raise ChildConflict("Deployment", name)
        done.deployment = current
        return "Updated", await self.kube.replace_deployment(_replacement(desired, current))

    def _upgrade_may_roll(self, owner: Owner, spec: CeligoConnectorSpec, done: Applied) -> bool:
        """Whether an operator-driven template change may roll now; says why not in OperatorUpgrade."""
        policy = spec.operator_upgrade.policy
        if policy == "Immediate":
            return True
        if policy == "Hold":
            done.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Held",
                "A new operator release changes this connector's pod template; spec.operatorUpgrade.policy is "
                "Hold, so the running template stays until the spec changes.",
            )
            return False
        if not self.waves.may_start(owner.uid):
            self.waves.wait(owner.uid, f"{owner.namespace}/{owner.name}")
            done.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Waiting",
                f"A new operator release changes this connector's pod template; waiting for an upgrade slot "
                f"({self.waves.position()}).",
            )
            return False
        self.waves.start(owner.uid)
        done.events.append(Event("Normal", "UpgradeRolling", "Rolling the connector to the new operator release."))
        return True

    async def prune(
        self, owner: Owner, status: api.CredentialsStatus, deployment: Mapping[str, Any] | None
    ) -> api.CredentialsStatus:
        """Once every pod runs the current credentials Secret, the rollout Succeeded and older connector
        credential Secrets are no longer needed: they are deleted."""
        if deployment is None or not manifests.owned_by(deployment, owner):
            return status
        rollout = manifests.rollout(deployment)
        if not rollout.done or rollout.replicas == 0:
            return status
        if status.last_rotation_result not in ("RollingOut", "Deployed") or rollout.secret != status.secret_name:
            return status
        if status.last_rotation_result == "Deployed" and not self._others_known(owner, status.secret_name):
            # A first deployment: no earlier credentials Secret was recorded, and this process made none.
            return status.model_copy(update={"last_rotation_result": "Succeeded"})
        selector = f"{manifests.LABEL_OWNER_UID}={owner.uid},{manifests.LABEL_ROLE}=connector-credentials"
        for secret in await self.kube.list_secrets(owner.namespace, selector):
            name = secret["metadata"]["name"]
            if name != rollout.secret and manifests.owned_by(secret, owner):
                await self.kube.delete_secret(owner.namespace, name)
                self.known.pop(f"{owner.namespace}/{name}", None)
        return status.model_copy(update={"last_rotation_result": "Succeeded"})

    def _others_known(self, owner: Owner, current: str | None) -> bool:
        return any(
            uid == owner.uid and key != f"{owner.namespace}/{current}" for key, uid in self.known.items()
        )


def _replacement(desired: dict[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """The full Deployment to PUT: the desired object on the actual one's metadata (its resourceVersion, so a
    concurrent write is a 409, not lost), our labels and annotations merged over what others added."""
    meta = actual["metadata"]
    body = {
        **desired,
        "metadata": {
            **meta,
            "labels": {**(meta.get("labels") or {}), **desired["metadata"]["labels"]},
            "annotations": {**(meta.get("annotations") or {}), **desired["metadata"]["annotations"]},
            "ownerReferences": desired["metadata"]["ownerReferences"],
        },
    }
    body["metadata"].pop("managedFields", None)
    return body
