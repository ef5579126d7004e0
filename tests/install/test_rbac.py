"""The shipped RBAC is exactly what the operator uses.

The operator runs as a process against the API emulator, started with the args and environment of the
Deployment that `kubectl kustomize deploy/` (or deploy/namespaced/, or the chart) produces. It goes through
create, update, a credentials change (new Secret version, old one deleted), deletion, then both active
rotations (ConductorOne credential, Celigo token) and deletion with the revoking finalizer. Every
(verb, group, resource, subresource) it sent, as the emulator's request log records it, must be granted by
the shipped Roles/ClusterRoles, and every grant must have been used.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from celigo_testkit.harness import OperatorProcess, operator_env, wait_for
from e2e.test_rotation_support import rotate_now, wait_idle
from install.installkit import DEPLOY, Access, atoms_for, kustomize, rbac_gaps, render_chart, the, wildcards

from support.world import World, world

OPERATOR_AGENTS = ("celigo-operator", "kopf")
DISCOVERY_PREFIXES = ("/api", "/apis", "/version", "/openapi")
#: The preflight's questions about itself (preflight.py): granted to every authenticated user by the built-in
#: system:basic-user role, so no shipped rule is needed for them.
SELF_REVIEWS = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
}
POD_NAME = "celigo-operator-7d9f8b6c5-x2x4q"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deployment_settings(objects: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """The operator container's args and plain env as shipped (downward API resolved as in a pod)."""
    dep = the(objects, "Deployment", "celigo-operator")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            field = item["valueFrom"]["fieldRef"]["fieldPath"]
            assert field in ("metadata.namespace", "metadata.name"), item
            env[item["name"]] = dep["metadata"]["namespace"] if field == "metadata.namespace" else POD_NAME
    return list(container["args"]), env


def start_as_deployed(
    w: World,
    objects: list[dict[str, Any]],
    tmp: Path,
    kubeconfig: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[OperatorProcess, tuple[int, int]]:
    """Start the operator with the Deployment's args and env; only the listening ports are moved to free ones.
    `kubeconfig`: whom the operator authenticates as (default: the world's admin); `extra_env`: settings on top."""
    args, deployed_env = deployment_settings(objects)
    assert args[0] == "run"
    env = operator_env(kubeconfig or w.kubeconfig, celigo_urls=w.celigo.base_urls, conductorone_url=w.c1.url)
    env.update(deployed_env)
    assert env["CELIGO_OPERATOR_LIVENESS_ENDPOINT"] == "http://0.0.0.0:8080/healthz"
    liveness = free_port()
    env["CELIGO_OPERATOR_LIVENESS_ENDPOINT"] = f"http://127.0.0.1:{liveness}/healthz"
    assert env["CELIGO_OPERATOR_METRICS_PORT"] == "9090"
    metrics = free_port()
    env["CELIGO_OPERATOR_METRICS_PORT"] = str(metrics)
    env.update(extra_env or {})
    w.operator = OperatorProcess(env, tmp / "operator.log", args=args[1:]).start()
    return w.operator, (liveness, metrics)


def exercise(w: World, ns: str) -> None:
    """Create, update, change credentials, delete: every path that makes the operator call the API."""
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    first = w.wait_ready(ns, timeout=30)
    old_secret = first["status"]["credentials"]["secretName"]
    w.patch_spec(ns, "celigo", {"replicas": 2})
    wait_for(lambda: w.get(ns)["status"].get("observedGeneration") == 2, 20, what="observedGeneration 2")
    w.wait_ready(ns)
    w.put_secret(ns, w.credentials())  # new credentials: a new immutable Secret, the old one deleted
    wait_for(
        lambda: [s["metadata"]["name"] for s in w.owned_secrets(ns)]
        == [w.get(ns)["status"]["credentials"]["secretName"]] != [old_secret],
        30,
        what="credentials rolled and the old Secret removed",
    )
    w.wait_ready(ns)
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo")
    wait_for(lambda: w.deployment(ns) is None, 20, what="children collected")
    exercise_child_conflict(w, ns)
    exercise_rotation(w, ns)


def exercise_child_conflict(w: World, ns: str) -> None:
    """A Deployment of the child's name that the connector does not own: not in the operator's cache of its own
    Deployments, so its create answers 409 and the operator reads it by name (`get`) to report ChildConflict."""
    labels = {"app": "someone-else"}
    foreign = {
        "metadata": {"name": "clash-baton-celigo", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "x", "image": "nginx:1"}]}},
        },
    }
    w.apps.create_namespaced_deployment(ns, foreign)
    w.create_connector(ns, "clash")
    w.wait_condition(ns, "clash", "Reconciled", "False", "ChildConflict", timeout=30)
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "clash")
    w.apps.delete_namespaced_deployment("clash-baton-celigo", ns)


