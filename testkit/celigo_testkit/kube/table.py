"""Server-side printing: meta.k8s.io/v1 Tables as ``kubectl get`` requests them.

Custom resources get a Name column plus the CRD's ``additionalPrinterColumns`` (or Age when there are
none), evaluated by JSONPath and rendered like apiextensions' tableconvertor. Built-ins we show get the
columns of k8s.io/kubernetes/pkg/printers/internalversion; anything else gets the default convertor's
Name and Created At. The server always produces every column (kubectl hides priority > 0 unless -o wide).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .errors import go_format_float
from .resources import ResourceInfo

__all__ = [
    "evaluate_jsonpath",
    "human_duration",
    "parse_time",
    "selector_string",
    "to_table",
]

_Obj = Mapping[str, Any]

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may"
    " allow a client to request the generation of an appropriate name automatically. Name is primarily intended"
    " for creation idempotence and configuration definition. Cannot be updated. More info:"
    " https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not"
    " guaranteed to be set in happens-before order across separate operations. Clients may not set this value."
    " It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists."
    " More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def to_table(
    info: ResourceInfo,
    objects: Sequence[_Obj],
    *,
    wide: bool = True,
    list_meta: Mapping[str, Any] | None = None,
    include_object: str = "Metadata",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build the Table a real server answers for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.

    ``wide=False`` drops priority > 0 columns (a real server never does; kubectl filters them itself).
    ``include_object`` is the request's ``includeObject``: ``None``, ``Metadata`` (default, a
    PartialObjectMetadata per row) or ``Object``. ``now`` pins the clock for Age cells.
    """
    now = now or datetime.now(UTC)
    if info.custom:
        columns, cells_of = _custom_columns(info, now)
    else:
        printer = _PRINTERS.get((info.group, info.plural))
        columns, cells_of = printer(now) if printer else _default_columns(now)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": cells_of(obj)}
        if include_object == "Object":
            row["object"] = dict(obj)
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": dict(obj.get("metadata") or {}),
            }
        rows.append(row)
    if not wide:
        keep = [i for i, c in enumerate(columns) if not c.get("priority")]
        columns = [columns[i] for i in keep]
        for row in rows:
            row["cells"] = [row["cells"][i] for i in keep]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta or {}),
        "columnDefinitions": columns,
        "rows": rows,
    }


# --- time --------------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An RFC3339 (or MicroTime) timestamp; None for missing or unparsable values."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", text)
    if m:
        text = f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}{m.group(3)}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def human_duration(seconds_total: float) -> str:
    """duration.HumanDuration, e.g. ``45s``, ``5m3s``, ``3h10m``, ``4d2h``, ``2y30d``."""
    seconds = int(seconds_total)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: ``<unknown>`` for a zero/missing timestamp."""
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration((now - ts).total_seconds())


def _rfc3339(value: Any) -> str:
    ts = parse_time(value)
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- JSONPath ----------------------------------------------------------------------------------------

_FILTER = re.compile(
    r"^\?\(@\.([\w.\-/\\]+)\s*(==|!=)\s*(?:\"([^\"]*)\"|'([^']*)'|(-?\d+(?:\.\d+)?|true|false))\)$"
)


def _split_jsonpath(path: str) -> list[str]:
    """Split ``.a.b[0]['c.d'][?(@.x=="y")]`` into segments; ``\\.`` escapes a dot inside a key."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    segments: list[str] = []
    i, cur = 0, ""
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += text[i + 1]
            i += 2
            continue
        if ch == ".":
            if cur:
                segments.append(cur)
            cur = ""
            i += 1
            continue
        if ch == "[":
            if cur:
                segments.append(cur)
                cur = ""
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            segments.append(text[i : j + 1])
            i = j + 1
            continue
        cur += ch
        i += 1
    if cur:
        segments.append(cur)
    return [s for s in segments if s not in ("$", "@")]


def evaluate_jsonpath(obj: Any, path: str) -> list[Any]:
    """All values the (simple) JSONPath selects; printer columns use the first one."""
    current = [obj]
    for seg in _split_jsonpath(path):
        nxt: list[Any] = []
        if seg.startswith("[") and seg.endswith("]"):
            inner = seg[1:-1].strip()
            for value in current:
                nxt.extend(_apply_bracket(value, inner))
        else:
            for value in current:
                if isinstance(value, Mapping) and seg in value:
                    nxt.append(value[seg])
        current = nxt
    return current


