"""The CeligoConnector API: pydantic models of spec and status, the one source of truth.

`crds/celigoconnectors.yaml` is generated from these models (`make crds`); a test fails when the
committed file differs from `crd()`. Field descriptions become `kubectl explain` text.
"""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

GROUP = "celigo-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "CeligoConnector"
PLURAL = "celigoconnectors"
SINGULAR = "celigoconnector"
SHORT_NAMES = ["celigo"]
CATEGORIES = ["baton"]

#: Label a source Secret must carry before the operator reads it (least privilege against the resource author).
CREDENTIALS_OPT_IN_LABEL = f"{GROUP}/credentials"

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
HOST_ID = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
# The tag is the reference grammar's [\w][\w.-]{0,127} spelled in ASCII: Go's \w (the API server's) is ASCII
# only, while the model's (Rust) regex engine reads \w as every Unicode word character, a class that repeated
# 127 times compiled to 12 MiB of resident memory in every operator process.
IMAGE_REF = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"

# Go-style durations ("30s", "5m", "1h30m") of at least 30 seconds, expressed as a pattern because v1alpha1
# has no CEL rules: a non-zero hour or minute part, or a seconds part of 30 or more. Every number has at most
# five digits, so no duration the schema admits can overflow; the code refuses one longer than a year
# (`MAX_DURATION`).
_NZ = "[1-9][0-9]{0,4}"
_N = "[0-9]{1,5}"
_S30 = "([3-9][0-9]|[1-9][0-9]{2,4})"
DURATION_MIN_30S = rf"^({_NZ}h({_N}m)?({_N}s)?|({_N}h)?{_NZ}m({_N}s)?|({_N}h)?({_N}m)?{_S30}s)$"
DURATION_MIN_1M = rf"^({_NZ}h({_N}m)?({_N}s)?|({_N}h)?{_NZ}m({_N}s)?)$"
DURATION = rf"^({_N}h)?({_N}m)?({_N}s)?$"
#: The longest duration any field takes (8760h, a year), checked in code: a pattern cannot compare numbers.
MAX_DURATION = 8760 * 3600

#: Bounds of the free-form fields, chosen so that no CeligoConnector the schema admits comes near the 256 KiB
#: kopf can keep of it in an annotation (tests/unit/test_hardening_schema.py computes the worst case).
MAX_KEY = 253
MAX_MAP_ITEMS = 32
MAX_TEXT_VALUE = 512  # an extraEnv or podAnnotations value

_DURATION_PART = re.compile(r"([0-9]+)([hms])")


def parse_duration(value: str) -> float:
    """Seconds in a Go-style duration made of h, m and s parts ("1h30m", "45s"); ValueError when malformed or
    longer than 8760h (computed in integers: a number of any length cannot overflow)."""
    if not value or len(value) > 64 or not re.fullmatch(r"([0-9]+[hms])+", value):
        raise ValueError("not a duration (use h, m and s, e.g. 5m or 1h30m)")
    scale = {"h": 3600, "m": 60, "s": 1}
    seconds = sum(int(n) * scale[u] for n, u in _DURATION_PART.findall(value))
    if seconds > MAX_DURATION:
        raise ValueError(f"{value} is longer than the longest duration allowed, 8760h (a year)")
    return float(seconds)


def _duration(value: str | None) -> str | None:
    """A duration field's check beyond its pattern (the model refuses it: the pass reports InvalidSpec)."""
    if value:
        parse_duration(value)
    return value


Duration30s = Annotated[str, Field(pattern=DURATION_MIN_30S, max_length=32), AfterValidator(_duration)]
Duration1m = Annotated[str, Field(pattern=DURATION_MIN_1M, max_length=32), AfterValidator(_duration)]
Duration = Annotated[str, Field(pattern=DURATION, max_length=32), AfterValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _nested(factory: Any, description: str) -> Any:
    """A sub-object that defaults to {} in the CRD too, so the API server fills in its fields' defaults."""
    return Field(default_factory=factory, description=description, json_schema_extra={"default": {}})


# --------------------------------------------------------------------------------------------- spec


class CredentialKeys(_Model):
    """Key names inside the source Secret; the defaults are the ConductorOne doc's own."""

    client_id: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        "BATON_CLIENT_ID", description="Key holding the ConductorOne client id."
    )
    client_secret: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        "BATON_CLIENT_SECRET", description="Key holding the ConductorOne client secret."
    )
    celigo_access_token: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        "BATON_CELIGO_ACCESS_TOKEN", description="Key holding the Celigo API token."
    )

    @model_validator(mode="after")
    def _one_role_per_key(self) -> CredentialKeys:
        _distinct_keys(
            {"clientId": self.client_id, "clientSecret": self.client_secret, "celigoAccessToken": self.celigo_access_token}
        )
        return self


