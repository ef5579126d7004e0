"""`celigo-operator doctor`: the operator's checks, run once, printed for a person.

Three ways in: a token file and a region (no cluster needed); `--from-resource ns/name`, which reads the
resource and its credentials Secret through the kubeconfig and also looks at the Deployment, its pods and
ConductorOne; and `--policy [-n NS]`, which lists every CeligoConnector (of the cluster or one namespace) that
this release's pod policy (policy.py) would refuse, with the reason — run it before an upgrade. The Celigo
URL comes from operator configuration (CELIGO_OPERATOR_CELIGO_BASE_URLS), never from the resource, and so
do the policy's allowlists. Exit code 0 only when everything checked is healthy. No secret is ever printed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from celigo_operator import api, manifests, rest
from celigo_operator.api import CeligoConnectorSpec
from celigo_operator.conditions import Cond
from celigo_operator.config import OperatorConfig
from celigo_operator.health import HealthChecker
from celigo_operator.kube import Kube, KubeError, load_api_client
from celigo_operator.manifests import Owner
from celigo_operator.observe import pod_problem
from celigo_operator.policy import check_config, check_spec
from celigo_operator.sources import CredentialProblem, credentials_from_secret


@dataclass
class Report:
    lines: list[tuple[bool, str, str]] = field(default_factory=list)

    def add(self, ok: bool, what: str, detail: str) -> None:
        self.lines.append((ok, what, detail))

    def cond(self, what: str, c: Cond) -> None:
        self.add(c.status == "True", what, f"{c.reason}: {c.message}")

    @property
    def healthy(self) -> bool:
        return all(ok for ok, _, _ in self.lines)

    def print(self, out: TextIO) -> None:
        width = max((len(w) for _, w, _ in self.lines), default=10)
        for ok, what, detail in self.lines:
            print(f"  [{'OK' if ok else 'FAIL':>4}] {what:<{width}}  {detail}", file=out)
        print(f"\n{'healthy' if self.healthy else 'NOT healthy'}", file=out)


async def _celigo(checker: HealthChecker, region: str, token: str, report: Report) -> None:
    health = await checker.check_celigo(region, token)
    if health.credentials is not None:
        report.cond("Celigo token", health.credentials)
    report.cond(f"Celigo region {region}", health.reachable)
    if health.inventory:
        inv = health.inventory
        roles = inv["roles"]
        report.add(
            True,
            "Inventory",
            f"{inv['users']} users ({inv['integrationOnlyUsers']} integration-only), {inv['integrations']} "
            f"integrations; administrator {roles['administrator']}, manage {roles['manage']}, "
            f"monitor {roles['monitor']}",
        )


async def check_token(config: OperatorConfig, region: str, token: str, report: Report) -> None:
    checker = HealthChecker(config)
    try:
        await _celigo(checker, region, token, report)
    finally:
        await checker.aclose()


async def check_resource(
    config: OperatorConfig, namespace: str, name: str, report: Report, kubeconfig: str | None = None
) -> None:
    kube = Kube(load_api_client(kubeconfig), workers=2, timeout=config.api_timeout)
    checker = HealthChecker(config)
    try:
        obj = await kube.get_connector(namespace, name)
        if obj is None:
            report.add(False, "Resource", f"CeligoConnector {namespace}/{name} not found")
            return
        try:
            spec = CeligoConnectorSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            report.add(False, "Spec", f"invalid: {exc.errors()[0]['msg']}")
            return
        policy = check_spec(spec, config)
        report.add(
            policy is None, "Spec", "valid" if policy is None else f"{policy.reason}: {policy.message}"
        )
        ref = spec.credentials_secret_ref
        try:
            creds = credentials_from_secret(await kube.get_secret(namespace, ref.name), ref, namespace)
            report.add(True, "Credentials Secret", f"{namespace}/{ref.name}: opted in, complete, well-formed")
        except CredentialProblem as exc:
            report.add(False, "Credentials Secret", f"{exc.reason}: {exc.message}")
            creds = None
        if creds is not None:
            await _celigo(checker, spec.region, creds.access_token, report)
        owner = Owner(name, namespace, obj["metadata"]["uid"])
        dep = await kube.get_deployment(namespace, manifests.child_name(name))
        if dep is None:
            report.add(False, "Deployment", f"{manifests.child_name(name)} does not exist")
        else:
            st = dep.get("status") or {}
            want = (dep.get("spec") or {}).get("replicas", 1)
            ready = st.get("availableReplicas", 0) >= want and st.get("updatedReplicas", 0) >= want
            report.add(ready, "Deployment", f"{st.get('availableReplicas', 0)}/{want} available")
            selector = ",".join(f"{k}={v}" for k, v in manifests.selector_labels(owner).items())
            problem = pod_problem(await kube.list_pods(namespace, selector))
            report.add(
                problem is None,
                "Pods",
                "no pod waiting in an error state" if problem is None else problem.message,
            )
        if spec.conductor_one is not None:
            secret = await kube.get_secret(namespace, spec.conductor_one.credentials_secret_ref.name)
            report.cond("ConductorOne sync", await checker.check_conductorone(spec, namespace, secret))
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready":
                report.add(
                    c["status"] == "True",
                    "Resource Ready",
                    f"{c['status']} ({c['reason']}): {c.get('message', '')}",
                )
    except KubeError as exc:
        report.add(False, "Kubernetes API", str(exc))
    finally:
        await checker.aclose()
        kube.close()


def policy_refusals(objects: list[dict], config: OperatorConfig) -> list[tuple[str, str, str]]:
    """(namespace/name, reason, message) of each connector the policy would refuse (pure)."""
    refused = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        try:
            spec = CeligoConnectorSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "spec." + ".".join(str(p) for p in first["loc"])
            refused.append((key, "InvalidSpec", f"{where}: {first['msg']}"))
            continue
        problem = check_spec(spec, config)
        if problem is not None:
            refused.append((key, problem.reason, problem.message))
    return refused


def scan_policy(out: TextIO, config: OperatorConfig, namespace: str | None, kubeconfig: str | None) -> int:
    """List the connectors this release's pod policy would refuse. 0: none; 1: some (or the settings are
    inconsistent); 2: the cluster could not be read."""
    scope = f"namespace {namespace}" if namespace else "all namespaces"
    print(f"celigo-operator doctor: pod policy of this release, CeligoConnectors in {scope}\n", file=out)
    settings = check_config(config)
    for problem in settings:
        print(f"  [FAIL] operator settings  {problem}", file=out)
    custom = rest.CustomObjects(load_api_client(kubeconfig))
    try:
        if namespace:
            resp = custom.list_namespaced_custom_object(api.GROUP, api.VERSION, namespace, api.PLURAL)
        else:
            resp = custom.list_cluster_custom_object(api.GROUP, api.VERSION, api.PLURAL)
    except ApiException as exc:
        print(f"cannot list CeligoConnectors: HTTP {exc.status} {exc.reason}", file=out)
        return 2
    objects = json.loads(resp.data)["items"]
    refused = policy_refusals(objects, config)
    width = max((len(key) for key, _, _ in refused), default=0)
    for key, reason, message in refused:
        print(f"  [FAIL] {key:<{width}}  {reason}: {message}", file=out)
    print(
        f"\n{len(objects)} CeligoConnector(s) checked, {len(refused)} would be refused. Change their spec, or "
        "widen the policy with the operator settings CELIGO_OPERATOR_IMAGE_ALLOWLIST, "
        "CELIGO_OPERATOR_ALLOWED_ARGS and CELIGO_OPERATOR_ALLOWED_EXTRA_ENV (set them here too to check with them)."
        if refused
        else f"\n{len(objects)} CeligoConnector(s) checked, none would be refused.",
        file=out,
    )
    return 1 if refused or settings else 0


def run_doctor(
    out: TextIO,
    *,
    region: str | None = None,
    token_file: str | None = None,
    resource: str | None = None,
    kubeconfig: str | None = None,
    config: OperatorConfig | None = None,
    policy: bool = False,
    namespace: str | None = None,
) -> int:
    config = config or OperatorConfig.from_env()
    if policy:
        return scan_policy(out, config, namespace, kubeconfig)
    report = Report()
    if resource:
        namespace, _, name = resource.partition("/")
        if not name:
            print("--from-resource takes NAMESPACE/NAME", file=out)
            return 2
        print(f"celigo-operator doctor: CeligoConnector {namespace}/{name}\n", file=out)
        asyncio.run(check_resource(config, namespace, name, report, kubeconfig))
    else:
        if not token_file or region not in ("us", "eu"):
            print("give --region us|eu and --token-file FILE, or --from-resource NAMESPACE/NAME", file=out)
            return 2
        token = Path(token_file).read_text().strip()
        if not token:
            print(f"{token_file} is empty", file=out)
            return 2
        print(f"celigo-operator doctor: Celigo token from {token_file}, region {region}\n", file=out)
        asyncio.run(check_token(config, region, token, report))
    report.print(out)
    return 0 if report.healthy else 1