def _apply_bracket(value: Any, inner: str) -> list[Any]:
    if inner == "*":
        if isinstance(value, list):
            return list(value)
        if isinstance(value, Mapping):
            return [value[k] for k in sorted(value)]
        return []
    if (inner.startswith("'") and inner.endswith("'")) or (inner.startswith('"') and inner.endswith('"')):
        key = inner[1:-1]
        return [value[key]] if isinstance(value, Mapping) and key in value else []
    m = _FILTER.match(inner)
    if m:
        if not isinstance(value, list):
            return []
        field_path, op = m.group(1), m.group(2)
        if m.group(3) is not None:
            want: Any = m.group(3)
        elif m.group(4) is not None:
            want = m.group(4)
        else:
            want = json.loads(m.group(5))
        out = []
        for item in value:
            got = evaluate_jsonpath(item, "." + field_path)
            hit = bool(got) and got[0] == want
            if (op == "==" and hit) or (op == "!=" and got and not hit):
                out.append(item)
        return out
    if re.fullmatch(r"-?\d+", inner) and isinstance(value, list):
        idx = int(inner)
        if -len(value) <= idx < len(value):
            return [value[idx]]
        return []
    if ":" in inner and isinstance(value, list):
        parts = inner.split(":")
        try:
            start = int(parts[0]) if parts[0] else None
            stop = int(parts[1]) if len(parts) > 1 and parts[1] else None
        except ValueError:
            return []
        return list(value[start:stop])
    return []