def _distinct_keys(roles: dict[str, str]) -> None:
    """One Secret key may hold one credential only: a key named for two roles would hand one credential to the
    other's receiver (a client secret sent to Celigo as a bearer token)."""
    seen: dict[str, str] = {}
    for role, key in roles.items():
        if key in seen:
            raise ValueError(f"{seen[key]} and {role} both name the Secret key {key}; each role needs its own key")
        seen[key] = role


class CredentialsSecretRef(_Model):
    """A Secret in the resource's namespace, labelled celigo-operator.io/credentials: "true"."""

    name: Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)] = Field(
        description="Name of the source Secret in the same namespace. It must carry the label "
        'celigo-operator.io/credentials: "true" (opt-in), or the operator will not read it.'
    )
    keys: CredentialKeys = _nested(CredentialKeys, "Key names inside the Secret, if not the defaults.")


class HealthCheck(_Model):
    """The operator's own probe of the Celigo API."""

    interval: Duration30s = Field(
        "5m", description="How often the operator checks Celigo (Go-style duration, at least 30s)."
    )


class HealthServer(_Model):
    """The connector's own health server; only newer connector versions have it, so it is off by default."""

    enabled: bool = Field(False, description="Turn on the connector's health server and the pod probes.")
    port: Annotated[int, Field(ge=1024, le=65535)] = Field(8081, description="Health server port.")


# ---- scheduling and resources, typed from the core/v1 models (the subset a connector pod needs), bounded so
# that junk is refused at apply and no spec can outgrow what kopf stores of it in an annotation (256 KiB).