def exercise_rotation(w: World, ns: str) -> None:
    """Both active rotations (a new ConductorOne credential, a new Celigo token) on request, then deletion,
    which revokes the credential the operator created through its finalizer."""
    app, connector = "app-rbac", "conn-rbac"
    issued = w.c1.add_connector(app, connector)
    assert issued is not None
    api_id, api_secret = w.c1.register_client()
    token = w.celigo.add_token("us")
    w.put_secret(
        ns,
        {"BATON_CLIENT_ID": issued.client_id, "BATON_CLIENT_SECRET": issued.client_secret,
         "BATON_CELIGO_ACCESS_TOKEN": token},
    )
    w.put_secret(ns, {"CONDUCTORONE_CLIENT_ID": api_id, "CONDUCTORONE_CLIENT_SECRET": api_secret}, name="c1-api")
    w.create_connector(
        ns,
        conductorOne={"appId": app, "connectorId": connector, "credentialsSecretRef": {"name": "c1-api"}},
        rotation={
            "conductorOne": {"enabled": True, "initialCredentialId": issued.credential_id},
            "celigo": {"enabled": True, "tokenId": w.celigo.token_record(token)["_id"]},
        },
    )
    w.wait_ready(ns, timeout=30)
    value = rotate_now(w, ns)
    wait_idle(w, ns, value, "conductorOne")
    wait_idle(w, ns, value, "celigo")
    assert "celigo-operator.io/revoke-credential" in (w.get(ns)["metadata"].get("finalizers") or [])
    w.custom.delete_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors", "celigo")
    wait_for(
        lambda: not w.custom.list_namespaced_custom_object("celigo-operator.io", "v1alpha1", ns, "celigoconnectors")[
            "items"
        ],
        20,
        what="rotated resource deleted (finalizer removed)",
    )


def operator_accesses(w: World) -> set[Access]:
    found = set()
    for r in list(w.emu.request_log):
        # Leases: only the operator touches them, and it takes the Lease before it names its client.
        if not r.user_agent.startswith(OPERATOR_AGENTS) and r.resource != "leases":
            continue
        if not r.resource:  # discovery: granted to every authenticated user by system:discovery
            assert r.path.startswith(DISCOVERY_PREFIXES), r.path
            continue
        if (r.api_group, r.resource) in SELF_REVIEWS:
            continue
        name = "" if r.verb in ("list", "watch", "create") else r.name
        found.add(Access(r.verb, r.api_group, r.resource, r.subresource, r.namespace, name))
    return found


def check_exact(objects: list[dict[str, Any]], accesses: set[Access]) -> None:
    assert wildcards(objects) == []
    denied, unused = rbac_gaps(accesses, atoms_for(objects))
    assert not denied, "the operator made calls the shipped RBAC does not grant:\n" + "\n".join(map(str, denied))
    assert not unused, "the shipped RBAC grants what the operator never used:\n" + "\n".join(map(str, unused))


def check_runs_as_configured(op: OperatorProcess, ports: tuple[int, int]) -> None:
    """The probe's endpoint answers, metrics are served, logs are JSON: the settings took effect."""
    liveness, metrics = ports
    assert httpx.get(f"http://127.0.0.1:{liveness}/healthz", timeout=5).status_code == 200
    page = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
    assert "celigo_operator_reconciles_total" in page and "celigoconnector_ready" in page
    first = op.log().splitlines()[0]
    entry = json.loads(first)  # CELIGO_OPERATOR_LOG_FORMAT=json as the Deployment sets it
    assert entry["level"] == "INFO" and "starting" in entry["message"]


