"""Operator configuration: one place, read from flags and CELIGO_OPERATOR_* environment variables.

What a resource author must not control lives here: the image allowlist and the other lists of the pod policy
(policy.py), the Celigo and ConductorOne base URLs (a resource pointing its token at an arbitrary URL would
exfiltrate it), the HMAC key's location.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_IMAGE = "public.ecr.aws/conductorone/baton-celigo:v0.1.7"
#: The baton-celigo repositories (ConductorOne publishes on public.ecr.aws; older tags on ghcr.io). An entry is a
#: repository matched exactly (any tag or digest of it); `registry/path/*` admits every repository below a path.
DEFAULT_IMAGE_ALLOWLIST = ("public.ecr.aws/conductorone/baton-celigo", "ghcr.io/conductorone/baton-celigo")
#: baton-celigo flags (connector-contract.md) a spec.args may carry: none sets a credential, a file, a URL or an
#: endpoint, and none duplicates a spec field.
DEFAULT_ALLOWED_ARGS = ("--skip-full-sync",)
ENV_PREFIX = "CELIGO_OPERATOR_"


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of one operator process. Every interval is configurable so tests never wait on defaults."""

    namespaces: tuple[str, ...] = ()  # empty: all namespaces (cluster-wide mode)
    operator_namespace: str = "celigo-operator"
    hmac_secret_name: str = "celigo-operator-hmac"
    default_image: str = DEFAULT_IMAGE
    image_allowlist: tuple[str, ...] = DEFAULT_IMAGE_ALLOWLIST  # repositories (exact), or `path/*`
    allowed_args: tuple[str, ...] = DEFAULT_ALLOWED_ARGS  # flags spec.args may carry (policy.py)
    allowed_extra_env: tuple[str, ...] = ()  # spec.extraEnv names the policy refuses but this install allows
    celigo_base_urls: Mapping[str, str] = field(default_factory=dict)  # region -> URL override
    connector_base_url: str | None = None  # BATON_BASE_URL handed to the connector (newer versions only)
    conductorone_base_url: str | None = None  # override of https://<tenant-host>
    tick_interval: float = 30.0  # no longer re-reads anything (no timers): only bounds a waiting revoke's retry
    health_jitter: float = 0.1  # fraction of the health interval used to spread checks
    status_refresh: float = 3600.0  # lastCheckTime is refreshed at most this often when nothing changed
    min_ready_seconds: int = 10
    api_timeout: float = 30.0
    api_workers: int = 16  # threads making Kubernetes API calls (the client is synchronous), connections kept
    reconcile_workers: int = 16  # connectors reconciled at once (any one connector by one worker at a time)
    celigo_timeout: float = 10.0
    celigo_concurrency: int = 10  # Celigo checks running at once; more wait (one per token+region is shared)
    followup_delay: float = 2.0  # unused: rollouts are followed by Deployment and Pod events (kept for old env)
    log_format: str = "text"  # text | json
    log_level: str = "INFO"
    standalone: bool = True  # no kopf peering; HA uses a Lease instead
    liveness_endpoint: str | None = "http://0.0.0.0:8080/healthz"
    metrics_port: int | None = 9090
    watch_server_timeout: int = 300
    watch_client_timeout: int = 330
    upgrade_wave_size: int = 2  # connectors rolling at once for an operator upgrade that changes templates
    upgrade_stall_after: float = 600.0  # an upgraded connector not available after this halts the wave
    leader_election: bool = False  # take a Lease before handling: for more than one replica
    lease_name: str = "celigo-operator-leader"
    lease_duration: float = 15.0
    lease_renew_deadline: float = 10.0
    lease_retry_period: float = 2.0
    identity: str = ""  # this replica's name in the Lease (default: hostname-pid; set it to the pod name)

    def celigo_base_url(self, region: str) -> str | None:
        """The operator-level Celigo URL for a region, or None for Celigo's own."""
        return self.celigo_base_urls.get(region)

    def image_allowed(self, image: str) -> bool:
        """Whether an image's repository (the reference without its tag and digest) is on the allowlist:
        an exact repository match, so `.../baton-celigo` admits neither `baton-celigo-evil` nor `baton-github`."""
        repo = image_repository(image)
        return any(
            repo == entry or (entry.endswith("/*") and repo.startswith(entry[:-1]))
            for entry in self.image_allowlist
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> OperatorConfig:
        """Build from CELIGO_OPERATOR_<FIELD> variables (comma lists, k=v maps), then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, getattr(cls(), f.name))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def image_repository(image: str) -> str:
    """`registry[:port]/path` of an image reference: without `@digest`, and without `:tag` (a colon after the
    last slash; one before it is a registry port)."""
    repo = image.split("@", 1)[0]
    head, slash, last = repo.rpartition("/")
    return f"{head}{slash}{last.split(':', 1)[0]}"


_OPTIONAL = {"connector_base_url", "conductorone_base_url", "liveness_endpoint", "metrics_port"}


def _parse(name: str, raw: str, default: Any) -> Any:
    if name in _OPTIONAL and raw.lower() in {"none", "off", "disabled"}:
        return None
    try:
        if isinstance(default, bool):
            if raw.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"true", "1", "yes"}
        if isinstance(default, tuple):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        if isinstance(default, Mapping):
            pairs = (p.split("=", 1) for p in raw.split(",") if p.strip())
            return {k.strip(): v.strip() for k, v in pairs}
        if isinstance(default, int) and not isinstance(default, bool):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{name.upper()}: cannot parse {raw!r}") from exc


@dataclass(frozen=True)
class RotationSettings:
    """Operator-level rotation knobs (CELIGO_OPERATOR_ROTATION_<FIELD>); seconds throughout."""

    backoff_base: float = 60.0  # first retry after a failure; doubles per attempt (cert-manager style)
    backoff_max: float = 8 * 3600.0
    expiry_warning: float = 7 * 86400.0  # default of spec.rotation.expiryWarning
    revoke_timeout: float = 300.0  # default of spec.rotation.revokeOnDeleteTimeout
    api_retries: int = 1  # in-call retries of a ConductorOne read/revoke before the step backs off

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RotationSettings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + "ROTATION_" + f.name.upper())
            if raw:
                values[f.name] = int(raw) if f.type in ("int", int) else float(raw)
        return replace(cls(), **values)