#: Printable ASCII, for free text that kopf stores JSON-escaped (a non-ASCII character takes up to 12 bytes
#: there). In the schema only: a value stored before this bound is not refused by the operator.
_ASCII = {"pattern": r"^[ -~]*$"}
LabelValue = Annotated[str, Field(max_length=63, pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
#: A label or annotation key (prefix/name, the qualified-name syntax).
_QUALIFIED_NAME = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
LabelKey = Annotated[str, Field(min_length=1, max_length=MAX_KEY, pattern=f"^{_QUALIFIED_NAME}$")]
FreeText = Annotated[str, Field(max_length=MAX_TEXT_VALUE, json_schema_extra=_ASCII)]


AnnotationMap = dict[LabelKey, FreeText]
LabelMap = dict[LabelKey, LabelValue]


class EnvVar(_Model):
    """A plain environment variable for the connector container (no secret references)."""

    name: Annotated[str, Field(pattern=ENV_NAME, max_length=128)] = Field(description="Variable name.")
    value: FreeText = Field("", description="Variable value (printable ASCII).")


class NodeSelectorRequirement(_Model):
    """A node selector requirement, as in core/v1."""

    key: LabelKey = Field(description="The label key the selector applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="In, NotIn, Exists, DoesNotExist, Gt or Lt."
    )
    values: Annotated[list[LabelValue], Field(max_length=8)] | None = Field(None, description="Values.")


class NodeSelectorTerm(_Model):
    """A node selector term (its requirements are ANDed), as in core/v1."""

    match_expressions: Annotated[list[NodeSelectorRequirement], Field(max_length=4)] | None = Field(
        None, description="Requirements by node labels."
    )
    match_fields: Annotated[list[NodeSelectorRequirement], Field(max_length=1)] | None = Field(
        None, description="Requirements by node fields."
    )


class NodeSelector(_Model):
    """Node selector terms (ORed), as in core/v1."""

    node_selector_terms: Annotated[list[NodeSelectorTerm], Field(min_length=1, max_length=2)] = Field(
        description="The terms, ORed."
    )


class PreferredSchedulingTerm(_Model):
    """A weighted node selector term, as in core/v1."""

    weight: Annotated[int, Field(ge=1, le=100)] = Field(description="Weight, 1-100.")
    preference: NodeSelectorTerm = Field(description="The node selector term.")


class NodeAffinity(_Model):
    """Node affinity, as in core/v1."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = Field(
        None, description="Hard requirement."
    )
    preferred_during_scheduling_ignored_during_execution: (
        Annotated[list[PreferredSchedulingTerm], Field(max_length=2)] | None
    ) = Field(None, description="Soft preferences.")


class LabelSelectorRequirement(_Model):
    """A label selector requirement, as in meta/v1."""

    key: LabelKey = Field(description="The label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In, NotIn, Exists or DoesNotExist."
    )
    values: Annotated[list[LabelValue], Field(max_length=4)] | None = Field(None, description="Values.")


class LabelSelector(_Model):
    """A label selector, as in meta/v1."""

    match_labels: Annotated[LabelMap, Field(max_length=4)] | None = Field(None, description="Labels to match.")
    match_expressions: Annotated[list[LabelSelectorRequirement], Field(max_length=2)] | None = Field(
        None, description="Requirements, ANDed."
    )


class PodAffinityTerm(_Model):
    """A pod affinity term, as in core/v1 (without namespaceSelector, matchLabelKeys and mismatchLabelKeys)."""

    label_selector: LabelSelector | None = Field(None, description="Which pods.")
    namespaces: Annotated[list[LabelValue], Field(max_length=4)] | None = Field(None, description="Namespaces.")
    topology_key: LabelKey = Field(description="Node label key of the topology domain.")


class WeightedPodAffinityTerm(_Model):
    """A weighted pod affinity term, as in core/v1."""

    weight: Annotated[int, Field(ge=1, le=100)] = Field(description="Weight, 1-100.")
    pod_affinity_term: PodAffinityTerm = Field(description="The term.")


class PodAffinity(_Model):
    """Pod affinity or anti-affinity, as in core/v1."""

    required_during_scheduling_ignored_during_execution: (
        Annotated[list[PodAffinityTerm], Field(max_length=2)] | None
    ) = Field(None, description="Hard requirements.")
    preferred_during_scheduling_ignored_during_execution: (
        Annotated[list[WeightedPodAffinityTerm], Field(max_length=2)] | None
    ) = Field(None, description="Soft preferences.")


class Affinity(_Model):
    """Pod affinity, as in core/v1."""

    node_affinity: NodeAffinity | None = Field(None, description="Node affinity.")
    pod_affinity: PodAffinity | None = Field(None, description="Pod affinity.")
    pod_anti_affinity: PodAffinity | None = Field(None, description="Pod anti-affinity.")


class Toleration(_Model):
    """A pod toleration, as in core/v1."""

    key: Annotated[str, Field(max_length=MAX_KEY, pattern=f"^({_QUALIFIED_NAME})?$")] | None = Field(
        None, description="Taint key (empty with Exists: every taint)."
    )
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Exists or Equal.")
    value: LabelValue | None = Field(None, description="Taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(None, description="Effect.")
    toleration_seconds: int | None = Field(None, description="For NoExecute: how long the pod stays.")


def _quantity(value: int | str) -> str:
    """An int-or-string quantity as the string the Kubernetes client and API server take ("1", "100m")."""
    return str(value)


#: A resource quantity: a non-negative number with an optional suffix (the core/v1 Quantity syntax, no sign).
QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)))?$"
Quantity = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=QUANTITY, max_length=64)],
    AfterValidator(_quantity),
]
ResourceName = Annotated[str, Field(min_length=1, max_length=MAX_KEY)]


class ResourceRequirements(_Model):
    """Container requests and limits (quantities such as 100m, 128Mi)."""

    requests: Annotated[dict[ResourceName, Quantity], Field(max_length=8)] | None = Field(
        None, description="Minimum resources."
    )
    limits: Annotated[dict[ResourceName, Quantity], Field(max_length=8)] | None = Field(
        None, description="Maximum resources."
    )


class ConductorOneSecretKeys(_Model):
    """Key names in the ConductorOne API-credentials Secret."""

    client_id: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        "CONDUCTORONE_CLIENT_ID", description="Key holding the API client id."
    )
    client_secret: Annotated[str, Field(pattern=SECRET_KEY, max_length=253)] = Field(
        "CONDUCTORONE_CLIENT_SECRET", description="Key holding the API client secret."
    )

    @model_validator(mode="after")
    def _one_role_per_key(self) -> ConductorOneSecretKeys:
        _distinct_keys({"clientId": self.client_id, "clientSecret": self.client_secret})
        return self


class ConductorOneSecretRef(_Model):
    """ConductorOne API credentials (never the connector's own), in an opted-in Secret."""

    name: Annotated[str, Field(pattern=DNS_SUBDOMAIN, min_length=1, max_length=253)] = Field(
        description='Secret in the same namespace, labelled celigo-operator.io/credentials: "true".'
    )
    keys: ConductorOneSecretKeys = _nested(ConductorOneSecretKeys, "Key names.")


class ConductorOne(_Model):
    """Optional: lets the operator read the connector's sync status from ConductorOne (Synced)."""

    app_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="ConductorOne app id."
    )
    connector_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] = Field(
        description="ConductorOne connector id."
    )
    credentials_secret_ref: ConductorOneSecretRef = Field(description="API credentials for ConductorOne.")


ROTATE_NOW_ANNOTATION = f"{GROUP}/rotate-now"


class ConductorOneRotation(_Model):
    """Active rotation of the connector's ConductorOne credential through the ConductorOne API."""

    enabled: bool = Field(
        False,
        description="Let the operator rotate the connector's ConductorOne credential (needs spec.conductorOne). "
        "While on, the operator owns that credential and ignores the source Secret's ConductorOne keys once it "
        "has rotated the first time.",
    )
    schedule: Duration1m | None = Field(
        None,
        description='Rotate this long after the last rotation (Go-style duration, e.g. "720h"); empty: '
        "only on the rotate-now annotation.",
    )
    initial_credential_id: (
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] | None
    ) = Field(
        None,
        description="ConductorOne id of the credential in the source Secret, so the first rotation can "
        "revoke it and its expiry can be watched. Empty: the first rotation leaves it alone (an Event says so).",
    )


