"""Server-side Tables: columns and cells as kube-apiserver prints them for kubectl get."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from celigo_testkit.kube.resources import ResourceInfo, builtin_resource
from celigo_testkit.kube.table import evaluate_jsonpath, human_duration, selector_string, to_table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2026-01-01T11:55:00Z"  # five minutes before NOW

CONNECTORS = ResourceInfo(
    "celigo-operator.io",
    "v1alpha1",
    "CeligoConnector",
    "celigoconnectors",
    "celigoconnector",
    True,
    custom=True,
    printer_columns=(
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "description": "Desired pods."},
        {"name": "Last Sync", "type": "date", "jsonPath": ".status.lastSyncTime"},
        {"name": "Message", "type": "string", "jsonPath": ".status.message", "priority": 1},
    ),
)


def _connector(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "celigo-operator.io/v1alpha1",
        "kind": "CeligoConnector",
        "metadata": {"name": "c1", "namespace": "d", "creationTimestamp": CREATED, "uid": "u"},
        "spec": {"replicas": 2},
        "status": {
            "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}],
            "lastSyncTime": "2026-01-01T11:59:30Z",
            **status,
        },
    }


def test_table_envelope_and_partial_object_metadata_rows() -> None:
    table = to_table(CONNECTORS, [_connector()], list_meta={"resourceVersion": "42"}, now=NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    row = table["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": "c1", "namespace": "d", "creationTimestamp": CREATED, "uid": "u"},
    }
    assert "object" not in to_table(CONNECTORS, [_connector()], include_object="None", now=NOW)["rows"][0]
    assert (
        to_table(CONNECTORS, [_connector()], include_object="Object", now=NOW)["rows"][0]["object"]["kind"]
        == "CeligoConnector"
    )


def test_custom_resource_columns_follow_additional_printer_columns() -> None:
    table = to_table(CONNECTORS, [_connector(message="all good")], now=NOW)
    names = [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]]
    assert names == [
        ("Name", "string", "name", 0),
        ("Ready", "string", "", 0),
        ("Replicas", "integer", "", 0),
        ("Last Sync", "date", "", 0),
        ("Message", "string", "", 1),
    ]
    assert table["columnDefinitions"][2]["description"] == "Desired pods."
    assert table["columnDefinitions"][1]["description"] == (
        'Custom resource definition column (in JSONPath format): .status.conditions[?(@.type=="Ready")].status'
    )
    assert table["rows"][0]["cells"] == ["c1", "True", 2, "30s", "all good"]


def test_missing_values_are_null_cells_and_narrow_view_drops_priority_columns() -> None:
    obj = _connector()
    del obj["status"]
    table = to_table(CONNECTORS, [obj], wide=False, now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Ready", "Replicas", "Last Sync"]
    assert table["rows"][0]["cells"] == ["c1", None, 2, None]


def test_custom_resource_without_printer_columns_shows_age() -> None:
    info = ResourceInfo("x.io", "v1", "W", "ws", "w", True, custom=True)
    table = to_table(info, [{"metadata": {"name": "a", "creationTimestamp": CREATED}}], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert table["columnDefinitions"][1]["description"].startswith("CreationTimestamp is a timestamp")
    assert table["rows"][0]["cells"] == ["a", "5m"]


def test_secret_deployment_and_pod_columns() -> None:
    secrets = to_table(
        builtin_resource("", "v1", "secrets"),
        [
            {
                "metadata": {"name": "s", "creationTimestamp": CREATED},
                "type": "Opaque",
                "data": {"a": "", "b": ""},
            }
        ],
        now=NOW,
    )
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets["rows"][0]["cells"] == ["s", "Opaque", 2, "5m"]

    deployment = {
        "metadata": {"name": "web", "creationTimestamp": CREATED},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]}
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    table = to_table(builtin_resource("apps", "v1", "deployments"), [deployment], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"] if not c["priority"]] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]
    assert table["rows"][0]["cells"] == ["web", "2/3", 3, 2, "5m", "a,b", "x:1,y:2", "app=web"]

    pod = {
        "metadata": {"name": "p", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "c"}], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T11:59:00Z"}},
                }
            ],
        },
    }
    pods = to_table(builtin_resource("", "v1", "pods"), [pod], now=NOW)
    assert [c["name"] for c in pods["columnDefinitions"] if not c["priority"]] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert pods["rows"][0]["cells"] == [
        "p",
        "0/1",
        "CrashLoopBackOff",
        "4 (60s ago)",
        "5m",
        "10.0.0.5",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_pod_ready_running_and_terminating() -> None:
    pods = builtin_resource("", "v1", "pods")
    pod = {
        "metadata": {"name": "p", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        },
    }
    assert to_table(pods, [pod], now=NOW)["rows"][0]["cells"][:4] == ["p", "1/1", "Running", "0"]
    pod["metadata"]["deletionTimestamp"] = CREATED
    assert to_table(pods, [pod], now=NOW)["rows"][0]["cells"][2] == "Terminating"


def test_event_columns() -> None:
    event = {
        "metadata": {"name": "p.1", "creationTimestamp": CREATED},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "reason": "BackOff",
        "type": "Warning",
        "message": " Back-off restarting failed container \n",
        "firstTimestamp": "2026-01-01T11:50:00Z",
        "lastTimestamp": "2026-01-01T11:59:00Z",
        "count": 5,
        "source": {"component": "kubelet", "host": "node-1"},
    }
    table = to_table(builtin_resource("", "v1", "events"), [event], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"] if not c["priority"]] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Message",
    ]
    assert table["rows"][0]["cells"] == [
        "60s",
        "Warning",
        "BackOff",
        "pod/p",
        "",
        "kubelet, node-1",
        "Back-off restarting failed container",
        "10m",
        5,
        "p.1",
    ]


def test_other_builtin_printers() -> None:
    ns = to_table(
        builtin_resource("", "v1", "namespaces"),
        [{"metadata": {"name": "d", "creationTimestamp": CREATED}, "status": {"phase": "Active"}}],
        now=NOW,
    )
    assert ns["rows"][0]["cells"] == ["d", "Active", "5m"]
    cm = to_table(
        builtin_resource("", "v1", "configmaps"),
        [{"metadata": {"name": "c", "creationTimestamp": CREATED}, "data": {"a": "1"}}],
        now=NOW,
    )
    assert cm["rows"][0]["cells"] == ["c", 1, "5m"]
    crd = to_table(
        builtin_resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
        [{"metadata": {"name": "ws.x.io", "creationTimestamp": "2026-01-01T11:55:00.123456Z"}}],
        now=NOW,
    )
    assert [c["name"] for c in crd["columnDefinitions"]] == ["Name", "Created At"]
    assert crd["rows"][0]["cells"] == ["ws.x.io", "2026-01-01T11:55:00Z"]
    binding = to_table(
        builtin_resource("rbac.authorization.k8s.io", "v1", "rolebindings"),
        [
            {
                "metadata": {"name": "b", "creationTimestamp": CREATED},
                "roleRef": {"kind": "Role", "name": "r"},
                "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "d"}],
            }
        ],
        now=NOW,
    )
    assert binding["rows"][0]["cells"] == ["b", "Role/r", "5m", "", "", "d/sa"]
    svc = to_table(
        builtin_resource("", "v1", "services"),
        [
            {
                "metadata": {"name": "api", "creationTimestamp": CREATED},
                "spec": {
                    "type": "ClusterIP",
                    "clusterIPs": ["10.96.0.10"],
                    "ports": [{"port": 80, "protocol": "TCP"}],
                    "selector": {"app": "x"},
                },
            }
        ],
        now=NOW,
    )
    assert svc["rows"][0]["cells"] == ["api", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5m", "app=x"]
    lease = to_table(
        builtin_resource("coordination.k8s.io", "v1", "leases"),
        [{"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}],
        now=NOW,
    )
    assert lease["rows"][0]["cells"] == ["l", "me", "<unknown>"]


def test_resources_without_a_printer_get_name_and_created_at() -> None:
    info = ResourceInfo("x.k8s.io", "v1", "Thing", "things", "thing", True)
    table = to_table(info, [{"metadata": {"name": "t", "creationTimestamp": CREATED}}], now=NOW)
    assert [(c["name"], c["type"]) for c in table["columnDefinitions"]] == [
        ("Name", "string"),
        ("Created At", "date"),
    ]
    assert table["rows"][0]["cells"] == ["t", CREATED]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (303, "5m3s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600 + 600, "3h10m"),
        (8 * 3600, "8h"),
        (50 * 3600, "2d2h"),
        (10 * 86400, "10d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.replicas", [2]),
        ("{.spec.replicas}", [2]),
        (".status.conditions[1].type", ["Ready"]),
        (".status.conditions[-1].type", ["Ready"]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Synced')].status", ["False"]),
        (".status.conditions[*].type", ["Synced", "Ready"]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["x"]),
        (".metadata.labels['app.kubernetes.io/name']", ["x"]),
        (".spec.missing", []),
    ],
)
def test_jsonpath(path: str, expected: list[Any]) -> None:
    obj = _connector()
    obj["metadata"]["labels"] = {"app.kubernetes.io/name": "x"}
    assert evaluate_jsonpath(obj, path) == expected


def test_selector_string() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["y", "x"]},
            {"key": "d", "operator": "DoesNotExist"},
        ],
    }
    assert selector_string(selector) == "a=1,b=2,c in (x,y),!d"
    assert selector_string({}) == ""
