"""Shared by the install tests: build deploy/ and the chart into objects, and a small RBAC authorizer.

The authorizer follows the Kubernetes RBAC rules for the parts our manifests use (no wildcards, no
aggregation, no nonResourceURLs): a rule grants (verb, apiGroup, resource[/subresource]) and, when it lists
resourceNames, only requests naming one of them (create never names its object, so such a rule cannot
grant create). A RoleBinding grants within its namespace only; a ClusterRoleBinding everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = ROOT / "charts" / "celigo-operator"
CRD_SOURCE = ROOT / "crds" / "celigoconnectors.yaml"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
#: The Kubernetes version every object is validated against (kubernetes-validate ships its schemas).
K8S_VERSION = "1.35.0"
SA = ("celigo-operator", "celigo-operator")  # (namespace, name) of the operator's ServiceAccount


def load_all(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def kustomize(path: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize <path>`: the objects `kubectl apply -k` would send."""
    result = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return load_all(result.stdout)


def find(objects: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        dict(o) for o in objects if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)
    ]


def the(objects: Iterable[Mapping[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@dataclass(frozen=True)
class Access:
    """One request as the RBAC authorizer sees it."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""  # "" for cluster-scoped requests (and cluster-wide lists/watches)
    name: str = ""

    def __str__(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        where = f" in {self.namespace}" if self.namespace else " cluster-wide"
        return f"{self.verb} {self.group or 'core'}/{res}{where}" + (f" name={self.name}" if self.name else "")


@dataclass(frozen=True)
class Atom:
    """The smallest unit a rule grants: one verb on one group/resource (optionally one name) in a scope."""

    binding: str
    namespace: str | None  # None: cluster-wide (ClusterRoleBinding)
    verb: str
    group: str
    resource: str  # "deployments" or "celigoconnectors/status"
    resource_name: str | None

    def grants(self, a: Access) -> bool:
        res = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        if (self.verb, self.group, self.resource) != (a.verb, a.group, res):
            return False
        if self.namespace is not None and self.namespace != a.namespace:
            return False
        return self.resource_name is None or self.resource_name == a.name

    def __str__(self) -> str:
        where = f"in {self.namespace}" if self.namespace is not None else "cluster-wide"
        name = f" name={self.resource_name}" if self.resource_name else ""
        return f"{self.binding}: {self.verb} {self.group or 'core'}/{self.resource}{name} {where}"


def wildcards(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    found = []
    for role in [*find(objects, "Role"), *find(objects, "ClusterRole")]:
        for rule in role.get("rules") or []:
            for key in ("verbs", "apiGroups", "resources", "resourceNames"):
                if "*" in (rule.get(key) or []):
                    found.append(f"{role['kind']} {role['metadata']['name']}: {key} has '*'")
            if rule.get("nonResourceURLs"):
                found.append(f"{role['kind']} {role['metadata']['name']}: nonResourceURLs")
    return found


def atoms_for(objects: Iterable[Mapping[str, Any]], sa: tuple[str, str] = SA) -> list[Atom]:
    """Every grant the ServiceAccount `sa` receives from the Roles/ClusterRoles bound to it in `objects`."""
    objects = list(objects)
    roles = {("Role", r["metadata"].get("namespace"), r["metadata"]["name"]): r for r in find(objects, "Role")}
    roles |= {("ClusterRole", None, r["metadata"]["name"]): r for r in find(objects, "ClusterRole")}
    atoms: list[Atom] = []
    for binding in [*find(objects, "RoleBinding"), *find(objects, "ClusterRoleBinding")]:
        subjects = binding.get("subjects") or []
        if not any(s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) == sa for s in subjects):
            continue
        ns = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        ref = binding["roleRef"]
        role = roles.get((ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"]))
        assert role is not None, f"{binding['kind']} {binding['metadata']['name']} refers to a missing {ref}"
        label = f"{binding['kind']}/{binding['metadata']['name']}"
        for rule in role.get("rules") or []:
            names: list[str | None] = list(rule.get("resourceNames") or []) or [None]
            for verb in rule["verbs"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        for rname in names:
                            atoms.append(Atom(label, ns, verb, group, resource, rname))
    return atoms


def rbac_gaps(accesses: Iterable[Access], atoms: list[Atom]) -> tuple[list[Access], list[Atom]]:
    """(requests no rule grants, grants no request used)."""
    accesses = set(accesses)
    denied = sorted((a for a in accesses if not any(t.grants(a) for t in atoms)), key=str)
    unused = [t for t in atoms if not any(t.grants(a) for a in accesses)]
    return denied, unused


def crd_source() -> dict[str, Any]:
    return dict(yaml.safe_load(CRD_SOURCE.read_text()))


def k8s_validate(obj: Mapping[str, Any]) -> None:
    """Validate a built-in object against the Kubernetes OpenAPI schema of K8S_VERSION (strict: no unknown
    fields). Raises kubernetes_validate's ValidationError / SchemaNotFoundError."""
    import kubernetes_validate

    kubernetes_validate.validate(dict(obj), K8S_VERSION, strict=True)


def _strict(schema: Any) -> Any:
    """The schema with unknown fields rejected where the API server would prune them: kubectl's default
    strict field validation turns those into errors."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_errors(obj: Mapping[str, Any], crd: Mapping[str, Any] | None = None) -> list[str]:
    """Errors of a CeligoConnector against the CRD's openAPIV3Schema (the served version), via jsonschema;
    unknown fields count as errors (see `_strict`)."""
    import jsonschema

    crd = crd or crd_source()
    version = next(v for v in crd["spec"]["versions"] if v["name"] == obj["apiVersion"].split("/")[1])
    schema = _strict(version["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(obj)]


def render_chart(
    values: Mapping[str, Any] | None = None, *, name: str = "celigo-operator", namespace: str = "celigo-operator"
) -> tuple[list[dict[str, Any]], str]:
    """`helm template` with real Helm (helm-python-sdk): the objects and the rendered NOTES.txt."""
    import helm_python as helm

    chart = helm.Chart.load(CHART)
    rendered = chart.render(dict(values or {}), name=name, namespace=namespace, is_install=True)
    notes = ""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            notes = text
        else:
            objects += load_all(text)
    return objects, notes


def grants(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str | None, str, str, str, str | None]]:
    """What the ServiceAccount may do, independent of how the rules are split into objects."""
    return {(a.namespace, a.verb, a.group, a.resource, a.resource_name) for a in atoms_for(objects)}