class CeligoRotation(_Model):
    """Rotation of the Celigo API token through Celigo's accesstokens API (off by default: every token change
    emails the account's admins, and Celigo may not let an API token manage tokens)."""

    enabled: bool = Field(False, description="Let the operator create new Celigo tokens and revoke old ones.")
    schedule: Duration1m | None = Field(
        None,
        description="Rotate this long after the last rotation; empty: only on the rotate-now annotation.",
    )
    token_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")] | None = Field(
        None,
        description="accesstokens _id of the token in the source Secret: lets the operator read its "
        "autoPurgeAt and revoke it after the first rotation.",
    )
    auto_purge: Literal["never", "1h", "4h", "1d", "4d", "10d", "30d"] = Field(
        "never", description="Auto purge of the tokens the operator creates."
    )


class Rotation(_Model):
    """Credential rotation and expiry warnings."""

    conductor_one: ConductorOneRotation = _nested(ConductorOneRotation, "ConductorOne credential rotation.")
    celigo: CeligoRotation = _nested(CeligoRotation, "Celigo API token rotation.")
    expiry_warning: Duration | None = Field(
        None,
        description="Warn (CredentialsExpiring, an Event) this long before a credential expires; "
        "empty: the operator's default (7 days).",
    )
    revoke_on_delete_timeout: Duration | None = Field(
        None,
        description="How long deleting the resource may wait to revoke the ConductorOne credential the "
        "operator created before giving up (empty: the operator's default, 5m).",
    )


class OperatorUpgrade(_Model):
    """How this connector takes a new operator release that changes its pod template."""

    policy: Literal["Waves", "Immediate", "Hold"] = Field(
        "Waves",
        description="Waves: roll when an upgrade slot is free (a few connectors at a time, halted by a "
        "failure); Immediate: roll at once; Hold: keep the running template until the spec changes. Changes "
        "of the spec or the credentials always roll at once.",
    )


