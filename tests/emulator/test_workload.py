"""The simulated Deployment/ReplicaSet/Pod controllers and kubelet."""

from __future__ import annotations

import json

import httpx

from celigo_testkit.kube import KubeEmulator

from .conftest import deployment, fast_settings, wait_for

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"
RSS = "/apis/apps/v1/namespaces/default/replicasets"
PODS = "/api/v1/namespaces/default/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}


def status_of(api: httpx.Client, name: str) -> dict:
    return api.get(f"{DEPLOYS}/{name}").json().get("status") or {}


def rolled_out(api: httpx.Client, name: str, replicas: int) -> dict | None:
    d = api.get(f"{DEPLOYS}/{name}").json()
    s = d.get("status") or {}
    conds = {c["type"]: c for c in s.get("conditions") or []}
    ok = (
        s.get("observedGeneration") == d["metadata"]["generation"]
        and s.get("replicas") == replicas
        and s.get("updatedReplicas") == replicas
        and s.get("readyReplicas") == replicas
        and s.get("availableReplicas") == replicas
        and conds.get("Progressing", {}).get("reason") == "NewReplicaSetAvailable"
        and conds.get("Available", {}).get("status") == "True"
    )
    return d if ok else None


def pods_of(api: httpx.Client, app: str) -> list[dict]:
    return api.get(PODS, params={"labelSelector": f"app={app}"}).json()["items"]


def test_rollout_creates_replicaset_pods_and_status(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("web", replicas=3))
    d = wait_for(lambda: rolled_out(api, "web", 3))
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["message"].endswith("has successfully progressed.")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    rss = api.get(RSS).json()["items"]
    assert len(rss) == 1
    rs = rss[0]
    phash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{phash}"
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": phash}
    pods = pods_of(api, "web")
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith(f"web-{phash}-")
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert p["status"]["phase"] == "Running"
        cs = p["status"]["containerStatuses"][0]
        assert cs["ready"] is True and "running" in cs["state"]
        ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"


def test_template_change_rolls_pods(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("web", replicas=2))
    first = wait_for(lambda: rolled_out(api, "web", 2))
    old_pods = {p["metadata"]["name"] for p in pods_of(api, "web")}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}
    api.patch(f"{DEPLOYS}/web", content=json.dumps(patch), headers=MERGE)
    d = wait_for(lambda: rolled_out(api, "web", 2))
    assert d["metadata"]["generation"] == first["metadata"]["generation"] + 1
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    new_pods = wait_for(lambda: (lambda ps: ps if len(ps) == 2 else None)(pods_of(api, "web")))
    assert not old_pods & {p["metadata"]["name"] for p in new_pods}
    assert {p["spec"]["containers"][0]["image"] for p in new_pods} == {"nginx:1.28"}
    rss = {r["metadata"]["name"]: r["spec"]["replicas"] for r in api.get(RSS).json()["items"]}
    assert sorted(rss.values()) == [0, 2]


def test_rolling_update_respects_max_surge_and_unavailable(emu: KubeEmulator, api: httpx.Client) -> None:
    body = deployment(
        "web",
        replicas=4,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
    )
    api.post(DEPLOYS, json=body)
    wait_for(lambda: rolled_out(api, "web", 4))
    rv = api.get(PODS).json()["metadata"]["resourceVersion"]
    before = {p["metadata"]["name"] for p in pods_of(api, "web")}
    api.patch(
        f"{DEPLOYS}/web",
        content=json.dumps({"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}}),
        headers=MERGE,
    )
    wait_for(lambda: rolled_out(api, "web", 4))
    # replay the pod history from the fully rolled-out state: never more than replicas + maxSurge pods
    r = api.get(PODS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"})
    current = set(before)
    peak = len(current)
    for line in r.text.splitlines():
        ev = json.loads(line)
        name = ev["object"]["metadata"]["name"]
        if ev["type"] == "ADDED":
            current.add(name)
        elif ev["type"] == "DELETED":
            current.discard(name)
        peak = max(peak, len(current))
    assert peak == 5
    assert not before & current


def test_scale_down_and_delete_cascades(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("web", replicas=3))
    wait_for(lambda: rolled_out(api, "web", 3))
    api.patch(f"{DEPLOYS}/web", content=json.dumps({"spec": {"replicas": 1}}), headers=MERGE)
    wait_for(lambda: rolled_out(api, "web", 1))
    wait_for(lambda: len(pods_of(api, "web")) == 1)
    api.delete(f"{DEPLOYS}/web")
    wait_for(lambda: not api.get(RSS).json()["items"] and not pods_of(api, "web"))


def test_crash_loop_mode_and_heal(emu: KubeEmulator, api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("conn", replicas=1))
    wait_for(lambda: rolled_out(api, "conn", 1))
    emu.workload.crash_loop("default", "conn")

    def crashing() -> dict | None:
        pods = pods_of(api, "conn")
        if not pods:
            return None
        cs = pods[0]["status"]["containerStatuses"][0]
        return pods[0] if cs.get("restartCount", 0) >= 2 and "waiting" in cs["state"] else None

    pod = wait_for(crashing)
    cs = pod["status"]["containerStatuses"][0]
    assert pod["status"]["phase"] == "Running"
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["ready"] is False
    first = cs["restartCount"]
    wait_for(lambda: pods_of(api, "conn")[0]["status"]["containerStatuses"][0]["restartCount"] > first)
    wait_for(lambda: status_of(api, "conn").get("availableReplicas") is None)
    avail = {c["type"]: c for c in status_of(api, "conn")["conditions"]}["Available"]
    assert avail["status"] == "False"
    emu.workload.heal("default", "conn")
    wait_for(lambda: rolled_out(api, "conn", 1))


def test_image_pull_back_off_mode(emu: KubeEmulator, api: httpx.Client) -> None:
    emu.workload.crash_loop("default", "img", reason="ImagePullBackOff")
    api.post(DEPLOYS, json=deployment("img", image="nope:1", replicas=1))

    def waiting() -> dict | None:
        pods = pods_of(api, "img")
        state = pods[0]["status"].get("containerStatuses", [{}])[0].get("state", {}) if pods else {}
        return pods[0] if state.get("waiting", {}).get("reason") == "ImagePullBackOff" else None

    pod = wait_for(waiting)
    assert pod["status"]["phase"] == "Pending"
    assert (
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
        == 'Back-off pulling image "nope:1"'
    )


def test_missing_secret_gives_create_container_config_error(api: httpx.Client) -> None:
    body = deployment("cfg", replicas=1)
    body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "creds"}}]
    api.post(DEPLOYS, json=body)

    def reason() -> str | None:
        pods = pods_of(api, "cfg")
        if not pods:
            return None
        st = pods[0]["status"].get("containerStatuses", [{}])[0].get("state", {})
        return st.get("waiting", {}).get("reason") if "waiting" in st else None

    wait_for(lambda: reason() == "CreateContainerConfigError")
    msg = pods_of(api, "cfg")[0]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert msg == 'secret "creds" not found'
    api.post(
        "/api/v1/namespaces/default/secrets", json={"metadata": {"name": "creds"}, "stringData": {"a": "b"}}
    )
    wait_for(lambda: rolled_out(api, "cfg", 1))


