"""The pod policy: what a CeligoConnector's author may put in the connector's pod. Pure functions.

Whoever may create a CeligoConnector may not read the opted-in Secrets of its namespace, so nothing in the
spec may run chosen flags, proxy settings or code next to those credentials (README, "Security model"):

- `spec.args` carries only flags on an allowlist (default: the baton-celigo flags of connector-contract.md
  that set no credential, file, URL or endpoint and duplicate no spec field); the `service` word is refused
  with the reason; the flags the operator sets itself are refused even if an allowlist names them.
- `spec.extraEnv` may not name the `BATON_*` variables (every baton flag is also a `BATON_*` variable),
  proxy variables, TLS trust variables, or loader and Go runtime variables.
- `spec.image` must be in an allowed repository (exact match, any tag or digest).

Only the operator's configuration widens a list (config.py: IMAGE_ALLOWLIST, ALLOWED_ARGS,
ALLOWED_EXTRA_ENV); `check_config` refuses a configuration that would widen past what the operator manages.
Messages name the field and the flag or variable, never a value (an arg's value may be a credential).
"""

from __future__ import annotations

import re

from kubernetes.utils.quantity import parse_quantity

from celigo_operator import api, manifests
from celigo_operator import conditions as cond
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond
from celigo_operator.config import ENV_PREFIX, OperatorConfig, image_repository

INVALID_SPEC = "InvalidSpec"
IMAGE_NOT_ALLOWED = "ImageNotAllowed"

SERVICE_WHY = (
    "baton-celigo has no `service` subcommand on Linux (it exits 1 with 'unknown command'); the connector "
    "runs in service mode by itself from the BATON_CLIENT_ID the operator sets, so spec.args stays empty"
)

#: Why each variable the operator sets (and the flag of the same name) is not the resource author's to set.
MANAGED_WHY = {
    manifests.ENV_CLIENT_ID: "sets a credential; credentials come only from spec.credentialsSecretRef",
    manifests.ENV_CLIENT_SECRET: "sets a credential; credentials come only from spec.credentialsSecretRef",
    manifests.ENV_ACCESS_TOKEN: "sets a credential; credentials come only from spec.credentialsSecretRef",
    "BATON_REGION": "is spec.region",
    "BATON_PROVISIONING": "is spec.provisioning",
    "BATON_HOST_ID": "is spec.hostId",
    "BATON_LOG_LEVEL": "is spec.logLevel",
    "BATON_LOG_FORMAT": "is spec.logFormat",
    "BATON_FILE": "sets a file; the operator places the sync file in the pod's work dir",
    "BATON_BASE_URL": "sets a URL; the Celigo URL is operator configuration only",
    "BATON_HEALTH_CHECK": "is spec.healthServer.enabled",
    "BATON_HEALTH_CHECK_PORT": "is spec.healthServer.port",
    "BATON_HEALTH_CHECK_BIND_ADDRESS": "sets an endpoint; the operator binds the health server",
}

PROXY_ENV = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"})  # any case
#: Variables that change which certificate authorities a client trusts: Go's crypto/x509 (the connector),
#: and the ones other runtimes read, refused alike in case the image ever ships another client.
TLS_TRUST_ENV = frozenset(
    {
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    }
)
#: Go runtime switches, among them ones that turn weakened TLS and certificate checks back on.
RUNTIME_ENV = frozenset({"GODEBUG"})

# For a flag that is not allowed: what it would do, guessed from its name, to say why in the message.
_FLAG_KINDS = (
    (re.compile(r"secret|token|password|passwd|credential|client-id|key"), "sets a credential"),
    (re.compile(r"url|endpoint|host|addr|proxy|server|port"), "sets a URL or an endpoint"),
    (re.compile(r"file|dir|path|c1z|log-output"), "sets a file"),
)
#: One long flag, optionally `=value`; only the name before `=` is ever repeated in a message.
_LONG_FLAG = re.compile(r"(--[A-Za-z0-9][-A-Za-z0-9_.]*)(=.*)?", re.DOTALL)
MAX_LISTED = 3  # problems named in one message; the rest are counted


