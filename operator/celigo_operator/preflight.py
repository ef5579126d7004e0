"""Setup checks before the operator starts (`celigo-operator run`), with real API calls.

A setup mistake that retrying cannot fix — a settings error, the CRD not installed, the operator's namespace
missing, a verb its RBAC does not grant — becomes one log line that names the problem and the fix, and the
process exits with code 2 instead of looping on a 404 or 403 (README, "Setup errors"). What may pass by
itself (the API server unreachable, a 5xx) is logged as a warning and left to the operator's own retries.

- the CRD: discovery of `celigo-operator.io/v1alpha1` (allowed to every authenticated user);
- RBAC: one SelfSubjectAccessReview per rule the operator needs in this configuration (allowed to every
  authenticated user), the same rules as the shipped RBAC (README, "RBAC: every rule and why");
- the operator's namespace: the HMAC key Secret read, and if it is not there yet, a dry-run create of it,
  which the API server refuses with `namespaces "x" not found` when the namespace is missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from celigo_operator import api, rest
from celigo_operator.config import ENV_PREFIX, OperatorConfig
from celigo_operator.policy import check_config

log = logging.getLogger(__name__)
EXIT_SETUP = 2
RBAC_FIX = (
    "apply the shipped RBAC (kubectl apply -k deploy/ or deploy/namespaced/; Helm: rbac.create=true), "
    "see README 'RBAC: every rule and why'"
)


@dataclass(frozen=True)
class Access:
    """One rule the operator needs: a verb on a resource, in a namespace ("" = every namespace)."""

    verb: str
    group: str
    resource: str
    namespace: str = ""
    subresource: str = ""
    name: str = ""

    def text(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        what = f"{what}.{self.group}" if self.group else what
        what += f" {self.name!r}" if self.name else ""
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {what} {where}"


#: In every watched namespace (or cluster-wide): the served resources and the children they own.
_WATCHED = (
    *(("celigo-operator.io", "celigoconnectors", "", v) for v in ("get", "list", "watch", "patch")),
    ("celigo-operator.io", "celigoconnectors", "status", "patch"),
    *(("", "secrets", "", v) for v in ("get", "list", "watch", "create", "delete")),
    *(("apps", "deployments", "", v) for v in ("get", "list", "watch", "create", "update")),
    ("", "pods", "", "list"),
    ("", "pods", "", "watch"),
    ("", "events", "", "create"),
)


def required_access(config: OperatorConfig) -> list[Access]:
    """Every rule the operator needs with this configuration (the shipped Roles/ClusterRoles grant these)."""
    needed = [Access(v, "apiextensions.k8s.io", "customresourcedefinitions") for v in ("list", "watch")]
    scopes = config.namespaces or ("",)
    for ns in scopes:
        needed += [Access(verb, group, res, ns, sub) for group, res, sub, verb in _WATCHED]
    if config.namespaces:  # kopf starts serving a watched namespace when it appears
        needed += [Access(v, "", "namespaces") for v in ("list", "watch")]
        if config.operator_namespace not in config.namespaces:
            own = config.operator_namespace
            needed += [
                Access("get", "", "secrets", own, name=config.hmac_secret_name),
                Access("create", "", "secrets", own),
            ]
    if config.leader_election:
        own = config.operator_namespace
        needed += [
            Access("get", "coordination.k8s.io", "leases", own, name=config.lease_name),
            Access("update", "coordination.k8s.io", "leases", own, name=config.lease_name),
            Access("create", "coordination.k8s.io", "leases", own),
        ]
    return needed


class Unchecked(Exception):
    """The API could not be asked (unreachable, 5xx): not a setup error, the operator retries by itself."""


SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
#: Seconds per request of the check (an API server that accepts but never answers must not hang the start).
TIMEOUT = 30.0


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, _request_timeout=TIMEOUT, **kwargs)
    except ApiException as exc:
        if exc.status in (401,):
            raise SetupProblem(
                f"the API server refused the operator's credentials (401 Unauthorized) while {what}: check the "
                f"kubeconfig or the ServiceAccount token"
            ) from None
        if exc.status and 400 <= exc.status < 500 and exc.status not in (408, 429):
            raise
        raise Unchecked(f"{what}: HTTP {exc.status} {exc.reason}") from None
    except Exception as exc:  # connection refused, TLS, timeouts (urllib3's errors): the type only, no text
        raise Unchecked(f"{what}: {type(exc).__name__}") from None


class SetupProblem(Exception):
    """A problem retrying cannot fix; the message names the problem and the fix."""


def check_crd(api_client: k8s.ApiClient) -> list[str]:
    path = f"/apis/{api.GROUP}/{api.VERSION}"
    custom = rest.CustomObjects(api_client)
    try:
        found = json.loads(_call(f"reading {path}", custom.get_api_resources, api.GROUP, api.VERSION).data)
        served = {r.get("name") for r in found.get("resources") or []}
    except ApiException as exc:
        if exc.status != 404:
            raise
        served = set()
    if api.PLURAL in served:
        return []
    return [
        f"the CeligoConnector CRD is not installed: the API server serves no {api.PLURAL}.{api.GROUP}/"
        f"{api.VERSION}; install it with `kubectl apply -f crds/celigoconnectors.yaml` (it is part of "
        f"`kubectl apply -k deploy/` and of the Helm chart with crds.install=true)"
    ]


def check_rbac(api_client: k8s.ApiClient, config: OperatorConfig) -> tuple[list[str], set[Access]]:
    """Problems, and the rules found denied. An API server that serves no SelfSubjectAccessReview (not a real
    one) is not checked."""
    authz = rest.Rest(api_client)
    denied: list[Access] = []
    for access in required_access(config):
        attrs = {"verb": access.verb, "group": access.group, "resource": access.resource}
        attrs.update(
            {
                k: v
                for k, v in (
                    ("namespace", access.namespace),
                    ("subresource", access.subresource),
                    ("name", access.name),
                )
                if v
            }
        )
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        try:
            review = _call("asking what the operator may do", authz.json, "POST", SSAR, body=body)
        except ApiException as exc:
            if exc.status == 404:
                log.debug("the API server serves no SelfSubjectAccessReview: RBAC not checked before start")
                return [], set()
            raise
        if not (review.get("status") or {}).get("allowed"):
            denied.append(access)
    if not denied:
        return [], set()
    who = _username(api_client)
    listed = "; ".join(a.text() for a in denied)
    return [f"RBAC: {who} may not {listed}: {RBAC_FIX}"], set(denied)


def _username(api_client: k8s.ApiClient) -> str:
    try:
        review = rest.Rest(api_client).json(
            "POST", SSR, body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
        name = ((review.get("status") or {}).get("userInfo") or {}).get("username")
    except Exception:  # only a nicer message is lost
        name = None
    return str(name) if name else "the operator's identity"


def check_operator_namespace(api_client: k8s.ApiClient, config: OperatorConfig) -> list[str]:
    """The HMAC key Secret can be read, or created (dry run) in an existing namespace."""
    ns, name = config.operator_namespace, config.hmac_secret_name
    core = rest.CoreV1(api_client)
    try:
        _call(f"reading Secret {ns}/{name}", core.read_namespaced_secret, name, ns)
        return []
    except ApiException as exc:
        if exc.status != 404:
            raise
    body = {"metadata": {"name": name}, "type": "Opaque", "data": {}}
    try:
        _call(
            f"creating Secret {ns}/{name} (dry run)", core.create_namespaced_secret, ns, body, dry_run="All"
        )
    except ApiException as exc:
        if exc.status == 404:
            return [
                f"the operator's namespace {ns} does not exist (it keeps the HMAC key Secret {name} there): create "
                f"it (kubectl create namespace {ns}) or set {ENV_PREFIX}OPERATOR_NAMESPACE to the namespace the "
                f"operator runs in"
            ]
        if exc.status != 409:
            raise
    return []


def check(api_client: k8s.ApiClient, config: OperatorConfig) -> list[str]:
    """Every setup problem found, each one line with its fix; empty when the operator can start."""
    problems = check_config(config)
    if problems:
        return problems
    try:
        problems += check_crd(api_client)
        rbac, denied = check_rbac(api_client, config)
        problems += rbac
        own_secrets = {
            a for a in denied if a.resource == "secrets" and a.namespace in ("", config.operator_namespace)
        }
        if not own_secrets:
            problems += check_operator_namespace(api_client, config)
    except SetupProblem as exc:
        problems.append(str(exc))
    except Unchecked as exc:
        log.warning("setup not fully checked before start (the operator retries by itself): %s", exc)
    except ApiException as exc:
        if exc.status == 403:
            problems.append(
                f"RBAC: the operator was refused a call while checking its setup ({exc.reason}): {RBAC_FIX}"
            )
        else:
            log.warning("setup not fully checked before start: HTTP %s %s", exc.status, exc.reason)
    return problems
