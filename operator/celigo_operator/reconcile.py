"""Desired vs actual: one idempotent, level-based entry point for create, update, resume and timer ticks.

`reconcile()` reads the resource, its source Secret and its children, repairs what drifted, and returns the
status it observed plus the Events worth posting. It never writes the status itself: the caller compares
and writes only what changed. Killed at any line, the next call converges to the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from celigo_operator import api, manifests, waves
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond, utcnow
from celigo_operator.config import OperatorConfig
from celigo_operator.health import CeligoHealth, HealthChecker
from celigo_operator.kube import Kube, KubeError
from celigo_operator.manifests import ConnectorCredentials, Owner
from celigo_operator.outcome import Checkpoint, Event, Outcome, status_model
from celigo_operator.rotation import Context, RotationSettings, Rotator, merge_credentials
from celigo_operator.sources import CredentialProblem
from celigo_operator.waves import WaveGate

log = logging.getLogger(__name__)


@dataclass
class _Pass:
    """What one reconcile builds up: the status as a dict while the steps fill it in (typed at the end)."""

    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    deployment: dict[str, Any] | None = None  # as the API server returned it during this reconcile
    upgrade: Cond | None = None  # OperatorUpgrade, while a new operator release waits to roll here


def check_spec(spec: CeligoConnectorSpec, config: OperatorConfig) -> Cond | None:
    """Cross-field and operator-policy checks the schema cannot express; None when the spec is usable."""
    image = manifests.connector_image(spec, config)
    if not config.image_allowed(image):
        allowed = ", ".join(config.image_allowlist) or "(none)"
        return Cond.false(
            cond.RECONCILED,
            "ImageNotAllowed",
            f"spec.image {image} is not allowed by the operator; allowed prefixes: {allowed}.",
        )
    clashes = sorted({e.name for e in spec.extra_env or []} & manifests.MANAGED_ENV)
    if clashes:
        return Cond.false(
            cond.RECONCILED,
            "InvalidSpec",
            f"spec.extraEnv may not set {', '.join(clashes)}: the operator manages these variables.",
        )
    names = [e.name for e in spec.extra_env or []]
    if len(names) != len(set(names)):
        return Cond.false(cond.RECONCILED, "InvalidSpec", "spec.extraEnv names a variable twice.")
    try:
        api.parse_duration(spec.health_check.interval)
    except ValueError as exc:
        return Cond.false(cond.RECONCILED, "InvalidSpec", f"spec.healthCheck.interval: {exc}")
    return None


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"spec.{loc}: {err['msg']}")
    return "; ".join(parts)


def _owned_by(obj: Mapping[str, Any], owner: Owner) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == owner.uid for r in refs)


class ChildConflict(Exception):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(
            f"A {kind} named {name} already exists and is not owned by this CeligoConnector; "
            "the operator will not overwrite it. Rename or delete it."
        )


#: CredentialsValid reasons that come from reading the Secret (not from Celigo's verdict on the token).
_SECRET_REASONS = frozenset(
    {
        "SecretNotFound",
        "SecretNotOptedIn",
        "KeyMissing",
        "MalformedClientId",
        "MalformedClientSecret",
        "SecretUnreadable",
        "NewCredentialsRejected",
        "VerificationPending",
        "OwnedCredentialMissing",
    }
)


class Reconciler:
    """Holds the operator-wide collaborators; `reconcile(body)` is the one entry point."""

    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        hmac_key: bytes,
        health: HealthChecker,
        rotation: RotationSettings | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.hmac_key = hmac_key
        self.health = health
        self.rotator = Rotator(kube, config, health, rotation or RotationSettings.from_env())
        self.waves = WaveGate(size=config.upgrade_wave_size, stall_after=config.upgrade_stall_after)

    async def reconcile(
        self, body: Mapping[str, Any], *, check_now: bool = False, persist: Checkpoint | None = None
    ) -> Outcome:
        """Converge one resource. `check_now` forces the Celigo/ConductorOne checks (create, update);
        `persist` is the status writer's checkpoint for the rotation journal."""
        meta = body.get("metadata") or {}
        owner = Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
        generation = meta.get("generation")
        old_status: dict[str, Any] = dict(body.get("status") or {})
        status: dict[str, Any] = {
            k: v for k, v in old_status.items() if k not in ("conditions", "observedGeneration")
        }
        computed: list[Cond] = []
        drop: list[str] = []
        outcome = _Pass(status=status)

        try:
            spec = CeligoConnectorSpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            computed.append(Cond.false(cond.RECONCILED, "InvalidSpec", _validation_message(exc)))
            return self._finish(outcome, old_status, computed, generation)

        problem = check_spec(spec, self.config)
        interval = self.health.interval(spec) if problem is None else 300.0
        if check_now:
            self.health.schedule.forget(owner.uid)
        else:
            self.health.schedule.spread(owner.uid, interval)
        due = self.health.schedule.due(owner.uid, slack=self.config.tick_interval / 2)

        last = cond.find(old_status.get("conditions"), cond.CREDENTIALS_VALID)
        creds_cond, creds, celigo = await self._credentials(owner, spec, status, due, last)
        if creds_cond is not None:
            computed.append(creds_cond)

        if problem is not None:
            computed.append(problem)
        elif spec.suspend:
            computed.append(
                Cond.true(
                    cond.RECONCILED, "Suspended", "spec.suspend is true: the children are left as they are."
                )
            )
        else:
            try:
                computed.append(await self._apply(owner, spec, creds, status, outcome))
            except ChildConflict as exc:
                computed.append(Cond.false(cond.RECONCILED, "ChildConflict", str(exc)))
            except KubeError as exc:
                computed.append(Cond.false(cond.RECONCILED, "ApplyFailed", f"Kubernetes API: {exc}"))

        available = await self._observe(owner, status, outcome.deployment)
        computed.append(available)
        self._track_upgrade(owner, available, outcome)
        if outcome.upgrade is not None:
            computed.append(outcome.upgrade)
        else:
            drop.append(cond.OPERATOR_UPGRADE)

        if problem is None and not spec.suspend:
            cred_status = status.get("credentials") or {}
            rolled = (
                creds is not None
                and (available.status == "True" or available.reason == "ScaledToZero")  # no pod uses the old
                and cred_status.get("version") == manifests.credentials_version(self.hmac_key, creds)
                and cred_status.get("lastRotationResult") == "Succeeded"
            )
            ctx = Context(
                owner=owner, spec=spec, body=body, status=status, rolled=rolled, due=due, persist=persist
            )
            try:
                rotated = await self.rotator.advance(ctx)
            except KubeError as exc:
                computed.append(Cond.unknown(cond.ROTATION, "JournalWriteFailed", f"Kubernetes API: {exc}"))
            else:
                computed += rotated.conditions
                drop += rotated.drop
                outcome.events += rotated.notes

        if due:
            if celigo is None and creds is not None:
                celigo = await self.health.check_celigo(spec.region, creds.access_token, uid=owner.uid)
            if celigo is not None:
                computed.append(celigo.reachable)
                if celigo.credentials is not None and creds_cond is None:
                    computed.append(celigo.credentials)
                if celigo.inventory is not None:
                    status["inventory"] = celigo.inventory
            if spec.conductor_one is not None:
                api_secret = await self.kube.get_secret(
                    owner.namespace, spec.conductor_one.credentials_secret_ref.name
                )
                computed.append(await self.health.check_conductorone(spec, owner.namespace, api_secret))
            status["lastCheckTime"] = utcnow()
            self.health.schedule.checked(owner.uid, interval, self.config.health_jitter)
        if spec.conductor_one is None:
            drop.append(cond.SYNCED)
        return self._finish(outcome, old_status, computed, generation, drop)

    # ------------------------------------------------------------------------------------ steps

    async def _credentials(
        self,
        owner: Owner,
        spec: CeligoConnectorSpec,
        status: dict[str, Any],
        due: bool,
        last: Mapping[str, Any] | None,
    ) -> tuple[Cond | None, ConnectorCredentials | None, CeligoHealth | None]:
        """Credentials fit to run with, and the CredentialsValid condition (None: keep the last one).

        A credential set that differs from the running one is checked against Celigo before it may
        replace it; a refused set is remembered (by HMAC) so it is not rolled out, and retried when the
        health check is next due or the Secret changes again.
        """
        ref = spec.credentials_secret_ref
        where = f"Secret {owner.namespace}/{ref.name}"
        cred_status: dict[str, Any] = dict(status.get("credentials") or {})
        try:
            source = await self.kube.get_secret(owner.namespace, ref.name)
            owned = await self.rotator.owned_values(owner, spec, status)
            creds = merge_credentials(source, ref, owner.namespace, owned)
        except CredentialProblem as exc:
            message = exc.message
            if cred_status.get("version"):
                message += (
                    f" Nothing is rolled out: the connector keeps running with the last verified credentials "
                    f"(version {cred_status['version'][:12]})."
                )
            return Cond.false(cond.CREDENTIALS_VALID, exc.reason, message), None, None
        except KubeError as exc:
            return (
                Cond.unknown(cond.CREDENTIALS_VALID, "SecretUnreadable", f"Reading {where} failed: {exc}"),
                None,
                None,
            )
        version = manifests.credentials_version(self.hmac_key, creds)
        current = cred_status.get("version")
        if version == current:
            cred_status["rejectedVersion"] = None
            status["credentials"] = cred_status
            if last is not None and last.get("reason") not in _SECRET_REASONS:
                return None, creds, None  # Celigo's last verdict on the running token stands until re-checked
            return (
                Cond.true(cond.CREDENTIALS_VALID, "Valid", f"{where} holds the running credentials."),
                creds,
                None,
            )
        if version == cred_status.get("rejectedVersion") and not due:
            return None, None, None
        checked = await self.health.check_celigo(spec.region, creds.access_token, uid=owner.uid)
        if checked.token_accepted:
            cred_status["rejectedVersion"] = None
            status["credentials"] = cred_status
            return checked.credentials, creds, checked
        if checked.transient:
            return (
                Cond.unknown(
                    cond.CREDENTIALS_VALID,
                    "VerificationPending",
                    f"New credentials in {where} are not rolled out until Celigo confirms the token: "
                    f"{checked.reachable.message}",
                ),
                None,
                checked,
            )
        refusal = (
            checked.credentials
            if checked.credentials and checked.credentials.status != "True"
            else checked.reachable
        )
        cred_status["rejectedVersion"] = version
        status["credentials"] = cred_status
        if current:
            return (
                Cond.false(
                    cond.CREDENTIALS_VALID,
                    "NewCredentialsRejected",
                    f"New credentials in {where} (key {ref.keys.celigo_access_token}) were not rolled out: "
                    f"{refusal.message} The connector keeps running with the previous set.",
                ),
                None,
                checked,
            )
        return (
            Cond.false(cond.CREDENTIALS_VALID, refusal.reason, f"{where}: {refusal.message}"),
            None,
            checked,
        )

    async def _apply(
        self,
        owner: Owner,
        spec: CeligoConnectorSpec,
        creds: ConnectorCredentials | None,
        status: dict[str, Any],
        outcome: _Pass,
    ) -> Cond:
        cred_status: dict[str, Any] = dict(status.get("credentials") or {})
        if creds is not None:
            version = manifests.credentials_version(self.hmac_key, creds)
            secret_name = manifests.secret_name(owner.name, version)
            await self._ensure_secret(owner, manifests.build_secret(owner, creds, version))
        else:
            # No usable new credentials: keep the pods on the last verified set, if it still exists.
            version, secret_name = (
                str(cred_status.get("version") or ""),
                str(cred_status.get("secretName") or ""),
            )
            if not version or not secret_name:
                return Cond.false(
                    cond.RECONCILED,
                    "WaitingForCredentials",
                    "No verified credentials yet: the connector is not deployed until the Secret is fixed.",
                )
            existing = await self.kube.get_secret(owner.namespace, secret_name)
            if existing is None or not _owned_by(existing, owner):
                return Cond.false(
                    cond.RECONCILED,
                    "CredentialsUnavailable",
                    f"The last verified credentials (Secret {secret_name}) are gone and the source Secret is "
                    "not usable; fix the source Secret to redeploy.",
                )

        desired = manifests.build_deployment(owner, spec, self.config, secret_name, version)
        inputs = waves.digest([spec.model_dump(mode="json", by_alias=True), version])
        desired["metadata"]["annotations"] = {
            waves.ANNOTATION_INPUTS: inputs,
            waves.ANNOTATION_TEMPLATE: waves.digest(desired["spec"]["template"]),
        }
        action, outcome.deployment = await self._ensure_deployment(owner, spec, desired, outcome)
        if action:
            outcome.events.append(
                Event("Normal", action, f"{action} Deployment {desired['metadata']['name']}.")
            )

        if cred_status.get("version") != version:
            previous = cred_status.get("version")
            cred_status.update(
                version=version,
                secretName=secret_name,
                rotatedAt=utcnow(),
                lastRotationResult="RollingOut" if previous else "Deployed",
            )
            if previous:
                outcome.events.append(
                    Event(
                        "Normal",
                        "CredentialsChanged",
                        f"Rolling the connector to credentials version {version[:12]}.",
                    )
                )
        status["credentials"] = cred_status
        return Cond.true(cond.RECONCILED, "Reconciled", "The Secret and Deployment match the spec.")

    async def _ensure_secret(self, owner: Owner, desired: dict[str, Any]) -> None:
        name = desired["metadata"]["name"]
        existing = await self.kube.get_secret(owner.namespace, name)
        if existing is None:
            try:
                await self.kube.create_secret(desired)
                return
            except KubeError as exc:
                if not exc.conflict:
                    raise
                existing = await self.kube.get_secret(owner.namespace, name)
        if existing is not None and not _owned_by(existing, owner):
            raise ChildConflict("Secret", name)

    async def _ensure_deployment(
        self, owner: Owner, spec: CeligoConnectorSpec, desired: dict[str, Any], outcome: _Pass
    ) -> tuple[str | None, dict[str, Any]]:
        """Create, repair or leave the Deployment; returns what was done and the object as stored.

        A difference that only a new operator build explains (same spec and credentials, another template)
        waits for a wave slot, so an upgrade never restarts every connector at once.
        """
        name = desired["metadata"]["name"]
        actual = await self.kube.get_deployment(owner.namespace, name)
        if actual is None:
            return "Created", await self.kube.create_deployment(desired)
        if not _owned_by(actual, owner):
            raise ChildConflict("Deployment", name)
        annotations = desired["metadata"]["annotations"]
        matches = manifests.is_subset(desired["spec"], actual.get("spec")) and manifests.is_subset(
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
        if change == "operator" and not self._upgrade_may_roll(owner, spec, outcome):
            return None, actual
        body = {
            **desired,
            "metadata": {
                **actual["metadata"],
                "labels": {**(actual["metadata"].get("labels") or {}), **desired["metadata"]["labels"]},
                "annotations": {**(actual["metadata"].get("annotations") or {}), **annotations},
                "ownerReferences": desired["metadata"]["ownerReferences"],
            },
        }
        body["metadata"].pop("managedFields", None)
        return "Updated", await self.kube.replace_deployment(body)

    def _upgrade_may_roll(self, owner: Owner, spec: CeligoConnectorSpec, outcome: _Pass) -> bool:
        """Whether an operator-driven template change may roll now; says why not in OperatorUpgrade."""
        policy = spec.operator_upgrade.policy
        if policy == "Immediate":
            return True
        if policy == "Hold":
            outcome.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Held",
                "A new operator release changes this connector's pod template; spec.operatorUpgrade.policy is "
                "Hold, so the running template stays until the spec changes.",
            )
            return False
        if not self.waves.may_start(owner.uid):
            outcome.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Waiting",
                f"A new operator release changes this connector's pod template; waiting for an upgrade slot "
                f"({self.waves.position()}).",
            )
            return False
        self.waves.start(owner.uid)
        outcome.events.append(
            Event("Normal", "UpgradeRolling", "Rolling the connector to the new operator release.")
        )
        return True

    def _track_upgrade(self, owner: Owner, available: Cond, outcome: _Pass) -> None:
        """Free the wave slot once the upgraded connector is available; halt the wave if it fails."""
        if owner.uid not in self.waves.rolling:
            return
        if available.status == "True" or available.reason == "ScaledToZero":
            self.waves.finished(owner.uid)
            return
        failing = available.reason in ("CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError")
        if failing or self.waves.stalled(owner.uid):
            first = owner.uid not in self.waves.halted_by
            self.waves.halt(owner.uid, f"{owner.namespace}/{owner.name}")
            outcome.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE,
                "Stalled",
                f"The new operator release does not become available here ({available.reason}): the upgrade wave "
                "is halted until this connector recovers.",
            )
            if first:
                outcome.events.append(Event("Warning", "UpgradeStalled", outcome.upgrade.message))
        else:
            outcome.upgrade = Cond.false(
                cond.OPERATOR_UPGRADE, "Rolling", "Rolling to the new operator release."
            )

    async def _observe(self, owner: Owner, status: dict[str, Any], seen: dict[str, Any] | None) -> Cond:
        """ConnectorAvailable from the Deployment (already read this reconcile, if `seen`) and its pods."""
        name = manifests.child_name(owner.name)
        dep = seen if seen is not None else await self.kube.get_deployment(owner.namespace, name)
        if dep is None or not _owned_by(dep, owner):
            status["connector"] = {"deployment": None}
            return Cond.false(cond.CONNECTOR_AVAILABLE, "NotDeployed", f"Deployment {name} does not exist.")
        dspec, dstat = dep.get("spec") or {}, dep.get("status") or {}
        containers = ((dspec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        env_from = containers[0].get("envFrom") or [{}]
        replicas = int(dspec.get("replicas", 1))
        updated, available = int(dstat.get("updatedReplicas", 0)), int(dstat.get("availableReplicas", 0))
        status["connector"] = {
            "deployment": name,
            "secret": (env_from[0].get("secretRef") or {}).get("name"),
            "image": containers[0].get("image"),
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
        }
        current = dstat.get("observedGeneration", 0) >= dep["metadata"].get("generation", 0)
        rolled = (
            current
            and updated >= replicas
            and available >= replicas
            and int(dstat.get("replicas", 0)) <= replicas
        )
        if replicas == 0:
            return Cond.false(
                cond.CONNECTOR_AVAILABLE, "ScaledToZero", "spec.replicas is 0: no connector runs."
            )
        if rolled:
            await self._after_rollout(owner, status)
            return Cond.true(
                cond.CONNECTOR_AVAILABLE, "Available", f"{available}/{replicas} connector pods available."
            )
        pods = await self.kube.list_pods(
            owner.namespace, ",".join(f"{k}={v}" for k, v in manifests.selector_labels(owner).items())
        )
        problem = pod_problem(pods)
        if problem is not None:
            return problem
        return Cond.false(
            cond.CONNECTOR_AVAILABLE,
            "Progressing",
            f"Rolling out: {updated}/{replicas} pods updated, {available} available.",
        )

    async def _after_rollout(self, owner: Owner, status: dict[str, Any]) -> None:
        """Once every pod runs the current template, older credential Secrets are no longer needed."""
        cred = status.get("credentials") or {}
        current = (status.get("connector") or {}).get("secret")
        if cred.get("lastRotationResult") not in ("RollingOut", "Deployed") or current != cred.get(
            "secretName"
        ):
            return
        status["credentials"] = {**cred, "lastRotationResult": "Succeeded"}
        selector = f"{manifests.LABEL_OWNER_UID}={owner.uid},{manifests.LABEL_ROLE}=connector-credentials"
        for secret in await self.kube.list_secrets(owner.namespace, selector):
            sname = secret["metadata"]["name"]
            if sname != current and _owned_by(secret, owner):
                await self.kube.delete_secret(owner.namespace, sname)

    def _finish(
        self,
        outcome: _Pass,
        old_status: Mapping[str, Any],
        computed: list[Cond],
        generation: int | None,
        drop: list[str] | None = None,
    ) -> Outcome:
        now = utcnow()
        merged = cond.merge(old_status.get("conditions"), computed, generation, now, drop=drop or ())
        current = {c["type"]: Cond(c["type"], c["status"], c["reason"], c.get("message", "")) for c in merged}
        merged = cond.merge(merged, [cond.ready(current)], generation, now)
        for new, old in cond.transitions(old_status.get("conditions"), merged):
            if new["type"] == cond.CREDENTIALS_EXPIRING:
                continue  # inverted polarity: the rotation module posts its own Warning when it turns True
            if new["type"] == cond.ROTATION and new["status"] == "Unknown":
                continue  # a rotation in progress is not news; its steps and outcome have their own Events
            if new["type"] == cond.READY or new["status"] != "True" or old is not None:
                kind = "Normal" if new["status"] == "True" else "Warning"
                outcome.events.append(
                    Event(kind, new["reason"], f"{new['type']}={new['status']}: {new['message']}")
                )
        outcome.status["conditions"] = merged
        outcome.status["observedGeneration"] = generation
        return Outcome(
            status=status_model(outcome.status),
            events=outcome.events,
            deployment=outcome.deployment,
            upgrade=outcome.upgrade,
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