def test_min_ready_seconds_delays_availability() -> None:
    settings = fast_settings(min_ready_seconds_scale=0.05)
    with (
        KubeEmulator(settings=settings) as emu,
        httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.token}"}) as api,
    ):
        api.post(DEPLOYS, json=deployment("slow", replicas=1, minReadySeconds=10))  # 10 s * 0.05 = 0.5 s
        wait_for(lambda: status_of(api, "slow").get("readyReplicas") == 1)
        s = status_of(api, "slow")
        assert s.get("availableReplicas") is None  # ready, but not yet for minReadySeconds
        wait_for(lambda: rolled_out(api, "slow", 1))


def test_progress_deadline_exceeded(emu: KubeEmulator, api: httpx.Client) -> None:
    emu.workload.crash_loop("default", "stuck")
    api.post(DEPLOYS, json=deployment("stuck", replicas=1, progressDeadlineSeconds=20))  # 0.2 s scaled

    def exceeded() -> bool:
        conds = {c["type"]: c for c in status_of(api, "stuck").get("conditions") or []}
        return conds.get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded"

    wait_for(exceeded)


def test_recreate_strategy(api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("rc", replicas=2, strategy={"type": "Recreate"}))
    wait_for(lambda: rolled_out(api, "rc", 2))
    api.patch(
        f"{DEPLOYS}/rc",
        content=json.dumps({"spec": {"template": {"metadata": {"annotations": {"v": "2"}}}}}),
        headers=MERGE,
    )
    wait_for(
        lambda: (
            rolled_out(api, "rc", 2)
            and {p["metadata"]["annotations"].get("v") for p in pods_of(api, "rc")} == {"2"}
        )
    )


def test_standalone_pod_becomes_running(api: httpx.Client) -> None:
    api.post(
        PODS,
        json={
            "metadata": {"name": "solo", "labels": {"app": "solo"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    wait_for(lambda: api.get(f"{PODS}/solo").json().get("status", {}).get("phase") == "Running")
    managers = {m["manager"] for m in api.get(f"{PODS}/solo").json()["metadata"]["managedFields"]}
    assert "kubelet" in managers


def test_settled_rollout_writes_nothing(emu: KubeEmulator, api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("quiet", replicas=2))
    wait_for(lambda: rolled_out(api, "quiet", 2))
    rv = api.get(PODS).json()["metadata"]["resourceVersion"]
    emu.clear_request_log()
    r = api.get(PODS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "2"})
    assert r.text == ""  # no pod, replicaset or deployment churn once settled
    assert api.get(PODS).json()["metadata"]["resourceVersion"] == rv


def test_controllers_and_kubelet_record_events(emu: KubeEmulator, api: httpx.Client) -> None:
    api.post(DEPLOYS, json=deployment("ev", replicas=1))
    wait_for(lambda: rolled_out(api, "ev", 1))
    events = "/api/v1/namespaces/default/events"

    def reasons(kind: str) -> set[str]:
        items = api.get(events, params={"fieldSelector": f"involvedObject.kind={kind}"}).json()["items"]
        return {e["reason"] for e in items}

    wait_for(lambda: {"Scheduled", "Pulled", "Created", "Started"} <= reasons("Pod"))
    assert "ScalingReplicaSet" in reasons("Deployment")
    assert "SuccessfulCreate" in reasons("ReplicaSet")
    emu.workload.crash_loop("default", "ev")

    def backoff() -> dict | None:
        items = api.get(events, params={"fieldSelector": "reason=BackOff"}).json()["items"]
        return items[0] if items and items[0]["count"] >= 2 else None

    ev = wait_for(backoff)
    assert ev["type"] == "Warning" and ev["source"]["component"] == "kubelet"
    assert ev["message"].startswith("Back-off restarting failed container main in pod ev-")
