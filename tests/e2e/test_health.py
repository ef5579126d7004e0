"""Sync health in status: the operator's Celigo and ConductorOne checks against the fakes, fault by fault."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_testkit.fake_celigo import Fault
from celigo_testkit.fake_conductorone import Fault as C1Fault
from celigo_testkit.harness import wait_for

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # A short Celigo timeout and few retries keep the fault tests quick; the logic is the same as in production.
    with world(
        Path(tmp_path_factory.mktemp("e2e-health")),
        CELIGO_OPERATOR_CELIGO_TIMEOUT="1",
    ) as w:
        yield w


@pytest.fixture(autouse=True)
def _clear_faults(w: World) -> Iterator[None]:
    yield
    w.celigo.clear_faults()
    w.c1.clear_faults()


def ready(w: World, region: str = "us", **spec: object) -> str:
    ns = w.namespace()
    w.put_secret(ns, w.credentials(region))
    w.create_connector(ns, region=region, **spec)
    w.wait_ready(ns)
    return ns


def refresh(w: World, ns: str, name: str = "celigo") -> None:
    """The documented way to ask for a check now: change the refresh annotation."""
    w.custom.patch_namespaced_custom_object(
        "celigo-operator.io",
        "v1alpha1",
        ns,
        "celigoconnectors",
        name,
        {"metadata": {"annotations": {"celigo-operator.io/refresh": str(time.time_ns())}}},
    )


def token_of(w: World, ns: str) -> str:

    secret = w.core.read_namespaced_secret("celigo-credentials", ns)
    return base64.b64decode(secret.data["BATON_CELIGO_ACCESS_TOKEN"]).decode()


def test_inventory_matches_the_account(w: World) -> None:
    ns = ready(w)
    inv = w.get(ns)["status"]["inventory"]
    account = w.celigo.account("us")
    users = account.ashares()
    assert inv["users"] == len(users)
    assert inv["integrations"] == len(account.integrations)
    assert inv["integrationOnlyUsers"] == len([u for u in users if not u.get("accessLevel")])
    for level in ("administrator", "manage", "monitor"):
        assert inv["roles"][level] == len([u for u in users if u.get("accessLevel") == level])
    assert w.get(ns)["status"]["lastCheckTime"]


def test_revoked_token_turns_ready_false_then_recovers(w: World) -> None:
    ns = ready(w)
    token = token_of(w, ns)
    w.celigo.revoke_token(token)
    refresh(w, ns)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "TokenRejected")
    assert "API token" in cond["message"] and token not in cond["message"]
    ready_cond = w.condition(ns, "celigo", "Ready")
    assert (ready_cond["status"], ready_cond["reason"]) == ("False", "TokenRejected")
    w.wait_event(ns, "TokenRejected")
    creds = w.credentials()
    old = w.core.read_namespaced_secret("celigo-credentials", ns)

    values = {k: base64.b64decode(v).decode() for k, v in old.data.items()}
    values["BATON_CELIGO_ACCESS_TOKEN"] = creds["BATON_CELIGO_ACCESS_TOKEN"]
    w.put_secret(ns, values)
    w.wait_ready(ns)


def test_unauthorized_without_header_body_is_a_rejected_token(w: World) -> None:
    ns = ready(w)
    w.celigo.inject(
        Fault(path_prefix="/v1/tokenInfo", status=401, body={"message": "Unauthorized"}, times=None)
    )
    refresh(w, ns)
    w.wait_condition(ns, "celigo", "CredentialsValid", "False", "TokenRejected")


def test_forbidden_token(w: World) -> None:
    ns = ready(w)
    w.celigo.inject(
        Fault(
            path_prefix="/v1/tokenInfo",
            status=403,
            times=None,
            body={"errors": [{"code": "forbidden", "message": "Forbidden"}]},
        )
    )
    refresh(w, ns)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "TokenForbidden")
    assert "Full access" in cond["message"]


def test_wrong_region(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials("eu"))
    w.create_connector(ns, region="us")
    cond = w.wait_condition(ns, "celigo", "Ready", "False", "WrongRegion")
    assert "spec.region to eu" in cond["message"]
    w.patch_spec(ns, "celigo", {"region": "eu"})
    w.wait_ready(ns)


def region_of(dep: dict) -> str:
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(e["value"] for e in env if e["name"] == "BATON_REGION")


def test_region_change_is_verified_before_it_rolls(w: World) -> None:
    """Verify-before-roll for the endpoint: spec.region moved to a region the running token is not valid in
    leaves the Deployment as it is; a token Celigo accepts in the new region then rolls it there."""
    ns = ready(w, region="us")
    before = w.deployment(ns)
    assert before is not None and region_of(before) == "us"
    w.patch_spec(ns, "celigo", {"region": "eu"})
    cond = w.wait_condition(ns, "celigo", "CeligoReachable", "False", "WrongRegion")
    assert "spec.region to us" in cond["message"]
    held = w.wait_condition(ns, "celigo", "Reconciled", "False", "WrongRegion")
    assert "spec.region" in held["message"] and "keeps running in us" in held["message"]
    w.wait_event(ns, "WrongRegion")
    after = w.deployment(ns)
    assert after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert region_of(after) == "us"
    w.put_secret(ns, w.credentials("eu"))
    wait_for(lambda: region_of(w.deployment(ns) or before) == "eu", 60, what="the Deployment rolled to eu")
    w.wait_ready(ns)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_outage_is_not_a_credential_problem(w: World, status: int) -> None:
    ns = ready(w)
    w.celigo.inject(
        Fault(
            path_prefix="/v1/tokenInfo",
            status=status,
            times=None,
            body={"errors": [{"code": "server_error", "message": "boom"}]},
        )
    )
    refresh(w, ns)
    w.wait_condition(ns, "celigo", "CeligoReachable", "False", "CeligoUnavailable")
    assert w.condition(ns, "celigo", "CredentialsValid")["status"] == "True", (
        "an outage says nothing about the token"
    )
    assert w.condition(ns, "celigo", "Ready")["reason"] == "CeligoUnavailable"
    w.celigo.clear_faults()
    refresh(w, ns)
    w.wait_ready(ns)


def test_rate_limited_once_waits_and_succeeds(w: World) -> None:
    ns = ready(w)
    w.celigo.reset_counts()
    w.celigo.inject(
        Fault(
            path_prefix="/v1/tokenInfo",
            status=429,
            retry_after=1,
            times=1,
            body={
                "errors": [{"code": "rate_limited", "message": "Too many requests. Retry after 1 seconds."}]
            },
        )
    )
    refresh(w, ns)
    wait_for(lambda: w.celigo.count(path="/v1/tokenInfo") >= 2, 60, what="retry after 429")
    calls = [r for r in w.celigo.requests if r.path == "/v1/tokenInfo"]
    assert calls[1].at - calls[0].at >= 0.9, "the client honoured Retry-After"
    time.sleep(1)
    assert w.condition(ns, "celigo", "Ready")["status"] == "True"
    assert w.condition(ns, "celigo", "CeligoReachable")["status"] == "True"


def test_rate_limited_persistently(w: World) -> None:
    ns = ready(w)
    w.celigo.inject(
        Fault(
            path_prefix="/v1/tokenInfo",
            status=429,
            retry_after=0.2,
            times=None,
            body={"errors": [{"code": "rate_limited", "message": "Too many requests."}]},
        )
    )
    refresh(w, ns)
    cond = w.wait_condition(ns, "celigo", "CeligoReachable", "False", "RateLimited")
    assert "rate limiting" in cond["message"]
    assert w.condition(ns, "celigo", "CredentialsValid")["status"] == "True"


def test_timeout(w: World) -> None:
    ns = ready(w)
    w.celigo.inject(Fault(path_prefix="/v1/tokenInfo", timeout=True, hold=3, times=None))
    refresh(w, ns)
    w.wait_condition(ns, "celigo", "CeligoReachable", "False", "Timeout", timeout=30)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{not json", "application/json"), ("<html>maintenance</html>", "text/html")],
)
def test_malformed_answers(w: World, body: str, content_type: str) -> None:
    ns = ready(w)
    w.celigo.inject(
        Fault(path_prefix="/v1/tokenInfo", status=200, body=body, content_type=content_type, times=None)
    )
    refresh(w, ns)
    cond = w.wait_condition(ns, "celigo", "CeligoReachable", "False", "CeligoUnavailable")
    assert "not valid" in cond["message"]


def test_empty_account_and_many_pages(w: World) -> None:
    # A second region account stands in: eu gets an empty account first, then a large one.
    w.celigo.set_users("eu", 0)
    ns = ready(w, region="eu")
    assert w.get(ns)["status"]["inventory"]["users"] == 0
    w.celigo.set_users("eu", 2500)
    w.celigo.reset_counts()
    refresh(w, ns)
    wait_for(lambda: w.get(ns)["status"]["inventory"]["users"] == 2500, 60, what="2500 users")
    pages = w.celigo.count(path="/v1/ashares", region="eu")
    assert pages >= 3, "2500 users over pages of 1000 need three requests"


def test_no_flapping_between_ticks(w: World) -> None:
    ns = ready(w)
    wait_for(lambda: w.get(ns)["status"]["credentials"].get("lastRotationResult") == "Succeeded", 60, what="settled")
    before = w.get(ns)["status"]["conditions"]
    mark = len(w.emu.request_log)
    time.sleep(3)  # three ticks, no health check due
    assert w.get(ns)["status"]["conditions"] == before
    status_writes = [r for r in w.writes_since(mark) if r.subresource == "status"]
    assert status_writes == []


def test_crash_looping_pods(w: World) -> None:
    ns = ready(w)
    dep = w.deployment(ns)["metadata"]["name"]
    w.emu.workload.crash_loop(ns, dep)
    w.patch_spec(ns, "celigo", {"logLevel": "debug"})  # a new template: the new pod crash-loops
    cond = w.wait_condition(ns, "celigo", "ConnectorAvailable", "False", "CrashLoopBackOff", timeout=30)
    assert "ConductorOne" in cond["message"]
    assert w.condition(ns, "celigo", "Ready")["reason"] == "CrashLoopBackOff"
    w.emu.workload.heal(ns, dep)
    w.wait_ready(ns, timeout=30)


# --- ConductorOne ---


def c1_connector(w: World, status: str = "SYNC_STATUS_DONE") -> tuple[str, dict]:
    app, connector = f"app{time.time_ns() % 10**8}", f"conn{time.time_ns() % 10**8}"
    w.c1.add_connector(app, connector, status)
    client_id, client_secret = w.c1.register_client()
    w.secrets_seen.append(client_secret)
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.put_secret(
        ns, {"CONDUCTORONE_CLIENT_ID": client_id, "CONDUCTORONE_CLIENT_SECRET": client_secret}, name="c1-api"
    )
    spec = {"appId": app, "connectorId": connector, "credentialsSecretRef": {"name": "c1-api"}}
    return ns, spec


def test_synced_done_error_and_running(w: World) -> None:
    ns, c1 = c1_connector(w)
    w.create_connector(ns, conductorOne=c1)
    w.wait_ready(ns)
    assert w.condition(ns, "celigo", "Synced")["reason"] == "SyncDone"
    w.c1.set_sync_status(
        c1["appId"], c1["connectorId"], "SYNC_STATUS_ERROR", last_error="celigo: 401 Unauthorized"
    )
    refresh(w, ns)
    cond = w.wait_condition(ns, "celigo", "Synced", "False", "SyncError")
    assert "401 Unauthorized" in cond["message"]
    assert w.condition(ns, "celigo", "Ready")["reason"] == "SyncError"
    w.c1.set_sync_status(c1["appId"], c1["connectorId"], "SYNC_STATUS_DONE")
    refresh(w, ns)
    w.wait_ready(ns)
    w.patch_spec(ns, "celigo", {"conductorOne": None})
    wait_for(lambda: w.condition(ns, "celigo", "Synced") is None, 60, what="Synced dropped")


def test_conductorone_refuses_the_api_credentials(w: World) -> None:
    ns, c1 = c1_connector(w)
    w.create_connector(ns, conductorOne=c1)
    client_id = w.core.read_namespaced_secret("c1-api", ns).data["CONDUCTORONE_CLIENT_ID"]

    w.c1.revoke_client(base64.b64decode(client_id).decode())
    refresh(w, ns)
    w.wait_condition(ns, "celigo", "Synced", "False", "ConductorOneAuthFailed")


def test_conductorone_unreachable(w: World) -> None:
    ns, c1 = c1_connector(w)
    w.c1.inject(C1Fault(path_prefix="/api/v1/apps", status=503, times=None))
    w.create_connector(ns, conductorOne=c1)
    w.wait_condition(ns, "celigo", "Synced", "Unknown", "ConductorOneUnreachable")
