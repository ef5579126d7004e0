"""Issue 16 with the real operator process: the defects of the hostile tryout that crashed a reconcile or sent
a value where it does not belong, each now a specific condition, an Event and nothing sent or rolled.

- a token with whitespace inside, a 'Bearer ' prefix, non-UTF-8 bytes or 700 KB: CredentialsValid=False
  MalformedToken (it crashed the health check, left Ready=True, stopped drift repair; the 700 KB one was
  re-sent every tick as CeligoUnavailable; non-UTF-8 was "missing"); drift repair goes on meanwhile, and a new
  connector on such a Secret gets a status;
- keys naming one Secret key for two roles: Reconciled=False InvalidSpec, and the client secret never reaches
  Celigo as a bearer token;
- a duration the schema admits but longer than 8760h: InvalidSpec naming the field, nothing deployed;
- `resources.requests.cpu: 1` (an int quantity, which crashed the kubernetes client): deployed as "1".
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_testkit.fake_celigo import Fault
from celigo_testkit.harness import wait_for

from support.world import World, world

MARK = "MALFORMEDc0ffee"  # in every malformed token: no request to Celigo may carry it


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-hardening"))) as w:
        yield w


@pytest.fixture
def bearers(w: World) -> Iterator[list[str]]:
    """Every bearer token Celigo receives while the test runs (a fault that matches nothing, as a spy)."""
    seen: list[str] = []
    listening = [True]

    def spy(token: str) -> bool:
        if listening[0]:
            seen.append(token)
        return False

    w.celigo.inject(Fault(match_token=spy, times=None))  # never matches: stays harmless after the test
    yield seen
    listening[0] = False


def _put_raw(w: World, ns: str, values: dict[str, bytes]) -> None:
    body = {
        "metadata": {"name": "celigo-credentials", "labels": {"celigo-operator.io/credentials": "true"}},
        "data": {k: base64.b64encode(v).decode() for k, v in values.items()},
    }
    w.core.replace_namespaced_secret("celigo-credentials", ns, body)


BAD_TOKENS = {
    "space-inside": f"{MARK}0123 456789abcdef".encode(),
    "bearer-prefix": f"Bearer {MARK}0123456789abcdef".encode(),
    "newline-inside": f"{MARK}0123\n456789abcdef".encode(),
    "not-utf8": MARK.encode() + b"\xff\xfe0123",
    "700kb": (MARK + "t" * 700_000).encode(),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_malformed_token_is_refused_never_sent_and_drift_repair_goes_on(
    w: World, bearers: list[str], case: str
) -> None:
    ns = w.namespace("badtoken")
    good = w.credentials()
    w.put_secret(ns, good)
    w.create_connector(ns)
    w.wait_ready(ns, timeout=60)
    template = w.deployment(ns)["spec"]["template"]

    _put_raw(w, ns, {**{k: v.encode() for k, v in good.items()}, "BATON_CELIGO_ACCESS_TOKEN": BAD_TOKENS[case]})
    found = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "MalformedToken", timeout=60)
    assert "celigo-credentials" in found["message"] and "BATON_CELIGO_ACCESS_TOKEN" in found["message"]
    assert MARK not in found["message"]
    assert w.condition(ns, "celigo", "Ready")["status"] == "False"
    w.wait_event(ns, "MalformedToken", timeout=30)
    assert w.deployment(ns)["spec"]["template"] == template, "a malformed token must not roll"

    # drift repair does not stop: a deleted Deployment comes back (on the last good credentials)
    w.apps.delete_namespaced_deployment("celigo-baton-celigo", ns)
    wait_for(lambda: w.deployment(ns) is not None, 60, what="the Deployment repaired")
    assert w.deployment(ns)["spec"]["template"]["spec"] == template["spec"]

    # a new connector on the same Secret gets a status at once (it used to get none)
    w.create_connector(ns, name="second")
    w.wait_condition(ns, "second", "CredentialsValid", "False", "MalformedToken", timeout=60)
    assert w.deployment(ns, "second") is None

    assert not [t for t in bearers if MARK in t], "a malformed token was sent to Celigo"
    blob = str(w.get(ns)) + str(w.events(ns)) + w.log_tail(10**9)
    assert MARK not in blob

    w.put_secret(ns, good)
    w.wait_ready(ns, timeout=60)


def test_keys_naming_one_key_for_two_roles_are_invalid_spec_and_nothing_is_sent(w: World, bearers: list[str]) -> None:
    ns = w.namespace("samekey")
    creds = w.credentials()
    w.put_secret(ns, creds)
    w.create_connector(
        ns,
        credentialsSecretRef={
            "name": "celigo-credentials",
            "keys": {"clientSecret": "BATON_CLIENT_SECRET", "celigoAccessToken": "BATON_CLIENT_SECRET"},
        },
    )
    found = w.wait_condition(ns, "celigo", "Reconciled", "False", "InvalidSpec", timeout=60)
    assert "spec.credentialsSecretRef.keys" in found["message"] and "each role needs its own key" in found["message"]
    w.wait_event(ns, "InvalidSpec", timeout=30)
    assert w.deployment(ns) is None
    assert creds["BATON_CLIENT_SECRET"] not in bearers, "the client secret was sent to Celigo as a bearer token"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"healthCheck": {"interval": "99999h"}}, "spec.healthCheck.interval"),
        ({"rotation": {"celigo": {"schedule": "99999h"}}}, "spec.rotation.celigo.schedule"),
    ],
)
def test_a_duration_over_a_year_is_invalid_spec_naming_the_field(w: World, spec: dict, field: str) -> None:
    ns = w.namespace("duration")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, **spec)
    found = w.wait_condition(ns, "celigo", "Reconciled", "False", "InvalidSpec", timeout=60)
    assert field in found["message"] and "8760h" in found["message"]
    assert w.deployment(ns) is None


def test_an_int_cpu_request_is_deployed_as_a_string(w: World) -> None:
    ns = w.namespace("cpu")
    w.put_secret(ns, w.credentials())
    w.create_connector(ns, resources={"requests": {"cpu": 1, "memory": "64Mi"}})
    w.wait_ready(ns, timeout=60)
    container = w.deployment(ns)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "64Mi"}
