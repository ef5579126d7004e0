"""Setup mistakes (preflight.py): the operator process says what is wrong and how to fix it, in one log line
each, and exits with code 2 instead of looping on a 404 or a 403. On the emulator (missing namespace, missing
CRD) and on the real control plane, as the operator's own ServiceAccount under RBAC missing one grant."""

from __future__ import annotations

import copy
import json
import logging
import socket
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from celigo_operator import preflight
from celigo_operator.config import OperatorConfig
from celigo_operator.preflight import EXIT_SETUP, required_access
from celigo_testkit.harness import Kubectl, OperatorProcess, wait_for
from install.installkit import SA, atoms_for, the
from install.test_rbac import shipped, start_as_deployed

from support.world import World, world

RBAC_KINDS = ("ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def exit_code(op: OperatorProcess) -> int:
    code = wait_for(lambda: op.proc.poll(), 60, interval=0.2, what="the operator to exit")
    return int(code)


def errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "ERROR" in line]


def test_a_missing_operator_namespace_is_named_with_the_fix(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="emulator") as w:
        op = w.start_operator(CELIGO_OPERATOR_OPERATOR_NAMESPACE="celigo-ops")
        assert exit_code(op) == EXIT_SETUP, op.log()
        lines = errors(op.log())
        assert len(lines) == 1, op.log()
        assert "the operator's namespace celigo-ops does not exist" in lines[0]
        assert "kubectl create namespace celigo-ops" in lines[0]
        assert "CELIGO_OPERATOR_OPERATOR_NAMESPACE" in lines[0]
        assert "Traceback" not in op.log()


def test_a_missing_crd_is_named_with_the_fix(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="emulator") as w:
        w.ext.delete_custom_resource_definition("celigoconnectors.celigo-operator.io")
        op = w.start_operator()
        assert exit_code(op) == EXIT_SETUP, op.log()
        lines = errors(op.log())
        assert len(lines) == 1 and "the CeligoConnector CRD is not installed" in lines[0], op.log()
        assert "kubectl apply -f crds/celigoconnectors.yaml" in lines[0]


def test_a_setting_that_does_not_parse_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="emulator") as w:
        op = w.start_operator(CELIGO_OPERATOR_API_WORKERS="many")
        assert exit_code(op) == EXIT_SETUP, op.log()
        assert errors(op.log()) == [x for x in op.log().splitlines() if "CELIGO_OPERATOR_API_WORKERS" in x]
        assert "Traceback" not in op.log()


def test_settings_that_widen_the_pod_policy_past_what_the_operator_manages_stop_it(tmp_path: Path) -> None:
    with world(tmp_path, start_operator=False, kube="emulator") as w:
        op = w.start_operator(
            CELIGO_OPERATOR_ALLOWED_ARGS="--skip-full-sync,--client-secret",
            CELIGO_OPERATOR_IMAGE_ALLOWLIST="ghcr.io/conductorone/",
        )
        assert exit_code(op) == EXIT_SETUP, op.log()
        lines = errors(op.log())
        assert len(lines) == 3, op.log()  # the prefix entry also leaves the default image outside the list
        assert "CELIGO_OPERATOR_IMAGE_ALLOWLIST entry 'ghcr.io/conductorone/' is not a repository" in lines[0]
        assert "CELIGO_OPERATOR_DEFAULT_IMAGE" in lines[1]
        assert "CELIGO_OPERATOR_ALLOWED_ARGS may not allow --client-secret" in lines[2]
        assert "Traceback" not in op.log()


def test_an_unreachable_api_server_is_left_to_the_operators_retries(caplog: pytest.LogCaptureFixture) -> None:
    """Not a setup error: no exit code 2 for what may pass by itself (a warning, then the operator starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    cfg = k8s.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    with caplog.at_level(logging.WARNING, logger="celigo_operator.preflight"):
        assert preflight.check(k8s.ApiClient(cfg), OperatorConfig()) == []
    assert "setup not fully checked before start" in caplog.text and "MaxRetryError" in caplog.text


@pytest.mark.parametrize(
    "source", ["deploy", "deploy-ha", "deploy-namespaced", "chart-namespaced", "chart-leader-election"]
)
def test_the_rules_the_preflight_asks_for_are_the_shipped_rules(source: str) -> None:
    """What preflight checks with SelfSubjectAccessReviews is what the shipped RBAC grants (and what
    test_rbac.py proves the operator uses), so a missing grant is found before it is needed."""
    from install.test_rbac import deployment_settings

    objects = shipped(source)
    args, env = deployment_settings(objects)
    namespaces = (args[args.index("--namespace") + 1],) if "--namespace" in args else ()
    config = OperatorConfig.from_env(env, namespaces=namespaces or None)
    granted = {
        (a.verb, a.group, a.resource, a.namespace or "", a.resource_name or "") for a in atoms_for(objects)
    }
    asked = {
        (
            a.verb,
            a.group,
            f"{a.resource}/{a.subresource}" if a.subresource else a.resource,
            a.namespace,
            a.name,
        )
        for a in required_access(config)
    }
    assert asked == granted


@pytest.mark.realkube
@pytest.mark.slow
def test_missing_rbac_is_named_with_the_fix_on_a_real_server(tmp_path: Path) -> None:
    objects = shipped("deploy")
    broken = copy.deepcopy([o for o in objects if o["kind"] in RBAC_KINDS])
    role = the(broken, "ClusterRole", "celigo-operator")
    for rule in role["rules"]:
        if rule["resources"] == ["secrets"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != "delete"]
    with world(tmp_path, start_operator=False, kube="real") as w:
        log = run_as_service_account(w, tmp_path, objects, broken)
    lines = [json.loads(line) for line in log.splitlines() if '"ERROR"' in line]
    assert len(lines) == 1, log
    message = lines[0]["message"]
    assert f"system:serviceaccount:{SA[0]}:{SA[1]} may not delete secrets cluster-wide" in message
    assert "kubectl apply -k deploy/" in message


@pytest.mark.realkube
@pytest.mark.slow
def test_a_missing_operator_namespace_is_named_on_a_real_server(tmp_path: Path) -> None:
    objects = shipped("deploy")
    rbac = [o for o in objects if o["kind"] in RBAC_KINDS]
    with world(tmp_path, start_operator=False, kube="real") as w:
        log = run_as_service_account(
            w, tmp_path, objects, rbac, CELIGO_OPERATOR_OPERATOR_NAMESPACE="celigo-ops"
        )
    lines = [json.loads(line)["message"] for line in log.splitlines() if '"ERROR"' in line]
    assert len(lines) == 1 and "the operator's namespace celigo-ops does not exist" in lines[0], log


def run_as_service_account(w: World, tmp: Path, objects: list[dict], rbac: list[dict], **env: str) -> str:
    """Apply `rbac`, start the operator as its ServiceAccount as deployed, wait for it to exit with the setup
    code; the RBAC objects are removed again."""
    cp = w.emu.cp  # type: ignore[union-attr]
    kubectl = Kubectl(w.kubeconfig, binary=cp.assets.kubectl)
    try:
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(rbac))
        token = cp.create_token(*SA)
        sa_kubeconfig = cp.write_kubeconfig(tmp / "sa-kubeconfig", token, user="celigo-operator")
        op, _ = start_as_deployed(w, objects, tmp, kubeconfig=sa_kubeconfig, extra_env=env)
        w.started.append(op)
        assert exit_code(op) == EXIT_SETUP, op.log()
        return op.log()
    finally:
        kubectl.run("delete", "-f", "-", "--ignore-not-found", input=yaml.safe_dump_all(rbac), check=False)
