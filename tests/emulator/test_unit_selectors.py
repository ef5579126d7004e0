"""Label and field selectors: apimachinery's grammar, matching and 400 messages."""

from __future__ import annotations

import pytest

from celigo_testkit.kube import errors
from celigo_testkit.kube.resources import ResourceInfo, builtin_resource
from celigo_testkit.kube.selectors import (
    field_labels,
    parse_field_selector,
    parse_label_requirements,
    parse_label_selector,
)


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (a, b)", {"tier": "b"}, True),
        ("tier in (a,b)", {}, False),
        ("tier notin (a,b)", {}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("app", {"app": ""}, True),
        ("!app", {"app": "x"}, False),
        ("!app", {}, True),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "4"}, False),
        ("n>3", {"n": "x"}, False),
        ("app=web,!gone,tier in (a)", {"app": "web", "tier": "a"}, True),
        ("example.com/owner=me", {"example.com/owner": "me"}, True),
        ("app in ()", {"app": ""}, True),
        ("app=", {"app": ""}, True),
    ],
)
def test_label_selector_matching(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_label_selector(selector)(labels) is matches


def test_values_are_sorted_and_keywords_are_values_in_value_position() -> None:
    (req,) = parse_label_requirements("env in (prod,dev,in)")
    assert (req.key, req.operator, req.values) == ("env", "in", ("dev", "in", "prod"))


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("=x", "found '=', expected: !, identifier, or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        (
            "x>a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "-a=b",
            'unable to parse requirement: <nil>: Invalid value: "-a": name part must consist of alphanumeric'
            " characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', "
            " or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
    ],
)
def test_label_selector_syntax_errors_are_bad_requests(selector: str, message: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        parse_label_selector(selector)
    assert info.value.code == 400 and info.value.reason == "BadRequest"
    assert info.value.message == message


def test_invalid_label_value() -> None:
    with pytest.raises(errors.ApiError) as info:
        parse_label_selector("a=-x-")
    assert info.value.message.startswith(
        'unable to parse requirement: values[0][a]: Invalid value: "-x-": a valid label'
    )


EVENTS = builtin_resource("", "v1", "events")
EVENTS_V1 = builtin_resource("events.k8s.io", "v1", "events")


def test_event_field_selectors_used_by_kubectl_describe() -> None:
    event = {
        "metadata": {"name": "e1", "namespace": "d"},
        "involvedObject": {"kind": "Pod", "name": "p1", "namespace": "d", "uid": "u-1"},
        "reason": "BackOff",
        "type": "Warning",
        "source": {"component": "kubelet"},
    }
    match = parse_field_selector(
        EVENTS,
        "involvedObject.name=p1,involvedObject.namespace=d,involvedObject.kind=Pod,involvedObject.uid=u-1",
    )
    assert match(event)
    assert not parse_field_selector(EVENTS, "involvedObject.name=p2")(event)
    assert parse_field_selector(EVENTS, "type!=Normal,reason=BackOff,source=kubelet")(event)
    assert parse_field_selector(EVENTS, "metadata.name=e1,metadata.namespace=d")(event)


def test_events_k8s_io_uses_its_own_field_names() -> None:
    event = {
        "metadata": {"name": "e"},
        "regarding": {"kind": "Pod", "name": "p"},
        "reportingController": "kubelet",
    }
    assert parse_field_selector(EVENTS_V1, "regarding.name=p,reportingController=kubelet")(event)
    with pytest.raises(errors.ApiError) as info:
        parse_field_selector(EVENTS_V1, "involvedObject.name=p")
    assert info.value.message == "field label not supported: involvedObject.name"


def test_pod_and_secret_field_selectors() -> None:
    pods = builtin_resource("", "v1", "pods")
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert parse_field_selector(pods, "status.phase=Running,spec.nodeName=n1")(pod)
    assert parse_field_selector(pods, "spec.hostNetwork=false")(pod)
    assert parse_field_selector(pods, "spec.host=n1")(pod)
    secrets = builtin_resource("", "v1", "secrets")
    assert parse_field_selector(secrets, "type=Opaque")({"metadata": {"name": "s"}, "type": "Opaque"})


@pytest.mark.parametrize(
    ("info", "selector", "message"),
    [
        (builtin_resource("", "v1", "secrets"), "spec.x=1", "field label not supported: spec.x"),
        (
            builtin_resource("", "v1", "configmaps"),
            "data.x=1",
            '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            builtin_resource("apps", "v1", "deployments"),
            "status.replicas=1",
            '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            builtin_resource("", "v1", "namespaces"),
            "metadata.namespace=x",
            "field label not supported: metadata.namespace",
        ),
        (builtin_resource("", "v1", "secrets"), "foo", "invalid selector: 'foo'; can't understand 'foo'"),
        (
            builtin_resource("", "v1", "secrets"),
            "metadata.name=a=b",
            "invalid field selector: unescaped character in value: 61",
        ),
        (
            builtin_resource("", "v1", "secrets"),
            "metadata.name=a\\x",
            "invalid field selector: invalid escape sequence: \\x",
        ),
    ],
)
def test_field_selector_errors(info: ResourceInfo, selector: str, message: str) -> None:
    with pytest.raises(errors.ApiError) as err:
        parse_field_selector(info, selector)
    assert err.value.code == 400 and err.value.message == message


def test_escaped_values_and_empty_terms() -> None:
    secrets = builtin_resource("", "v1", "secrets")
    assert parse_field_selector(secrets, "metadata.name=a\\,b,")({"metadata": {"name": "a,b"}})
    assert parse_field_selector(secrets, "")({"metadata": {"name": "x"}})


def test_custom_resource_selectable_fields() -> None:
    plain = ResourceInfo("x.io", "v1", "W", "ws", "w", True, custom=True)
    assert field_labels(plain) == ("metadata.name", "metadata.namespace")
    selectable = ResourceInfo(
        "x.io", "v1", "W", "ws", "w", True, custom=True, selectable_fields=(".spec.color",)
    )
    assert parse_field_selector(selectable, "spec.color=red")({"spec": {"color": "red"}})
    with pytest.raises(errors.ApiError) as err:
        parse_field_selector(selectable, "spec.size=1")
    assert err.value.message == "field label not supported: spec.size"