def flag_of(env_name: str) -> str:
    """baton's flag for a BATON_* variable (connector-contract.md: flag --x-y <=> env BATON_X_Y)."""
    return "--" + env_name.removeprefix("BATON_").lower().replace("_", "-")


#: Flags the operator sets itself (as BATON_* variables): never allowed, whatever the configuration says.
MANAGED_FLAGS = {flag_of(name): why for name, why in MANAGED_WHY.items()}


def check_spec(spec: CeligoConnectorSpec, config: OperatorConfig) -> Cond | None:
    """Cross-field and operator-policy checks the schema cannot express; None when the spec is usable."""
    image = manifests.connector_image(spec, config)
    if not config.image_allowed(image):
        return Cond.false(cond.RECONCILED, IMAGE_NOT_ALLOWED, image_refusal(image, config))
    problems = arg_problems(spec.args or [], config)
    if problems:
        return Cond.false(cond.RECONCILED, INVALID_SPEC, "spec.args: " + _joined(problems))
    problems = env_problems([e.name for e in spec.extra_env or []], config)
    if problems:
        return Cond.false(cond.RECONCILED, INVALID_SPEC, "spec.extraEnv: " + _joined(problems))
    try:
        api.parse_duration(spec.health_check.interval)
    except ValueError as exc:
        return Cond.false(cond.RECONCILED, INVALID_SPEC, f"spec.healthCheck.interval: {exc}")
    problems = resource_problems(spec)
    if problems:
        return Cond.false(cond.RECONCILED, INVALID_SPEC, "spec.resources: " + _joined(problems))
    return None


def resource_problems(spec: CeligoConnectorSpec) -> list[str]:
    """Each resource whose request exceeds its limit, compared as parsed quantities (2 > 500m, 1Gi > 512Mi):
    the API server refuses such a pod template (422), so the spec is refused before anything rolls."""
    if spec.resources is None:
        return []
    requests, limits = spec.resources.requests or {}, spec.resources.limits or {}
    problems = []
    for name in sorted(requests.keys() & limits.keys()):
        if parse_quantity(requests[name]) > parse_quantity(limits[name]):
            problems.append(
                f"requests.{name} {requests[name]} is above limits.{name} {limits[name]} "
                f"(a request may not exceed its limit)"
            )
    return problems


def image_refusal(image: str, config: OperatorConfig) -> str:
    allowed = ", ".join(config.image_allowlist) or "(none)"
    return (
        f"spec.image {image} is not allowed by the operator: its repository {image_repository(image)} is not "
        f"one of {allowed} (the operator setting {ENV_PREFIX}IMAGE_ALLOWLIST widens this list)."
    )


def arg_problems(args: list[str], config: OperatorConfig) -> list[str]:
    """Why each refused item of spec.args is refused (empty: all allowed). Each item is one `--flag` or
    `--flag=value`; a value is never repeated in a message."""
    allowed = ", ".join(config.allowed_args) or "(none)"
    widen = f"allowed flags: {allowed} (the operator setting {ENV_PREFIX}ALLOWED_ARGS widens this list)"
    problems = []
    for i, item in enumerate(args):
        if item.strip().lower() == "service":
            problems.append(f"`service` is refused: {SERVICE_WHY}")
            continue
        long_flag = _LONG_FLAG.fullmatch(item)
        if long_flag is None:
            problems.append(
                f"item {i} is not a --flag (a subcommand, a positional argument, a short flag, a value in an "
                f"item of its own, or a space inside: write --flag=value); {widen}"
            )
            continue
        flag = long_flag.group(1)
        if flag in MANAGED_FLAGS:
            problems.append(f"{flag} is refused: it {MANAGED_FLAGS[flag]}")
        elif flag not in config.allowed_args:
            kind = next((what for pattern, what in _FLAG_KINDS if pattern.search(flag.lower())), None)
            problems.append(f"{flag} is not allowed{f' (it {kind})' if kind else ''}; {widen}")
    return problems