class CeligoConnectorSpec(_Model):
    """Desired state of one baton-celigo connector."""

    region: Literal["us", "eu"] = Field("us", description="Celigo region: us or eu.")
    credentials_secret_ref: CredentialsSecretRef = Field(description="Where the credentials come from.")
    provisioning: bool = Field(False, description="Let ConductorOne grant and revoke Celigo roles.")
    image: Annotated[str, Field(pattern=IMAGE_REF, max_length=512)] | None = Field(
        None,
        description="Connector image (tag or digest). Must match the operator's image allowlist; "
        "empty means the operator's pinned default.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        None, description="Image pull policy; empty means the Kubernetes default for the image."
    )
    host_id: Annotated[str, Field(pattern=HOST_ID, max_length=63)] | None = Field(
        None, description="BATON_HOST_ID; defaults to <namespace>-<name>, stable across pod restarts."
    )
    args: Annotated[list[Annotated[str, Field(max_length=256, json_schema_extra=_ASCII)]], Field(max_length=32)] | None = Field(
        None, description="Container args. Empty: none (service mode starts from BATON_CLIENT_ID)."
    )
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="BATON_LOG_LEVEL.")
    log_format: Literal["json", "console"] = Field("json", description="BATON_LOG_FORMAT.")
    health_check: HealthCheck = _nested(HealthCheck, "The operator's Celigo probe.")
    health_server: HealthServer = _nested(HealthServer, "The connector's own health server and probes.")
    conductor_one: ConductorOne | None = Field(None, description="ConductorOne sync status (optional).")
    rotation: Rotation = _nested(Rotation, "Credential rotation (opt-in) and expiry warnings.")
    operator_upgrade: OperatorUpgrade = _nested(
        OperatorUpgrade, "How operator releases that change the pod template reach this connector."
    )
    suspend: bool = Field(False, description="Stop changing the children; keep them as they are.")
    replicas: Annotated[int, Field(ge=0, le=10)] = Field(1, description="Connector pods (they share tasks).")
    resources: ResourceRequirements | None = Field(None, description="Container resources.")
    node_selector: Annotated[LabelMap, Field(max_length=MAX_MAP_ITEMS)] | None = Field(
        None, description="Pod node selector."
    )
    tolerations: Annotated[list[Toleration], Field(max_length=32)] | None = Field(
        None, description="Pod tolerations."
    )
    affinity: Affinity | None = Field(None, description="Pod affinity, as in core/v1.")
    pod_labels: Annotated[LabelMap, Field(max_length=MAX_MAP_ITEMS)] | None = Field(
        None, description="Extra pod labels."
    )
    pod_annotations: Annotated[AnnotationMap, Field(max_length=MAX_MAP_ITEMS)] | None = Field(
        None, description="Extra pod annotations."
    )
    image_pull_secrets: (
        Annotated[list[Annotated[str, Field(pattern=DNS_SUBDOMAIN, max_length=253)]], Field(max_length=16)] | None
    ) = Field(None, description="Names of image pull Secrets.")
    extra_env: Annotated[list[EnvVar], Field(max_length=32)] | None = Field(
        None, description="Extra plain environment variables (not the credential variables)."
    )


# ------------------------------------------------------------------------------------------- status


class Condition(_Model):
    """A condition following the Kubernetes API conventions."""

    type: str = Field(description="Condition type.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason.")
    message: str = Field("", description="Human-readable details.")
    last_transition_time: str = Field(description="When status last changed.")
    observed_generation: int | None = Field(None, description="Generation this condition was set for.")


class Roles(_Model):
    """Users per account access level (the connector's roles)."""

    administrator: int = Field(0, description="Users with accessLevel administrator.")
    manage: int = Field(0, description="Users with accessLevel manage.")
    monitor: int = Field(0, description="Users with accessLevel monitor.")


class Inventory(_Model):
    """What the connector will see in Celigo, measured by the operator."""

    users: int = Field(0, description="Users (account shares).")
    integration_only_users: int = Field(0, description="Users with access to single integrations only.")
    integrations: int = Field(0, description="Integrations.")
    roles: Roles = _nested(Roles, "Users per role.")
    checked_at: str | None = Field(None, description="When the inventory was read.")