def shipped(source: str) -> list[dict[str, Any]]:
    """The objects an install path creates: deploy/ via kustomize, or the chart via Helm (ticks of 1 s are
    a chart value, so the chart's env does not slow the test down). The chart's cluster-wide run uses leader
    election, its one extra rule; without it the chart grants what deploy/ grants (test_chart.py)."""
    fast = {"operator": {"tickInterval": 1}}
    return {
        "deploy": lambda: kustomize(DEPLOY),
        "deploy-namespaced": lambda: kustomize(DEPLOY / "namespaced"),
        "deploy-ha": lambda: kustomize(DEPLOY / "ha"),
        "chart-leader-election": lambda: render_chart(
            {**fast, "replicaCount": 2, "leaderElection": {"enabled": True}}
        )[0],
        "chart-namespaced": lambda: render_chart({**fast, "watch": {"clusterWide": False, "namespaces": ["celigo"]}})[0],
    }[source]()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["deploy", "deploy-ha", "chart-leader-election"])
def test_cluster_wide_rbac_is_exactly_what_the_operator_uses(tmp_path: Path, source: str) -> None:
    objects = shipped(source)
    with world(tmp_path, start_operator=False, kube="emulator") as w:  # test_rbac_real.py: the real server
        op, liveness = start_as_deployed(w, objects, tmp_path)
        try:
            ns = w.namespace("rbac")
            exercise(w, ns)
            check_runs_as_configured(op, liveness)
        finally:
            op.stop(timeout=3)
        accesses = operator_accesses(w)
    # The HMAC key in the operator's own namespace was read through the same cluster-wide grant.
    assert Access("get", "", "secrets", "", "celigo-operator", "celigo-operator-hmac") in accesses
    lease = Access("update", "coordination.k8s.io", "leases", "", "celigo-operator", "celigo-operator-leader")
    assert (lease in accesses) == (source in ("chart-leader-election", "deploy-ha"))
    check_exact(objects, accesses)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["deploy-namespaced", "chart-namespaced"])
def test_namespaced_rbac_is_exactly_what_the_operator_uses(tmp_path: Path, source: str) -> None:
    objects = shipped(source)
    args, _ = deployment_settings(objects)
    watched = args[args.index("--namespace") + 1]
    with world(tmp_path, start_operator=False, kube="emulator") as w:  # test_rbac_real.py: the real server
        w.core.create_namespace({"metadata": {"name": watched}})
        op, liveness = start_as_deployed(w, objects, tmp_path)
        try:
            exercise(w, watched)
            check_runs_as_configured(op, liveness)
        finally:
            op.stop(timeout=3)
        accesses = operator_accesses(w)
    check_exact(objects, accesses)
    atoms = atoms_for(objects)
    secret_scopes = {(a.namespace, a.resource_name) for a in atoms if a.resource == "secrets"}
    assert None not in {ns for ns, _ in secret_scopes}, "namespaced mode must not read Secrets cluster-wide"
    assert {ns for ns, _ in secret_scopes} == {watched, "celigo-operator"}
    hmac_reads = {a.resource_name for a in atoms if a.resource == "secrets" and a.namespace == "celigo-operator"
                  and a.verb == "get"}
    assert hmac_reads == {"celigo-operator-hmac"}, "only the HMAC key may be read in the operator's namespace"
    cluster_wide = {(a.group, a.resource) for a in atoms if a.namespace is None}
    assert cluster_wide <= {("", "namespaces"), ("apiextensions.k8s.io", "customresourcedefinitions")}


def test_authorizer_catches_missing_and_extra_grants() -> None:
    """The checker itself: a call outside the rules is denied, a rule never used is reported."""
    objects = kustomize(DEPLOY / "namespaced")
    atoms = atoms_for(objects)
    pods = Access("list", "", "pods", "", "celigo")
    elsewhere = Access("list", "", "pods", "", "other-namespace")
    other_key = Access("get", "", "secrets", "", "celigo-operator", "someone-elses-secret")
    create_key = Access("create", "", "secrets", "", "celigo-operator")
    denied, unused = rbac_gaps({pods, elsewhere, other_key, create_key}, atoms)
    assert elsewhere in denied and other_key in denied and pods not in denied and create_key not in denied
    assert any(a.resource == "deployments" for a in unused)
