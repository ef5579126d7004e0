"""The scheduler step of the simulated workload: which simulated node a pod fits, and if none, the
``PodScheduled=False`` reason and message kube-scheduler writes.

Filters, in kube-scheduler's order, stopping at a node's first failing plugin: TaintToleration (NoSchedule
and NoExecute taints must be tolerated), NodeAffinity (nodeSelector and required node affinity), then
NodeResourcesFit (the pod's cpu/memory requests against what is left of allocatable, and the pod count).
The message is the scheduler's FitError followed by its preemption verdict, e.g. ``0/1 nodes are
available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1
Preemption is not helpful for scheduling.`` Inter-pod (anti-)affinity, topology spread, host ports and
volumes are not simulated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .types import SimNode
from .validation import QuantityError, parse_quantity

AFFINITY = "node(s) didn't match Pod's node affinity/selector"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def quantity(value: Any) -> float:
    try:
        return float(parse_quantity(value)[0])
    except QuantityError:
        return 0.0


def pod_requests(pod: Mapping[str, Any]) -> tuple[float, float]:
    """(cpu cores, memory bytes) the pod requests: the sum over its containers, or the largest init container
    if that is more (as the scheduler counts it)."""
    spec = pod.get("spec") or {}

    def of(containers: Iterable[Any]) -> list[tuple[float, float]]:
        out = []
        for c in containers:
            req = ((c or {}).get("resources") or {}).get("requests") or {}
            out.append((quantity(req.get("cpu", 0)), quantity(req.get("memory", 0))))
        return out

    main = of(spec.get("containers") or [])
    init = of(spec.get("initContainers") or [])
    cpu = sum(c for c, _ in main)
    mem = sum(m for _, m in main)
    for c, m in init:
        cpu, mem = max(cpu, c), max(mem, m)
    return cpu, mem


def _tolerates(tolerations: Iterable[Any], taint: Mapping[str, str]) -> bool:
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        key, op = t.get("key") or "", t.get("operator") or "Equal"
        if not key and op == "Exists":
            return True
        if key != taint.get("key"):
            continue
        if op == "Exists" or (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expr_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    have = labels.get(str(key))
    if op == "In":
        return have is not None and have in values
    if op == "NotIn":
        return have is None or have not in values
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt") and have is not None and values:
        try:
            a, b = int(have), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _affinity_ok(spec: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        or {}
    ).get("nodeSelectorTerms")
    if required:
        return any(
            all(_expr_matches(e, labels) for e in (term or {}).get("matchExpressions") or [])
            and not (term or {}).get("matchFields")
            for term in required
        )
    return True


def node_failures(
    node: SimNode, pod: Mapping[str, Any], used: tuple[float, float, int]
) -> tuple[list[str], bool]:
    """Why the pod does not fit node (empty: it fits) and whether preemption could help."""
    spec = pod.get("spec") or {}
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(
            spec.get("tolerations") or [], taint
        ):
            return [
                f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"
            ], False
    if not _affinity_ok(spec, node.all_labels()):
        return [AFFINITY], False
    cpu, mem = pod_requests(pod)
    used_cpu, used_mem, used_pods = used
    reasons = []
    if used_pods + 1 > quantity(node.allocatable.get("pods", "110")):
        reasons.append("Too many pods")
    if cpu and used_cpu + cpu > quantity(node.allocatable.get("cpu", "0")):
        reasons.append("Insufficient cpu")
    if mem and used_mem + mem > quantity(node.allocatable.get("memory", "0")):
        reasons.append("Insufficient memory")
    return reasons, True


def unschedulable_message(total: int, failures: list[tuple[list[str], bool]]) -> str:
    """framework.FitError.Error() plus the PostFilter (preemption) message."""
    if total == 0:
        return "no nodes available to schedule pods"
    reasons: Counter[str] = Counter()
    preemption: Counter[str] = Counter()
    for node_reasons, resolvable in failures:
        reasons.update(node_reasons)
        preemption[NO_VICTIMS if resolvable else NOT_HELPFUL] += 1

    def histogram(counter: Counter[str]) -> str:
        return ", ".join(f"{n} {reason}" for reason, n in sorted(counter.items()))

    return (
        f"0/{total} nodes are available: {histogram(reasons)}."
        f" preemption: 0/{total} nodes are available: {histogram(preemption)}."
    )