class CredentialsStatus(_Model):
    """Which credential set the connector runs with: an HMAC, never a value."""

    version: str | None = Field(None, description="HMAC of the credentials in use.")
    secret_name: str | None = Field(None, description="The operator-owned Secret holding them.")
    rotated_at: str | None = Field(None, description="When the connector last moved to new credentials.")
    last_rotation_result: Literal["Deployed", "RollingOut", "Succeeded"] | None = Field(
        None, description="Outcome of the last credential change: Deployed, RollingOut or Succeeded."
    )
    rejected_version: str | None = Field(
        None, description="HMAC of a source set that failed verification; not rolled out, retried on change."
    )


class ConnectorStatus(_Model):
    """The connector workload as last seen."""

    deployment: str | None = Field(None, description="Deployment name.")
    secret: str | None = Field(None, description="Current credentials Secret name.")
    image: str | None = Field(None, description="Image in the pod template.")
    replicas: int | None = Field(None, description="Desired replicas.")
    updated_replicas: int | None = Field(None, description="Pods on the current template.")
    available_replicas: int | None = Field(None, description="Available pods.")


class OwnedCredential(_Model):
    """A credential the operator created and keeps in an operator-owned Secret (values never in status)."""

    id: str | None = Field(None, description="ConductorOne credential id or Celigo accesstokens _id.")
    secret_name: str | None = Field(None, description="Operator-owned Secret holding it.")
    expires_at: str | None = Field(None, description="expiresTime / autoPurgeAt, when known.")
    rotated_at: str | None = Field(None, description="When it became the one the pods use.")


class FlowStatus(_Model):
    """Durable state of one rotation flow (ConductorOne or Celigo)."""

    current: OwnedCredential | None = Field(None, description="The credential the pods should use.")
    previous: OwnedCredential | None = Field(None, description="The credential to revoke once pods moved.")
    pending: OwnedCredential | None = Field(None, description="A new credential, stored, not yet rolled out.")
    created: OwnedCredential | None = Field(
        None,
        description="A new credential made but whose value is not stored yet: journaled before the risky "
        "call, revoked if the step does not finish.",
    )
    enabled_at: str | None = Field(None, description="When rotation was first seen enabled (schedule base).")
    last_rotated_at: str | None = Field(None, description="When the last rotation of this flow finished.")
    last_result: Literal["Succeeded", "Failed", "Unsupported", "OrphanPossible"] | None = Field(
        None, description="Succeeded | Failed | Unsupported | OrphanPossible."
    )
    unsupported: bool | None = Field(None, description="The API refused rotation (403/404): not tried again.")
    requested: bool | None = Field(None, description="A rotation is asked for (annotation or schedule).")
    requested_by: Literal["Annotation", "Schedule"] | None = Field(None, description="Annotation or Schedule.")
    last_message: str | None = Field(
        None, description="Why the last rotation of this flow failed or stopped."
    )
    expires_at: str | None = Field(
        None, description="When the credential in use expires, when it can be read."
    )
    expiry_checked_at: str | None = Field(None, description="When that expiry was last read.")


class RotationStatus(_Model):
    """The rotation journal: every step is written here before the next one begins."""

    step: Literal["Idle", "Requesting", "Stored", "RollingOut", "Revoking"] | None = Field(
        None, description="Where the running rotation is (Idle: none)."
    )
    flow: Literal["ConductorOne", "Celigo"] | None = Field(
        None, description="Which flow the step belongs to."
    )
    id: str | None = Field(None, description="Id of the running rotation (names its Secret and token).")
    trigger: Literal["Annotation", "Schedule"] | None = Field(
        None, description="Why it started: Annotation or Schedule."
    )
    started_at: str | None = Field(None, description="When the running rotation started.")
    attempts: int | None = Field(None, description="Failed attempts of the current step (backoff).")
    next_attempt_at: str | None = Field(None, description="Not before this time (backoff after failures).")
    last_error: str | None = Field(None, description="Why the last attempt failed.")
    rotate_now: str | None = Field(None, description="The last rotate-now annotation value acted on.")
    credential_source: Literal["SourceSecret", "Operator"] | None = Field(
        None,
        description="Where the connector's ConductorOne credential comes from: SourceSecret or Operator.",
    )
    conductor_one: FlowStatus | None = Field(None, description="ConductorOne credential rotation.")
    celigo: FlowStatus | None = Field(None, description="Celigo token rotation.")


