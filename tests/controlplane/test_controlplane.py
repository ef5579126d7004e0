"""The real control plane fixture and the simulated node: what the e2e suite relies on when it runs there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest

from celigo_testkit import controlplane
from celigo_testkit.harness import Kubectl, wait_for
from celigo_testkit.podsim import PodSimulator

pytestmark = pytest.mark.realkube


def _deployment(name: str, **pod_spec: object) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "example.com/img:1"}], **pod_spec},
            },
        },
    }


def _ns(h: httpx.Client) -> str:
    name = f"cp-{uuid.uuid4().hex[:8]}"
    h.post("/api/v1/namespaces", json={"metadata": {"name": name}}).raise_for_status()
    wait_for(lambda: h.get(f"/api/v1/namespaces/{name}/serviceaccounts/default").status_code == 200, 60)
    return name


def _available(h: httpx.Client, ns: str, name: str) -> bool:
    dep = h.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}").json()
    return bool((dep.get("status") or {}).get("availableReplicas") == dep["spec"]["replicas"])


def _pods(h: httpx.Client, ns: str) -> list[dict]:
    return list(h.get(f"/api/v1/namespaces/{ns}/pods").json()["items"])


def test_ready_kubeconfig_and_kubectl(cp: controlplane.ControlPlane) -> None:
    with cp.http() as h:
        assert h.get("/readyz").status_code == 200
    out = Kubectl(cp.kubeconfig)("get", "namespaces", "-o", "name")
    assert "namespace/default" in out and "namespace/kube-system" in out


def test_deployment_becomes_available_and_is_collected(cp: controlplane.ControlPlane, sim: PodSimulator) -> None:
    with cp.http() as h:
        ns = _ns(h)
        h.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=_deployment("web")).raise_for_status()
        wait_for(lambda: _available(h, ns, "web"), 60, what="deployment available")
        pod = _pods(h, ns)[0]
        assert pod["spec"]["nodeName"] == sim.node and pod["status"]["phase"] == "Running"
        # a rollout: the old pod is deleted (grace 0 by the simulated kubelet), the new one becomes Ready
        h.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/web",
            json={"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
        wait_for(
            lambda: _available(h, ns, "web")
            and [p["metadata"]["uid"] for p in _pods(h, ns)] not in ([], [pod["metadata"]["uid"]])
            and len(_pods(h, ns)) == 1,
            60,
            what="rolled to a new pod",
        )
        h.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/web").raise_for_status()
        wait_for(lambda: not _pods(h, ns), 60, what="pods garbage-collected")


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError"])
def test_failure_modes(cp: controlplane.ControlPlane, sim: PodSimulator, reason: str) -> None:
    with cp.http() as h:
        ns = _ns(h)
        h.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=_deployment("f")).raise_for_status()
        wait_for(lambda: _available(h, ns, "f"), 60)
        sim.crash_loop(ns, "f", reason)

        def waiting() -> str:
            pods = _pods(h, ns)
            st = (pods[0].get("status") or {}).get("containerStatuses") or [] if pods else []
            return str(((st[0].get("state") or {}).get("waiting") or {}).get("reason", "")) if st else ""

        wait_for(lambda: waiting() == reason, 60, what=reason)
        sim.heal(ns, "f")
        wait_for(lambda: _available(h, ns, "f") and waiting() == "", 60, what="healed")


def test_missing_secret_is_a_config_error_until_it_exists(cp: controlplane.ControlPlane, sim: PodSimulator) -> None:
    with cp.http() as h:
        ns = _ns(h)
        dep = _deployment("cfg")
        dep["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "later"}}]
        h.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=dep).raise_for_status()

        def reason() -> str:
            pods = _pods(h, ns)
            st = ((pods[0].get("status") or {}).get("containerStatuses") or []) if pods else []
            return str(((st[0].get("state") or {}).get("waiting") or {}).get("reason", "")) if st else ""

        wait_for(lambda: reason() == "CreateContainerConfigError", 60)
        h.post(f"/api/v1/namespaces/{ns}/secrets", json={"metadata": {"name": "later"}}).raise_for_status()
        wait_for(lambda: _available(h, ns, "cfg"), 60, what="available once the Secret exists")


def test_a_pod_that_fits_no_node_stays_pending(cp: controlplane.ControlPlane, sim: PodSimulator) -> None:
    with cp.http() as h:
        ns = _ns(h)
        h.post(
            f"/apis/apps/v1/namespaces/{ns}/deployments", json=_deployment("nofit", nodeSelector={"disk": "ssd"})
        ).raise_for_status()

        def unschedulable() -> bool:
            pods = _pods(h, ns)
            conds = (pods[0].get("status") or {}).get("conditions") or [] if pods else []
            return any(c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conds)

        wait_for(unschedulable, 60, what="PodScheduled=False Unschedulable")
        pod = _pods(h, ns)[0]
        assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")


def test_a_cordoned_node_keeps_new_pods_pending_until_uncordoned(
    cp: controlplane.ControlPlane, sim: PodSimulator
) -> None:
    """podsim.cordon() (the bench's pods kept Pending): spec.unschedulable on the Node, honoured by the
    scheduler stand-in as the real scheduler does; uncordon binds the waiting pod."""
    with cp.http() as h:
        ns = _ns(h)
        sim.cordon()
        try:
            assert h.get(f"/api/v1/nodes/{sim.node}").json()["spec"].get("unschedulable") is True
            h.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=_deployment("cordoned")).raise_for_status()

            def unschedulable() -> str:
                pods = _pods(h, ns)
                conds = (pods[0].get("status") or {}).get("conditions") or [] if pods else []
                return next((c.get("message", "") for c in conds if c.get("reason") == "Unschedulable"), "")

            assert "were unschedulable" in wait_for(unschedulable, 60, what="PodScheduled=False Unschedulable")
            assert not _pods(h, ns)[0]["spec"].get("nodeName")
        finally:
            sim.cordon(False)
        assert not h.get(f"/api/v1/nodes/{sim.node}").json()["spec"].get("unschedulable")
        wait_for(lambda: _available(h, ns, "cordoned"), 60, what="available once uncordoned")


def test_audit_log_names_user_verb_and_resource(cp: controlplane.ControlPlane) -> None:
    with cp.http() as h:
        ns = _ns(h)
        mark = len(cp.request_log)
        h.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "x"}}).raise_for_status()
        h.get(f"/api/v1/namespaces/{ns}/configmaps/x").raise_for_status()
    want = {("create", "configmaps", "x"), ("get", "configmaps", "x")}

    def seen() -> set[tuple[str, str, str]]:
        return {(r.verb, r.resource, r.name) for r in cp.request_log[mark:] if r.namespace == ns} & want

    wait_for(lambda: seen() == want, 30, what="audit records")
    assert {r.user for r in cp.request_log[mark:] if r.namespace == ns} == {controlplane.ADMIN_USER}


def test_service_account_token_authenticates_as_the_account(cp: controlplane.ControlPlane) -> None:
    with cp.http() as h:
        ns = _ns(h)
    token = cp.create_token(ns, "default")
    with cp.http(token) as h:
        assert h.get(f"/api/v1/namespaces/{ns}/secrets").status_code == 403  # no RBAC granted


def test_assets_are_checked_against_sha256sums(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    import hashlib
    import lzma

    content = b"#!/bin/sh\necho hi\n"
    (src / "tool.xz").write_bytes(lzma.compress(content))
    (src / "SHA256SUMS").write_text(f"{hashlib.sha256(b'other').hexdigest()}  tool\n")
    with pytest.raises(controlplane.AssetsMissing, match="sha256"):
        controlplane.unpack_shared(src, tmp_path / "cache")
    (src / "SHA256SUMS").write_text(f"{hashlib.sha256(content).hexdigest()}  tool\n")
    out = controlplane.unpack_shared(src, tmp_path / "cache")
    assert (out / "tool").read_bytes() == content and os.access(out / "tool", os.X_OK)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "sigint", "exception"])
def test_nothing_left_behind(tmp_path: Path, how: str) -> None:
    """A process that started a control plane leaves no child and no temp dir, however it ends."""
    script = textwrap.dedent(
        f"""
        import faulthandler, os, signal, sys, time
        from celigo_testkit import controlplane
        faulthandler.register(signal.SIGUSR1)  # the test asks for the stacks if the process does not end
        cp = controlplane.shared()
        print(" ".join(str(p.pid) for p in cp.procs.values()), cp.dir, cp.etcd_dir, flush=True)
        how = {how!r}
        if how == "exception":
            raise RuntimeError("boom")
        if how in ("sigterm", "sigint"):
            time.sleep(3600)
        """
    )
    # The child starts with SIGINT at its default, as from a shell: an ignored SIGINT is inherited across
    # exec, and a pytest worker may have it ignored (then Python installs no KeyboardInterrupt handler).
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().split()
    pids, dirs = [int(p) for p in line[:-2]], line[-2:]
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "sigint":
        proc.send_signal(signal.SIGINT)
    try:
        # Stopping takes at most 3 x 10 s (SIGTERM, then SIGKILL, per child); a busy machine gets slack.
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        pytest.fail(f"the process did not end after {how}; its stacks:\n{proc.communicate()[1][-6000:]}")

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"

    wait_for(lambda: all(gone(p) for p in pids), 30, what="children gone")
    assert not any(Path(d).exists() for d in dirs)
    assert len(pids) == 3
