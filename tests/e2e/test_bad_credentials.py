"""Bad credentials Secrets: a reason per case, a message naming Secret and key, an Event, nothing rolled,
and recovery within seconds of the Secret being fixed without touching the resource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from celigo_testkit.harness import wait_for

from support.world import World, world


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(Path(tmp_path_factory.mktemp("e2e-bad"))) as w:
        yield w


def assert_no_value_in(text: str, values: dict[str, str]) -> None:
    for value in values.values():
        assert value not in text


def test_missing_secret_then_created(w: World) -> None:
    ns = w.namespace()
    w.create_connector(ns)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "SecretNotFound")
    assert f"{ns}/celigo-credentials" in cond["message"]
    assert w.condition(ns, "celigo", "Ready")["reason"] == "SecretNotFound"
    assert w.wait_event(ns, "SecretNotFound")["type"] == "Warning"
    assert w.deployment(ns) is None
    w.put_secret(ns, w.credentials())
    w.wait_ready(ns, timeout=15)


def test_secret_without_opt_in_label_is_not_read(w: World) -> None:
    ns = w.namespace()
    creds = w.credentials()
    w.put_secret(ns, creds, labelled=False)
    w.create_connector(ns)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", "SecretNotOptedIn")
    assert "celigo-operator.io/credentials" in cond["message"]
    assert w.deployment(ns) is None
    w.put_secret(ns, creds, labelled=True)
    w.wait_ready(ns, timeout=15)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("BATON_CELIGO_ACCESS_TOKEN", None, "KeyMissing"),
        ("BATON_CLIENT_SECRET", "", "KeyMissing"),
        ("BATON_CLIENT_ID", "not-a-client-id", "MalformedClientId"),
        ("BATON_CLIENT_SECRET", "secret-token:conductorone.com:v1:bm90LWEta2V5", "MalformedClientSecret"),
    ],
)
def test_bad_key_is_named_and_nothing_is_rolled(w: World, key: str, value: str | None, reason: str) -> None:
    ns = w.namespace()
    good = w.credentials()
    w.put_secret(ns, good)
    w.create_connector(ns)
    obj = w.wait_ready(ns)
    version = obj["status"]["credentials"]["version"]
    template = w.deployment(ns)["spec"]["template"]

    bad = dict(good)
    if value is None:
        del bad[key]
    else:
        bad[key] = value
    w.put_secret(ns, bad)
    cond = w.wait_condition(ns, "celigo", "CredentialsValid", "False", reason, timeout=15)
    assert key in cond["message"] and "celigo-credentials" in cond["message"]
    assert_no_value_in(cond["message"], good)
    w.wait_event(ns, reason)
    # The running connector keeps its last good credentials.
    assert w.deployment(ns)["spec"]["template"] == template
    assert w.get(ns)["status"]["credentials"]["version"] == version

    w.put_secret(ns, good)
    w.wait_ready(ns, timeout=15)
    assert w.deployment(ns)["spec"]["template"] == template, "restoring the same values must not roll pods"


def test_renamed_keys_from_the_spec(w: World) -> None:
    ns = w.namespace()
    creds = w.credentials()
    renamed = {"ID": creds["BATON_CLIENT_ID"], "SECRET": creds["BATON_CLIENT_SECRET"], "TOKEN": creds["BATON_CELIGO_ACCESS_TOKEN"]}
    w.put_secret(ns, renamed, name="renamed")
    w.create_connector(
        ns, credentialsSecretRef={"name": "renamed", "keys": {"clientId": "ID", "clientSecret": "SECRET", "celigoAccessToken": "TOKEN"}}
    )
    w.wait_ready(ns)


def test_secret_deleted_after_deploy_keeps_the_connector_running(w: World) -> None:
    ns = w.namespace()
    w.put_secret(ns, w.credentials())
    w.create_connector(ns)
    obj = w.wait_ready(ns)
    template = w.deployment(ns)["spec"]["template"]
    w.core.delete_namespaced_secret("celigo-credentials", ns)
    w.wait_condition(ns, "celigo", "CredentialsValid", "False", "SecretNotFound")
    assert w.deployment(ns)["spec"]["template"] == template
    wait_for(
        lambda: [s["metadata"]["name"] for s in w.owned_secrets(ns)] == [obj["status"]["credentials"]["secretName"]],
        5,
        what="the running credentials Secret stays",
    )