class CeligoConnectorStatus(_Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(None, description="The spec generation last acted on.")
    conditions: list[Condition] | None = Field(None, description="Current conditions.")
    last_check_time: str | None = Field(None, description="When the operator last checked health.")
    inventory: Inventory | None = Field(None, description="Celigo inventory the connector will see.")
    credentials: CredentialsStatus | None = Field(None, description="Credential version in use.")
    connector: ConnectorStatus | None = Field(None, description="The connector workload.")
    sync: dict[str, Any] | None = Field(None, description="ConductorOne sync status, when configured.")
    rotation: RotationStatus | None = Field(None, description="Credential rotation journal.")


# --------------------------------------------------------------------------------------------- CRD

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "Whether the connector is healthy.",
    },
    {
        "name": "Reason",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        "description": "Why, in one word.",
    },
    {"name": "Region", "type": "string", "jsonPath": ".spec.region", "description": "Celigo region."},
    {
        "name": "Users",
        "type": "integer",
        "jsonPath": ".status.inventory.users",
        "description": "Celigo users the connector will see.",
    },
    {
        "name": "Checked",
        "type": "date",
        "jsonPath": ".status.lastCheckTime",
        "description": "Last health check.",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "Message",
        "type": "string",
        "priority": 1,
        "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
        "description": "What to do about it.",
    },
    {
        "name": "Image",
        "type": "string",
        "priority": 1,
        "jsonPath": ".status.connector.image",
        "description": "Connector image.",
    },
]

_VALUE_CHECKS = {"pattern", "maxLength", "minimum", "maximum"}
_DROP = {"title", "additionalProperties", "propertyNames"}  # keys: bounded by the model, not the schema


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    """Turn a pydantic JSON schema node into a Kubernetes structural-schema node."""
    if isinstance(node, list):
        return [_structural(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].split("/")[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        target.update(extra)
        return _structural(target, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        types = sorted(o.get("type", "") for o in options)
        if types == ["integer", "string"]:
            # the options' value validations apply to their own type only (pattern to strings, minimum to ints)
            checks = {k: v for o in options for k, v in o.items() if k in _VALUE_CHECKS}
            return {**_structural(rest, defs), **checks, "x-kubernetes-int-or-string": True}
        if len(options) != 1:
            raise ValueError(f"cannot express {node} in a structural schema")
        merged = {**options[0], **rest}
        if merged.get("default", 0) is None:
            merged.pop("default")
        return _structural(merged, defs)
    if "patternProperties" in node:  # a map whose keys have a pattern: the model checks keys, not the schema
        (values,) = node["patternProperties"].values()
        node = {**{k: v for k, v in node.items() if k != "patternProperties"}, "additionalProperties": values}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP or key == "$defs":
            continue
        if key == "properties":
            out[key] = {k: _structural(v, defs) for k, v in value.items()}
        elif key == "items":
            out[key] = _structural(value, defs)
        elif key == "default" and value is None:
            continue
        else:
            out[key] = value
    if node.get("type") == "object" and "additionalProperties" in node and "properties" not in node:
        extra = node["additionalProperties"]
        if extra is True or extra == {}:
            out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out["additionalProperties"] = _structural(extra, defs)
    if "const" in out:
        out["enum"] = [out.pop("const")]
    return out


def _openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return dict(_structural(raw, raw.get("$defs", {})))


def _spec_schema() -> dict[str, Any]:
    return _openapi_schema(CeligoConnectorSpec)


def _status_schema() -> dict[str, Any]:
    schema = _openapi_schema(CeligoConnectorStatus)
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    conditions["items"]["properties"]["lastTransitionTime"]["format"] = "date-time"
    for name in ("sync",):
        node = schema["properties"][name]
        node.pop("additionalProperties", None)
        node["x-kubernetes-preserve-unknown-fields"] = True
    return schema


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition, generated from the models above."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/name": "celigo-operator"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
                "categories": CATEGORIES,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "CeligoConnector runs ConductorOne's baton-celigo connector: the "
                            "operator creates its Secret and Deployment, rotates credentials safely and "
                            "reports sync health in status.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string", "description": "API version."},
                                "kind": {"type": "string", "description": "Kind."},
                                "metadata": {"type": "object"},
                                "spec": {**_spec_schema(), "description": "Desired state of the connector."},
                                "status": {**_status_schema(), "description": "Observed state."},
                            },
                        }
                    },
                }
            ],
        },
    }