def env_refusal(name: str, config: OperatorConfig) -> str | None:
    """Why spec.extraEnv may not set this variable, or None. Names compare case-insensitively: HTTPS_PROXY and
    https_proxy are both read by Go's proxy lookup."""
    upper = name.upper()
    if upper in MANAGED_WHY:
        return f"{name} is managed by the operator: it {MANAGED_WHY[upper]}"
    if upper in {n.upper() for n in config.allowed_extra_env}:
        return None
    if upper.startswith("BATON_"):
        return f"{name} is refused: BATON_* variables are the connector's flags (credentials, files, URLs)"
    if upper in PROXY_ENV:
        return f"{name} is refused: a proxy variable sends the connector's traffic, credentials included, elsewhere"
    if upper in TLS_TRUST_ENV:
        return f"{name} is refused: it changes which certificate authorities the connector trusts"
    if upper.startswith("LD_"):
        return f"{name} is refused: loader variables (LD_*) load other code into the connector"
    if upper in RUNTIME_ENV:
        return f"{name} is refused: it changes the Go runtime's TLS and certificate checks"
    return None


def env_problems(names: list[str], config: OperatorConfig) -> list[str]:
    problems = [why for why in (env_refusal(n, config) for n in names) if why is not None]
    if problems:
        problems[-1] += f" (the operator setting {ENV_PREFIX}ALLOWED_EXTRA_ENV allows a variable)"
    twice = sorted({n for n in names if names.count(n) > 1})
    problems += [f"{n} is named twice" for n in twice]
    return problems


def _joined(problems: list[str]) -> str:
    more = len(problems) - MAX_LISTED
    return "; ".join(problems[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "") + "."


def check_config(config: OperatorConfig) -> list[str]:
    """Settings that would widen the policy past what the operator manages, or that mean something else
    since the allowlist stopped being a prefix list. Each entry names the setting and the fix."""
    problems = []
    for entry in config.image_allowlist:
        if entry.endswith("/") or (not entry.endswith("/*") and image_repository(entry) != entry):
            problems.append(
                f"{ENV_PREFIX}IMAGE_ALLOWLIST entry {entry!r} is not a repository: entries are repositories "
                f"matched exactly (e.g. ghcr.io/conductorone/baton-celigo, no tag or digest), or 'path/*' for "
                f"every repository below a path (prefixes such as 'ghcr.io/conductorone/' are no longer read)"
            )
    if not config.image_allowed(config.default_image):
        problems.append(
            f"{ENV_PREFIX}DEFAULT_IMAGE {config.default_image} is not in {ENV_PREFIX}IMAGE_ALLOWLIST: every "
            f"connector without spec.image would be refused; add its repository to the allowlist"
        )
    for flag in config.allowed_args:
        if not flag.startswith("--") or "=" in flag or flag == "--":
            problems.append(
                f"{ENV_PREFIX}ALLOWED_ARGS entry {flag!r} is not a flag name such as --skip-full-sync"
            )
        elif flag in MANAGED_FLAGS:
            problems.append(
                f"{ENV_PREFIX}ALLOWED_ARGS may not allow {flag}: it {MANAGED_FLAGS[flag]}; remove it"
            )
    for name in config.allowed_extra_env:
        if name.upper() in MANAGED_WHY:
            problems.append(
                f"{ENV_PREFIX}ALLOWED_EXTRA_ENV may not allow {name}: it {MANAGED_WHY[name.upper()]}; remove it"
            )
        elif not re.fullmatch(api.ENV_NAME, name):
            problems.append(f"{ENV_PREFIX}ALLOWED_EXTRA_ENV entry {name!r} is not a variable name")
    return problems
