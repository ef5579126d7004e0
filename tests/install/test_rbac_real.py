"""The shipped RBAC on a real kube-apiserver: the operator authenticates as its own ServiceAccount (a token
from the TokenRequest API, as `kubectl create token` gets it), with only the shipped Roles/ClusterRoles and
bindings applied, and the server's RBAC authorizer decides every call. The same exercise as test_rbac.py
(create, update, credentials change, delete, both active rotations, the revoking finalizer); the server's
audit log gives every request the ServiceAccount made. None may be refused (403), and the requests must use
every grant and nothing else (the same exact check as on the emulator's request log)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from celigo_testkit.harness import Kubectl, wait_for
from install.installkit import SA
from install.test_rbac import (
    DISCOVERY_PREFIXES,
    SELF_REVIEWS,
    check_exact,
    check_runs_as_configured,
    deployment_settings,
    exercise,
    shipped,
    start_as_deployed,
)

from support.world import World, world

pytestmark = [pytest.mark.realkube, pytest.mark.slow]
RBAC_KINDS = ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
USER = f"system:serviceaccount:{SA[0]}:{SA[1]}"


@pytest.mark.parametrize(
    "source", ["deploy", "deploy-ha", "chart-leader-election", "deploy-namespaced", "chart-namespaced"]
)
def test_shipped_rbac_is_exactly_what_the_operator_uses_on_a_real_server(tmp_path: Path, source: str) -> None:
    from install.installkit import Access

    objects = shipped(source)
    rbac = [o for o in objects if o["kind"] in RBAC_KINDS]
    args, _ = deployment_settings(objects)
    watched = args[args.index("--namespace") + 1] if "--namespace" in args else None
    with world(tmp_path, start_operator=False, kube="real") as w:
        cp = w.emu.cp  # type: ignore[union-attr]
        kubectl = Kubectl(w.kubeconfig, binary=cp.assets.kubectl)
        if watched:
            w.core.create_namespace({"metadata": {"name": watched}})
        try:
            kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
            token = cp.create_token(*SA)
            sa_kubeconfig = cp.write_kubeconfig(tmp_path / "sa-kubeconfig", token, user="celigo-operator")
            assert cp.audit is not None
            mark = len(cp.audit.records())
            op, ports = start_as_deployed(w, objects, tmp_path, kubeconfig=sa_kubeconfig)
            try:
                ns = watched or w.namespace("rbac")
                exercise(w, ns)
                check_runs_as_configured(op, ports)
            finally:
                op.stop(timeout=3)
            ours = [r for r in cp.audit.records()[mark:] if r.user == USER]
        finally:
            kubectl.run("delete", "-f", "-", "--ignore-not-found", input=yaml.safe_dump_all(rbac), check=False)
            if watched:  # gone also after a failure: the next case creates it again
                w._delete_connectors()  # a connector left with a finalizer would hold the namespace
                w.core.delete_namespace(watched)
                wait_gone(w, watched)
    refused = [(r.verb, r.resource, r.subresource, r.namespace, r.name, r.status_code) for r in ours
               if r.status_code == 403]
    assert not refused, f"the real server refused the operator's calls under the shipped RBAC: {refused}"
    accesses: set[Access] = set()
    reviews = [r for r in ours if (r.api_group, r.resource) in SELF_REVIEWS]
    assert reviews, "the operator started without checking its RBAC (preflight.py)"
    for r in ours:
        if not r.resource:
            assert r.path.startswith(DISCOVERY_PREFIXES), r.path
            continue
        if (r.api_group, r.resource) in SELF_REVIEWS:
            continue
        name = "" if r.verb in ("list", "watch", "create") else r.name
        accesses.add(Access(r.verb, r.api_group, r.resource, r.subresource, r.namespace, name))
    assert accesses, "the audit log has no request of the operator's ServiceAccount"
    check_exact(objects, accesses)


def wait_gone(w: World, namespace: str) -> None:
    def gone() -> bool:
        try:
            w.core.read_namespace(namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 180, what=f"namespace {namespace} deleted")