def _go_print(value: Any) -> str:
    """fmt.Fprint of a decoded JSON value (what jsonpath's PrintResults writes for string columns)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_format_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_go_print(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_print(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _cell_for_json_value(col_type: str, value: Any, now: datetime) -> Any:
    """tableconvertor.cellForJSONValue: typed cells, None when the value does not fit the type."""
    if value is None:
        return None
    if col_type == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
    elif col_type == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, (int, float)):
            return float(value)
    elif col_type == "boolean":
        if isinstance(value, bool):
            return value
    elif col_type == "string":
        if isinstance(value, str):
            return value
    elif col_type == "date":
        if isinstance(value, str):
            ts = parse_time(value)
            if ts is None:
                return "<invalid>"
            return human_duration((now - ts).total_seconds())
    return None


# --- custom resources and the default convertor -------------------------------------------------------

_Columns = tuple[list[dict[str, Any]], Callable[[_Obj], list[Any]]]


def _col(name: str, type_: str, description: str, *, fmt: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


def _name_col() -> dict[str, Any]:
    return _col("Name", "string", NAME_DESCRIPTION, fmt="name")


def _custom_columns(info: ResourceInfo, now: datetime) -> _Columns:
    printer_columns = list(info.printer_columns) or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": CREATION_DESCRIPTION,
        }
    ]
    columns = [_name_col()]
    for pc in printer_columns:
        desc = (
            pc.get("description")
            or f"Custom resource definition column (in JSONPath format): {pc.get('jsonPath', '')}"
        )
        columns.append(
            _col(
                pc.get("name", ""),
                pc.get("type", "string"),
                desc,
                fmt=pc.get("format", ""),
                priority=int(pc.get("priority", 0) or 0),
            )
        )

    def cells(obj: _Obj) -> list[Any]:
        out: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for pc in printer_columns:
            results = evaluate_jsonpath(obj, pc.get("jsonPath", ""))
            if not results:
                out.append(None)
                continue
            value = results[0]
            if pc.get("type", "string") == "string":
                out.append(_go_print(value))
            else:
                out.append(_cell_for_json_value(pc.get("type", ""), value, now))
        return out

    return columns, cells


def _default_columns(now: datetime) -> _Columns:
    columns = [_name_col(), _col("Created At", "date", CREATION_DESCRIPTION)]

    def cells(obj: _Obj) -> list[Any]:
        meta = obj.get("metadata") or {}
        return [meta.get("name", ""), _rfc3339(meta.get("creationTimestamp"))]

    return columns, cells


# --- built-in printers ----------------------------------------------------------------------------


def _meta(obj: _Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _age(obj: _Obj, now: datetime) -> str:
    return _since(_meta(obj).get("creationTimestamp"), now)


def _age_col() -> dict[str, Any]:
    return _col("Age", "string", CREATION_DESCRIPTION)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key, ``k=v``, ``k in (a,b)``."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        reqs.append((key, f"{key}={value}"))
    for expr in selector.get("matchExpressions") or ():
        key = expr.get("key", "")
        op = expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        if op == "In":
            reqs.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def _containers(spec: Mapping[str, Any]) -> tuple[str, str]:
    cs = [c for c in (spec.get("containers") or []) if isinstance(c, Mapping)]
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _pod_printer(now: datetime) -> _Columns:
    columns = [
        _name_col(),
        _col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
        _col("Status", "string", "The aggregate status of the containers in this pod."),
        _col(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        _age_col(),
        _col(
            "IP",
            "string",
            "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            priority=1,
        ),
        _col(
            "Node", "string", "NodeName is a request to schedule this pod onto a specific node.", priority=1
        ),
        _col(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
            priority=1,
        ),
        _col(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness.",
            priority=1,
        ),
    ]

    def cells(obj: _Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        meta = _meta(obj)
        total = len(spec.get("containers") or [])
        ready = 0
        restarts = 0
        reason = status.get("reason") or status.get("phase") or ""
        last_restart: datetime | None = None
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            terminated_last = (cs.get("lastState") or {}).get("terminated")
            if isinstance(terminated_last, Mapping):
                finished = parse_time(terminated_last.get("finishedAt"))
                if finished and (last_restart is None or finished > last_restart):
                    last_restart = finished
            state = cs.get("state") or {}
            waiting, terminated, running = state.get("waiting"), state.get("terminated"), state.get("running")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = waiting["reason"]
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = terminated["reason"]
            elif isinstance(terminated, Mapping):
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{terminated.get('exitCode', 0)}"
            elif cs.get("ready") and running is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if ready_cond else "NotReady"
        if meta.get("deletionTimestamp"):
            if status.get("reason") == "NodeLost":
                reason = "Unknown"
            elif status.get("phase") not in ("Succeeded", "Failed"):
                reason = "Terminating"
        restarts_text = str(restarts)
        if restarts and last_restart is not None:
            restarts_text = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
        pod_ips = status.get("podIPs") or []
        ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or "<none>"
        gates = spec.get("readinessGates") or []
        gates_text = "<none>"
        if gates:
            conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            true_count = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
            gates_text = f"{true_count}/{len(gates)}"
        return [
            meta.get("name", ""),
            f"{ready}/{total}",
            reason,
            restarts_text,
            _age(obj, now),
            ip,
            spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>",
            gates_text,
        ]

    return columns, cells


def _deployment_printer(now: datetime) -> _Columns:
    columns = [
        _name_col(),
        _col("Ready", "string", "Number of the pod with ready state"),
        _col(
            "Up-to-date",
            "string",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        _col(
            "Available",
            "string",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        _age_col(),
        _col("Containers", "string", "Names of each container in the template.", priority=1),
        _col("Images", "string", "Images referenced by each container in the template.", priority=1),
        _col(
            "Selector",
            "string",
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            priority=1,
        ),
    ]

    def cells(obj: _Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        names, images = _containers((spec.get("template") or {}).get("spec") or {})
        desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
        return [
            _meta(obj).get("name", ""),
            f"{int(status.get('readyReplicas') or 0)}/{int(desired)}",
            int(status.get("updatedReplicas") or 0),
            int(status.get("availableReplicas") or 0),
            _age(obj, now),
            names,
            images,
            selector_string(spec.get("selector")),
        ]

    return columns, cells


def _replicaset_printer(now: datetime) -> _Columns:
    columns = [
        _name_col(),
        _col("Desired", "integer", "Replicas is the number of desired pods."),
        _col("Current", "integer", "Replicas is the most recently observed number of replicas."),
        _col("Ready", "integer", "The number of ready replicas for this replica set."),
        _age_col(),
        _col("Containers", "string", "Names of each container in the template.", priority=1),
        _col("Images", "string", "Images referenced by each container in the template.", priority=1),
        _col(
            "Selector",
            "string",
            "Selector is a label query over pods that should match the replica count.",
            priority=1,
        ),
    ]

    def cells(obj: _Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        names, images = _containers((spec.get("template") or {}).get("spec") or {})
        return [
            _meta(obj).get("name", ""),
            int(spec["replicas"]) if spec.get("replicas") is not None else 1,
            int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0),
            _age(obj, now),
            names,
            images,
            selector_string(spec.get("selector")),
        ]

    return columns, cells


def _simple(
    extra: list[dict[str, Any]], values: Callable[[_Obj], list[Any]]
) -> Callable[[datetime], _Columns]:
    """Name, <extra...>, Age — the shape of most printers."""

    def printer(now: datetime) -> _Columns:
        columns = [_name_col(), *extra, _age_col()]

        def cells(obj: _Obj) -> list[Any]:
            return [_meta(obj).get("name", ""), *values(obj), _age(obj, now)]

        return columns, cells

    return printer


def _event_printer(now: datetime) -> _Columns:
    columns = [
        _col(
            "Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."
        ),
        _col(
            "Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"
        ),
        _col(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        _col("Object", "string", "The object that this event is about."),
        _col(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
            priority=1,
        ),
        _col(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            priority=1,
        ),
        _col("Message", "string", "A human-readable description of the status of this operation."),
        _col(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            priority=1,
        ),
        _col("Count", "string", "The number of times this event has occurred.", priority=1),
        _col("Name", "string", NAME_DESCRIPTION, fmt="name", priority=1),
    ]

    def cells(obj: _Obj) -> list[Any]:
        # events.k8s.io/v1 carries regarding/note/deprecated* where core/v1 has involvedObject/message/...
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        message = obj.get("message") if "message" in obj else obj.get("note", "")
        first = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
        last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
        count = obj.get("count") if obj.get("count") is not None else obj.get("deprecatedCount")
        first_text = _since(first, now) if parse_time(first) else _since(obj.get("eventTime"), now)
        last_text = _since(last, now) if parse_time(last) else first_text
        series = obj.get("series")
        if isinstance(series, Mapping):
            last_text = _since(series.get("lastObservedTime"), now)
            count = series.get("count")
        elif not count:
            count = 1
        kind = str(involved.get("kind", "")).lower()
        target = f"{kind}/{involved['name']}" if involved.get("name") else kind
        source = obj.get("source") or obj.get("deprecatedSource") or {}
        if source.get("component"):
            source_text = source["component"] + (f", {source['host']}" if source.get("host") else "")
        elif obj.get("reportingController") or obj.get("reportingComponent"):
            controller = str(obj.get("reportingController") or obj.get("reportingComponent"))
            instance = obj.get("reportingInstance")
            source_text = controller + (f", {instance}" if instance else "")
        else:
            source_text = ""
        return [
            last_text,
            obj.get("type", ""),
            obj.get("reason", ""),
            target,
            involved.get("fieldPath", ""),
            source_text,
            str(message or "").strip(),
            first_text,
            int(count or 0),
            _meta(obj).get("name", ""),
        ]

    return columns, cells


def _service_printer(now: datetime) -> _Columns:
    columns = [
        _name_col(),
        _col("Type", "string", "type determines how the Service is exposed."),
        _col(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly.",
        ),
        _col(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
        ),
        _col("Port(s)", "string", "The list of ports that are exposed by this service."),
        _age_col(),
        _col(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector.",
            priority=1,
        ),
    ]

    def cells(obj: _Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        svc_type = spec.get("type", "")
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        internal = ips[0] if ips else "<none>"
        external_ips = spec.get("externalIPs") or []
        if svc_type == "ExternalName":
            external = spec.get("externalName", "")
        elif svc_type == "LoadBalancer":
            ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            lb = [i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")]
            lb_all = lb + list(external_ips)
            external = ",".join(lb_all) if lb_all else "<pending>"
        else:
            external = ",".join(external_ips) if external_ips else "<none>"
        ports = []
        for p in spec.get("ports") or []:
            text = f"{p.get('port')}"
            if p.get("nodePort"):
                text += f":{p['nodePort']}"
            ports.append(f"{text}/{p.get('protocol', 'TCP')}")
        selector = spec.get("selector") or {}
        selector_text = ",".join(f"{k}={selector[k]}" for k in sorted(selector)) or "<none>"
        return [
            _meta(obj).get("name", ""),
            svc_type,
            internal,
            external,
            ",".join(ports) or "<none>",
            _age(obj, now),
            selector_text,
        ]

    return columns, cells


def _binding_printer(kind: str) -> Callable[[datetime], _Columns]:
    """RoleBinding / ClusterRoleBinding columns (their descriptions name the kind)."""

    def printer(now: datetime) -> _Columns:
        return _binding_columns(kind, now)

    return printer


def _binding_columns(kind: str, now: datetime) -> _Columns:
    columns = [
        _name_col(),
        _col(
            "Role",
            "string",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
        ),
        _age_col(),
        _col("Users", "string", f"Users in the {kind}", priority=1),
        _col("Groups", "string", f"Groups in the {kind}", priority=1),
        _col("ServiceAccounts", "string", f"ServiceAccounts in the {kind}", priority=1),
    ]

    def cells(obj: _Obj) -> list[Any]:
        ref = obj.get("roleRef") or {}
        users, groups, sas = [], [], []
        for s in obj.get("subjects") or []:
            if s.get("kind") == "User":
                users.append(s.get("name", ""))
            elif s.get("kind") == "Group":
                groups.append(s.get("name", ""))
            elif s.get("kind") == "ServiceAccount":
                sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        return [
            _meta(obj).get("name", ""),
            f"{ref.get('kind', '')}/{ref.get('name', '')}",
            _age(obj, now),
            ", ".join(users),
            ", ".join(groups),
            ", ".join(sas),
        ]

    return columns, cells


def _pdb_values(obj: _Obj) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        int(status.get("disruptionsAllowed") or 0),
    ]


_PRINTERS: dict[tuple[str, str], Callable[[datetime], _Columns]] = {
    ("", "pods"): _pod_printer,
    ("apps", "deployments"): _deployment_printer,
    ("apps", "replicasets"): _replicaset_printer,
    ("", "events"): _event_printer,
    ("events.k8s.io", "events"): _event_printer,
    ("", "services"): _service_printer,
    ("", "secrets"): _simple(
        [
            _col("Type", "string", "Used to facilitate programmatic handling of secret data."),
            _col("Data", "string", "Data contains the secret data."),
        ],
        lambda o: [o.get("type", ""), len(o.get("data") or {})],
    ),
    ("", "configmaps"): _simple(
        [_col("Data", "string", "Data contains the configuration data.")],
        lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})],
    ),
    ("", "namespaces"): _simple(
        [_col("Status", "string", "The status of the namespace")],
        lambda o: [(o.get("status") or {}).get("phase", "")],
    ),
    ("", "serviceaccounts"): _simple(
        [
            _col(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            )
        ],
        lambda o: [len(o.get("secrets") or [])],
    ),
    ("coordination.k8s.io", "leases"): _simple(
        [_col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease.")],
        lambda o: [(o.get("spec") or {}).get("holderIdentity", "")],
    ),
    ("policy", "poddisruptionbudgets"): _simple(
        [
            _col(
                "Min Available",
                "string",
                "The minimum number of pods that must be available.",
            ),
            _col(
                "Max Unavailable",
                "string",
                "The maximum number of pods that may be unavailable.",
            ),
            _col(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
        ],
        _pdb_values,
    ),
    ("networking.k8s.io", "networkpolicies"): _simple(
        [_col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies.")],
        lambda o: [selector_string((o.get("spec") or {}).get("podSelector")) or "<none>"],
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): _default_columns,
    ("rbac.authorization.k8s.io", "roles"): _default_columns,
    ("rbac.authorization.k8s.io", "clusterroles"): _default_columns,
    ("rbac.authorization.k8s.io", "rolebindings"): _binding_printer("roleBinding"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): _binding_printer("clusterRoleBinding"),
}
